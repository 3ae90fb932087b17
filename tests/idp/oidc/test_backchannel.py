"""Back-Channel Logout 1.0 §2.5/§2.8 delivery against real loopback receivers: one that records
the POST, one that answers 500, one that redirects, one that never answers, one that answers a
byte at a time, a closed port, and TLS receivers (untrusted and trusted). Timeouts are measured."""

from __future__ import annotations

import datetime as dt
import http.server
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import jwt as pyjwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp.keys import KeySet
from idp.oidc.backchannel import HttpTransport, send_logout_tokens
from idp.oidc.clients import Client, ClientRegistry
from idp.oidc.errors import DeliveryFailure
from idp.oidc.keys import OidcKeys, keys_from_signing_keys
from idp.oidc.logout_channels import (
    BackchannelLogout,
    BackchannelSettings,
    OidcParticipant,
    plan_oidc_logout,
)
from tests.conftest import KeyMaker

ISSUER = "https://idp.example.com"
FAST = BackchannelSettings(connect_timeout=0.5, read_timeout=0.5, concurrency=8)


@pytest.fixture(scope="module")
def keys(test_keys: KeyMaker) -> OidcKeys:
    return keys_from_signing_keys(KeySet(test_keys("backchannel-rsa")), None)


# -- receivers --------------------------------------------------------------------------------


@dataclass
class Received:
    method: str
    path: str
    content_type: str
    body: bytes


@dataclass
class Receiver:
    """A real HTTP server on 127.0.0.1 that records each request and answers ``status``."""

    status: int = 200
    location: str | None = None
    requests: list[Received] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        scheme = "https" if isinstance(self.server.socket, ssl.SSLSocket) else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}/oidc/backchannel?rp=1"


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for receiver in started:
        assert receiver.server is not None
        receiver.server.shutdown()
        receiver.server.server_close()


def start(receivers: list[Receiver], status: int = 200, *, location: str | None = None,
          tls: ssl.SSLContext | None = None) -> Receiver:  # fmt: skip
    receiver = Receiver(status=status, location=location)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            receiver.requests.append(Received(
                "POST", self.path, self.headers.get("Content-Type", ""), self.rfile.read(length)
            ))  # fmt: skip
            self.send_response(receiver.status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep the test output clean

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    receiver.server = server
    threading.Thread(target=server.serve_forever, daemon=True).start()
    receivers.append(receiver)
    return receiver


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def dripping_port() -> Iterator[int]:
    """Starts an answer, then sends one header byte every 50 ms, for ever."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.wait(0.05):
                try:
                    conn.sendall(b"a")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(timeout=2)


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    ca_file: Path


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    """A self-signed certificate for 127.0.0.1 (trusted only by whoever is given it)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return Tls(context, folder / "cert.pem")


# -- helpers ----------------------------------------------------------------------------------


def client_for(client_id: str, uri: str) -> Client:
    return Client(client_id=client_id, name=f"App {client_id}",
                  redirect_uris=("https://rp.example/cb",), backchannel_logout_uri=uri,
                  backchannel_logout_session_required=True)  # fmt: skip


def plan_for(keys: OidcKeys, targets: dict[str, str]) -> tuple[BackchannelLogout, ...]:
    """The Logout Tokens the core plans for one session that used every client in ``targets``."""
    registry = ClientRegistry({cid: client_for(cid, uri) for cid, uri in targets.items()})
    participants = [
        OidcParticipant.for_session(client_id=cid, session_id="session-" + "k" * 35).encode()
        for cid in targets
    ]
    plan = plan_oidc_logout(participants=participants, registry=registry, issuer=ISSUER,
                            keys=keys, employee_id="emp-1", pairwise_salt="salt",
                            now=dt.datetime.now(dt.UTC))  # fmt: skip
    return plan.backchannel


# -- tests ------------------------------------------------------------------------------------


def test_logout_token_is_posted_as_a_form_and_verifies_at_the_receiver(
    receivers: list[Receiver], keys: OidcKeys
) -> None:
    ok, empty = start(receivers, 200), start(receivers, 204)
    logouts = plan_for(keys, {"rp-ok": ok.url, "rp-empty": empty.url})
    results = send_logout_tokens(logouts=logouts, settings=FAST)
    assert [(r.client_id, r.summary(), r.status) for r in results] == [
        ("rp-ok", "delivered", 200), ("rp-empty", "delivered", 204),
    ]  # fmt: skip
    assert results[0].client_name == "App rp-ok" and results[0].failure is None
    (request,) = ok.requests
    assert request.method == "POST" and request.path == "/oidc/backchannel?rp=1"
    assert request.content_type == "application/x-www-form-urlencoded"
    form = parse_qs(request.body.decode("ascii"), strict_parsing=True)
    assert list(form) == ["logout_token"] and len(form["logout_token"]) == 1
    token = form["logout_token"][0]
    jwks = pyjwt.PyJWKSet.from_dict(keys.jwks())
    claims = pyjwt.decode(token, key=jwks.keys[0].key, algorithms=["RS256"], audience="rp-ok",
                          issuer=ISSUER)  # fmt: skip
    assert pyjwt.get_unverified_header(token)["typ"] == "logout+jwt"
    assert claims["sub"] == "emp-1" and claims["sid"] and "nonce" not in claims


def test_an_error_status_is_a_failure_and_a_redirect_is_not_followed(
    receivers: list[Receiver], keys: OidcKeys
) -> None:
    broken = start(receivers, 500)
    elsewhere = start(receivers, 200)
    redirecting = start(receivers, 302, location=elsewhere.url)
    results = send_logout_tokens(
        logouts=plan_for(keys, {"rp-500": broken.url, "rp-302": redirecting.url}), settings=FAST
    )
    assert [(r.summary(), r.failure, r.status) for r in results] == [
        ("failed: HTTP 500", DeliveryFailure.HTTP_STATUS, 500),
        ("failed: HTTP 302 (redirects are not followed)", DeliveryFailure.HTTP_STATUS, 302),
    ]
    assert len(broken.requests) == 1 and len(redirecting.requests) == 1
    assert elsewhere.requests == [], "the token went to the registered URI only"


def test_a_silent_receiver_times_out_within_the_read_timeout(
    silent_port: int, keys: OidcKeys
) -> None:
    started = time.monotonic()
    (result,) = send_logout_tokens(
        logouts=plan_for(keys, {"rp-silent": f"http://127.0.0.1:{silent_port}/bc"}),
        settings=FAST,
    )
    elapsed = time.monotonic() - started
    assert result.failure is DeliveryFailure.TIMEOUT
    assert result.summary() == "failed: no answer within 0.5 s"
    assert 0.45 <= elapsed < 1.5, f"took {elapsed:.2f} s for a 0.5 s read timeout"


def test_a_receiver_answering_byte_by_byte_is_cut_off_at_the_read_timeout(
    dripping_port: int, keys: OidcKeys
) -> None:
    """Each byte arrives well within the socket timeout; the deadline bounds the whole wait."""
    started = time.monotonic()
    (result,) = send_logout_tokens(
        logouts=plan_for(keys, {"rp-drip": f"http://127.0.0.1:{dripping_port}/bc"}),
        settings=FAST,
    )
    elapsed = time.monotonic() - started
    assert result.failure is DeliveryFailure.TIMEOUT, result.summary()
    assert 0.45 <= elapsed < 1.5, f"took {elapsed:.2f} s for a 0.5 s read timeout"


def test_a_refused_connection_is_reported(closed_port: int, keys: OidcKeys) -> None:
    (result,) = send_logout_tokens(
        logouts=plan_for(keys, {"rp-down": f"http://127.0.0.1:{closed_port}/bc"}), settings=FAST
    )
    assert (result.delivered, result.failure) == (False, DeliveryFailure.REFUSED)
    assert result.summary() == "failed: connection refused" and result.status is None


def test_an_untrusted_certificate_is_a_tls_failure(
    receivers: list[Receiver], tls: Tls, keys: OidcKeys
) -> None:
    receiver = start(receivers, 200, tls=tls.server)
    (result,) = send_logout_tokens(logouts=plan_for(keys, {"rp-tls": receiver.url}),
                                   settings=FAST)  # fmt: skip
    assert result.failure is DeliveryFailure.TLS
    assert result.summary().startswith("failed: TLS: ") and "CERTIFICATE" in result.summary()
    assert receiver.requests == [], "nothing is sent before the peer is verified"


def test_https_delivery_with_a_trusted_certificate(
    receivers: list[Receiver], tls: Tls, keys: OidcKeys
) -> None:
    receiver = start(receivers, 200, tls=tls.server)
    trusted = ssl.create_default_context(cafile=str(tls.ca_file))
    (result,) = send_logout_tokens(logouts=plan_for(keys, {"rp-tls": receiver.url}),
                                   settings=FAST, transport=HttpTransport(trusted))  # fmt: skip
    assert result.summary() == "delivered"
    assert receiver.requests[0].content_type == "application/x-www-form-urlencoded"


def test_a_tls_handshake_that_never_completes_is_a_connect_timeout(
    silent_port: int, keys: OidcKeys
) -> None:
    started = time.monotonic()
    (result,) = send_logout_tokens(
        logouts=plan_for(keys, {"rp-hang": f"https://127.0.0.1:{silent_port}/bc"}),
        settings=BackchannelSettings(connect_timeout=0.3, read_timeout=5.0),
    )
    elapsed = time.monotonic() - started
    assert result.failure is DeliveryFailure.TIMEOUT
    assert result.summary() == "failed: no connection within 0.3 s"
    assert 0.25 <= elapsed < 1.3, f"took {elapsed:.2f} s for a 0.3 s connect timeout"


def test_clients_are_told_concurrently_and_one_failure_spoils_nothing(
    receivers: list[Receiver], silent_port: int, closed_port: int, keys: OidcKeys
) -> None:
    good, broken = start(receivers, 200), start(receivers, 500)
    targets = {f"rp-silent-{n}": f"http://127.0.0.1:{silent_port}/bc{n}" for n in range(4)}
    targets |= {"rp-good": good.url, "rp-500": broken.url,
                "rp-down": f"http://127.0.0.1:{closed_port}/bc"}  # fmt: skip
    started = time.monotonic()
    results = send_logout_tokens(logouts=plan_for(keys, targets), settings=FAST)
    elapsed = time.monotonic() - started
    assert [r.client_id for r in results] == list(targets), "results keep the plan's order"
    by_client = {r.client_id: r for r in results}
    assert by_client["rp-good"].delivered and len(good.requests) == 1
    assert by_client["rp-500"].failure is DeliveryFailure.HTTP_STATUS
    assert by_client["rp-down"].failure is DeliveryFailure.REFUSED
    assert all(by_client[f"rp-silent-{n}"].failure is DeliveryFailure.TIMEOUT for n in range(4))
    # Four silent clients one after another would take 2 s; side by side, one read timeout.
    assert elapsed < 1.5, f"took {elapsed:.2f} s"


def test_concurrency_one_tells_clients_in_turn(silent_port: int, keys: OidcKeys) -> None:
    targets = {f"rp-{n}": f"http://127.0.0.1:{silent_port}/bc" for n in range(3)}
    started = time.monotonic()
    results = send_logout_tokens(
        logouts=plan_for(keys, targets),
        settings=BackchannelSettings(connect_timeout=0.3, read_timeout=0.3, concurrency=1),
    )
    elapsed = time.monotonic() - started
    assert all(r.failure is DeliveryFailure.TIMEOUT for r in results)
    assert 0.85 <= elapsed < 2.5, f"took {elapsed:.2f} s for three 0.3 s waits in turn"


def test_nothing_to_send_sends_nothing(keys: OidcKeys) -> None:
    assert send_logout_tokens(logouts=(), settings=FAST) == ()


def test_a_replacement_transport_gets_the_form_and_its_errors_are_reported(
    keys: OidcKeys,
) -> None:
    """The seam the logout plan and the SATOSA plugins use: any callable with this shape."""
    seen: list[tuple[str, bytes, float, float]] = []

    def transport(*, url: str, body: bytes, connect_timeout: float, read_timeout: float) -> int:
        seen.append((url, body, connect_timeout, read_timeout))
        if "down" in url:
            raise ConnectionResetError(104, "Connection reset by peer")
        return 204

    logouts = plan_for(
        keys, {"rp-up": "https://up.example/bc", "rp-down": "https://down.example/bc"}
    )
    results = send_logout_tokens(logouts=logouts, settings=FAST, transport=transport)
    assert [r.summary() for r in results] == ["delivered", "failed: Connection reset by peer"]
    assert results[1].failure is DeliveryFailure.NETWORK
    assert {s[0] for s in seen} == {"https://up.example/bc", "https://down.example/bc"}
    assert all(s[1].startswith(b"logout_token=ey") and s[2:] == (0.5, 0.5) for s in seen)


@pytest.mark.parametrize("uri", ["ftp://127.0.0.1/bc", "http://127.0.0.1:notaport/bc", "bc"])
def test_the_http_transport_refuses_what_is_not_an_http_url(uri: str, keys: OidcKeys) -> None:
    logout = BackchannelLogout("rp", "RP", uri, "token")
    (result,) = send_logout_tokens(logouts=[logout], settings=FAST)
    assert result.failure is DeliveryFailure.NETWORK and not result.delivered

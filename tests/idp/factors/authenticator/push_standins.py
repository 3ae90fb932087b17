"""Stand-ins for Firebase Cloud Messaging HTTP v1 and APNs on loopback — NOT the real
services (those cannot be reached from here). Each answers as its documentation says and
checks the request shape it documents:

- FCM: the OAuth 2.0 token endpoint (RFC 7523 JWT bearer grant, RS256 assertion signed by the
  service account's key, ``aud`` = token URI, the ``firebase.messaging`` scope) and
  ``POST /v1/projects/{project}/messages:send`` (``Bearer`` token, a ``message`` with
  ``token``, string-only ``data`` and ``android.priority``/``ttl``); errors as
  ``google.firebase.fcm.v1.FcmError`` bodies (UNREGISTERED 404, QUOTA_EXCEEDED 429 with
  ``Retry-After``, UNAVAILABLE 503).
- APNs: HTTP/2 over TLS (ALPN ``h2``) ``POST /3/device/<token>``, ``authorization: bearer``
  an ES256 JWT with ``kid`` and ``iss`` (team id), ``apns-topic``, ``apns-push-type``,
  ``apns-expiration``; errors ``{"reason": …}`` (410 Unregistered, 400 BadDeviceToken,
  429 TooManyRequests, 500 InternalServerError).

``answer`` picks the next outcome; ``seen`` records the checked requests; clearing ``release``
holds every answer until it is set again (a slow service), for at most ``HOLD_LIMIT`` seconds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import h2.config
import h2.connection
import h2.events
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

FCM_ERRORS = {
    "unregistered": (404, "NOT_FOUND", "UNREGISTERED"),
    "quota": (429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    "unavailable": (503, "UNAVAILABLE", "UNAVAILABLE"),
    "invalid": (400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
}
APNS_ERRORS = {
    "unregistered": (410, "Unregistered"),
    "bad_token": (400, "BadDeviceToken"),
    "too_many": (429, "TooManyRequests"),
    "internal": (500, "InternalServerError"),
}


def tls_files(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost / 127.0.0.1 (the stand-ins' CA too)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "standin.crt", directory / "standin.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def _context(cert: Path, key: Path, alpn: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(alpn)
    return context


HOLD_LIMIT = 20.0


def _released() -> threading.Event:
    event = threading.Event()
    event.set()
    return event


@dataclass
class Standin:
    url: str
    answers: list[str] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=_released)
    #: seconds each send takes to answer (a benchmark's stand-in for the service's round trip)
    latency: float = 0.0

    def next_answer(self) -> str:
        return self.answers.pop(0) if self.answers else "ok"


# -- FCM --------------------------------------------------------------------------------------


@dataclass
class FcmStandin(Standin):
    private_key_pem: str = ""
    client_email: str = "push@project-x.iam.gserviceaccount.com"
    project_id: str = "project-x"
    issued: list[str] = field(default_factory=list)

    def service_account(self) -> str:
        return json.dumps({"type": "service_account", "project_id": self.project_id,
                           "client_email": self.client_email,
                           "private_key": self.private_key_pem,
                           "token_uri": self.url + "/token"})  # fmt: skip


@contextmanager
def fcm_standin(directory: Path) -> Iterator[FcmStandin]:
    cert, key = tls_files(directory)
    account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = account_key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()  # fmt: skip
    state = FcmStandin(url="", private_key_pem=pem)
    public = RSAKey.import_key(
        account_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
                   ) -> None:  # fmt: skip
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.path == "/token":
                form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
                claims = jwt.decode(form["assertion"], public, algorithms=["RS256"]).claims
                assert claims["aud"] == state.url + "/token"
                assert claims["iss"] == state.client_email
                assert claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
                assert claims["exp"] - claims["iat"] <= 3600
                token = f"ya29.standin-{len(state.issued)}"
                state.issued.append(token)
                self._reply(200, {"access_token": token, "expires_in": 3599,
                                  "token_type": "Bearer"})  # fmt: skip
                return
            assert self.path == f"/v1/projects/{state.project_id}/messages:send", self.path
            assert self.headers["Authorization"].removeprefix("Bearer ") in state.issued
            message = json.loads(body)["message"]
            assert set(message) == {"token", "data", "android"}
            assert all(isinstance(v, str) for v in message["data"].values())
            assert message["android"]["priority"] == "HIGH"
            assert message["android"]["ttl"].endswith("s")
            state.seen.append(message)
            state.release.wait(HOLD_LIMIT)
            time.sleep(state.latency)
            outcome = state.next_answer()
            if outcome == "ok":
                self._reply(200, {"name": f"projects/{state.project_id}/messages/0:1"})
                return
            status, text, code = FCM_ERRORS[outcome]
            detail = {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                      "errorCode": code}  # fmt: skip
            headers = {"Retry-After": "17"} if status in (429, 503) else {}
            self._reply(status, {"error": {"code": status, "message": code, "status": text,
                                           "details": [detail]}}, headers)  # fmt: skip

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = _context(cert, key, ["http/1.1"]).wrap_socket(server.socket, server_side=True)
    state.url = f"https://localhost:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- APNs -------------------------------------------------------------------------------------


@dataclass
class ApnsStandin(Standin):
    private_key_pem: str = ""
    team_id: str = "TEAM123456"
    key_id: str = "KEY1234567"
    topic: str = "com.hideez.authenticator"


def _serve_h2(sock: ssl.SSLSocket, state: ApnsStandin, public: ECKey) -> None:
    conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    streams: dict[int, dict[str, Any]] = {}
    while True:
        data = sock.recv(65535)
        if not data:
            return
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                headers = {k.decode() if isinstance(k, bytes) else k:
                           v.decode() if isinstance(v, bytes) else v
                           for k, v in event.headers}  # fmt: skip
                streams[event.stream_id] = {"headers": headers, "body": b""}
            elif isinstance(event, h2.events.DataReceived):
                streams[event.stream_id]["body"] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                _answer_h2(conn, event.stream_id, streams.pop(event.stream_id), state, public)
        sock.sendall(conn.data_to_send())


def _answer_h2(conn: h2.connection.H2Connection, stream: int, request: dict[str, Any],
               state: ApnsStandin, public: ECKey) -> None:  # fmt: skip
    h = request["headers"]
    assert h[":method"] == "POST" and h[":path"].startswith("/3/device/"), h
    token = jwt.decode(h["authorization"].removeprefix("bearer "), public, algorithms=["ES256"])
    assert token.header["kid"] == state.key_id and token.claims["iss"] == state.team_id
    assert h["apns-topic"] == state.topic and h["apns-push-type"] == "alert"
    assert int(h["apns-expiration"]) > 0 and h["apns-priority"] == "10"
    body = json.loads(request["body"])
    assert "alert" in body["aps"]
    state.seen.append({"device_token": h[":path"].removeprefix("/3/device/"), "body": body})
    state.release.wait(HOLD_LIMIT)
    time.sleep(state.latency)
    outcome = state.next_answer()
    if outcome == "ok":
        conn.send_headers(stream, [(":status", "200"), ("apns-id", "A1B2C3D4-0000")],
                          end_stream=True)  # fmt: skip
        return
    status, reason = APNS_ERRORS[outcome]
    payload = json.dumps({"reason": reason}).encode()
    headers = [(":status", str(status)), ("content-type", "application/json"),
               ("content-length", str(len(payload)))]  # fmt: skip
    if status == 429:
        headers.append(("retry-after", "11"))
    conn.send_headers(stream, headers)
    conn.send_data(stream, payload, end_stream=True)


@contextmanager
def apns_standin(directory: Path) -> Iterator[ApnsStandin]:
    cert, key = tls_files(directory)
    signing = ec.generate_private_key(ec.SECP256R1())
    pem = signing.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()  # fmt: skip
    public = ECKey.import_key(
        signing.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    listener = socket.create_server(("127.0.0.1", 0))
    context = _context(cert, key, ["h2"])
    state = ApnsStandin(url=f"https://localhost:{listener.getsockname()[1]}",
                        private_key_pem=pem)  # fmt: skip
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            tls = context.wrap_socket(raw, server_side=True)
            assert tls.selected_alpn_protocol() == "h2", "APNs speaks HTTP/2 only"
            threading.Thread(target=_serve_h2, args=(tls, state, public), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()

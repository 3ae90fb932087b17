"""One sign-out, four ways in: every application the session used is told (issue 7).

The session signs in to a SAML SP (the python3-saml demo SP), a WS-Fed relying party (OWA)
and two OpenID Connect clients with back-channel logout URIs — one listening on loopback, one
that cannot be reached. Whichever way the session ends (the IdP's own button, the SP's
LogoutRequest, ``wsignout1.0``, OIDC ``end_session``), the SP gets a LogoutRequest, the
WS-Fed RP's cleanup URL is loaded by the signed-out page, the reachable client gets a valid
``logout_token`` for the session's ``sid``, and the unreachable one is reported, not fatal.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
import pytest
import requests
from lxml import html

from idp.audit import AuditKind
from tests.e2e.entra_sim import CLIENT_SECRET
from tests.e2e.helpers import PasskeyClient, signed_in_session, submit_autopost
from tests.e2e.oidc.peer import authorize, code_from, exchange, pkce
from tests.e2e.saml_peer import sp_login
from tests.e2e.server import RunningServer, run_idp

pytestmark = pytest.mark.e2e

OWA = "https://mail.example.com/owa/"
BYE = "https://rp.example.com/bye"
REDIRECT = "http://localhost:9/cb"


class Receiver:
    """A relying party's back-channel endpoint: records each logout_token it is sent."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        received = self.tokens

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                assert self.headers["Content-Type"] == "application/x-www-form-urlencoded"
                received.extend(parse_qs(body)["logout_token"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/backchannel"


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: connecting to it is refused


def config(directory: Path, live: str, dead: str) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "secret").write_text(CLIENT_SECRET)
    (directory / "clients.yaml").write_text(f"""\
clients:
  - client_id: webapp
    name: Web App
    secret: {{file: {directory / "secret"}}}
    redirect_uris: [{REDIRECT}]
    post_logout_redirect_uris: [{BYE}]
    allow_http: true
    backchannel_logout_uri: {live}
  - client_id: deadapp
    name: Dead App
    secret: {{file: {directory / "secret"}}}
    redirect_uris: [{REDIRECT}]
    allow_http: true
    backchannel_logout_uri: {dead}
""")
    return f"""
oidc:
  clients_file: {directory / "clients.yaml"}
  backchannel_logout: {{connect_timeout_ms: 500, read_timeout_ms: 1000}}
wsfed:
  relying_parties:
    - name: owa
      profile: exchange
      realm: https://mail.example.com/owa
      reply_urls: [{OWA}]
      claims: {{upn: upn, primarysid: employee_id}}
"""


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, storage: str
) -> Iterator[tuple[RunningServer, Receiver]]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.httpd.serve_forever, daemon=True)
    thread.start()
    base = tmp_path_factory.mktemp("logout")
    dead = f"http://127.0.0.1:{unused_port()}/backchannel"
    try:
        extra = config(base / "oidc", receiver.url, dead)
        # Soft-webauthn signs in: this policy needs no user verification.
        with run_idp(base / "idp", storage=storage, uv_required=False, extra_config=extra) as srv:
            yield srv, receiver
    finally:
        receiver.httpd.shutdown()
        thread.join(timeout=5)


def sign_in_everywhere(server: RunningServer) -> tuple[PasskeyClient, str]:
    """alice's browser at all four applications; returns it and the webapp id_token."""
    alice = signed_in_session(server, "alice")
    consumed = submit_autopost(alice.http, sp_login(alice, server))
    assert consumed.status_code == 302  # the demo SP accepted the assertion
    wsfed = alice.http.get(
        server.url("/wsfed?" + urlencode({"wa": "wsignin1.0", "wtrealm": OWA})), timeout=10
    )
    assert wsfed.status_code == 200 and "wresult" in wsfed.text
    discovery = requests.get(server.url("/.well-known/openid-configuration"), timeout=5).json()
    tokens = {}
    for client_id in ("webapp", "deadapp"):
        verifier, challenge = pkce()
        code = code_from(
            authorize(
                alice,
                discovery,
                response_type="code",
                client_id=client_id,
                redirect_uri=REDIRECT,
                scope="openid",
                state="s",
                code_challenge=challenge,
                code_challenge_method="S256",
            )
        )
        tokens[client_id] = exchange(discovery, code["code"], verifier, client_id=client_id)
        assert tokens[client_id].status_code == 200, tokens[client_id].text
    return alice, tokens["webapp"].json()["id_token"]


def follow(alice: PasskeyClient, server: RunningServer, response: requests.Response
           ) -> tuple[requests.Response, list[str]]:  # fmt: skip
    """Follow the sign-out as the browser would; the signed-out page and every hop."""
    seen: list[str] = []
    page = response
    ours = (server.base_url, server.sp_url)
    for _ in range(10):
        if response.is_redirect:
            location = response.headers["Location"]
            seen.append(location)
            if not location.startswith(ours):
                return page, seen
            response = alice.http.get(location, allow_redirects=False, timeout=10)
        elif 'id="autopost"' in response.text:
            response = submit_autopost(alice.http, response)
        elif 'id="continue-form"' in response.text:  # signed_out.js posts it after the cleanup
            page = response
            form = html.fromstring(response.text).get_element_by_id("continue-form")
            seen.append(form.get("action"))
            response = alice.http.post(form.get("action"), data=dict(form.fields),
                                       allow_redirects=False, timeout=10)  # fmt: skip
        elif 'id="continue"' in response.text and response.url.startswith(server.base_url):
            page = response  # ... or follows its continue link (a Redirect-binding answer)
            response = requests.Response()
            response.status_code = 303
            response.headers["Location"] = (
                html.fromstring(page.text).get_element_by_id("continue").get("href")
            )
        else:
            return (response if "You are signed out" in response.text else page), seen
    raise AssertionError(f"the sign-out did not end: {seen}")


def sign_out(way: str, alice: PasskeyClient, server: RunningServer, id_token: str
             ) -> requests.Response:  # fmt: skip
    http = alice.http
    if way == "idp":
        return http.post(server.url("/logout"), data={"csrf": alice._csrf("/")},
                         allow_redirects=False, timeout=10)  # fmt: skip
    if way == "saml":
        return http.get(server.sp_url + "/logout", allow_redirects=False, timeout=10)
    if way == "wsfed":
        ask = http.get(server.url("/wsfed?" + urlencode({"wa": "wsignout1.0", "wreply": OWA})),
                       timeout=10)  # fmt: skip
        fields = dict(html.fromstring(ask.text).forms[0].fields)
        return http.post(server.url("/wsfed"), data={**fields, "confirm": "yes"},
                         allow_redirects=False, timeout=10)  # fmt: skip
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": BYE})
    return http.get(server.url(f"/oidc/logout?{query}"), allow_redirects=False, timeout=10)


@pytest.mark.parametrize("way", ["idp", "saml", "wsfed", "oidc"])
def test_every_way_of_signing_out_reaches_every_application(
    world: tuple[RunningServer, Receiver], way: str
) -> None:
    server, receiver = world
    alice, id_token = sign_in_everywhere(server)
    before = len(receiver.tokens)
    end, hops = follow(alice, server, sign_out(way, alice, server, id_token))
    # SAML: the demo SP was sent a LogoutRequest (or, as the origin, its LogoutResponse) and
    # its own session is gone.
    assert any(h.startswith(server.sp_url + "/sls?SAML") for h in hops) or way == "saml"
    assert "alice" not in alice.http.get(server.sp_url + "/", timeout=10).text
    # OIDC back channel: webapp got one logout token for this session's sid.
    assert len(receiver.tokens) == before + 1
    jwks = jwt.PyJWKClient(server.url("/oidc/jwks"))
    token = receiver.tokens[-1]
    claims = jwt.decode(token, jwks.get_signing_key_from_jwt(token).key, algorithms=["RS256"],
                        audience="webapp", issuer=server.base_url)  # fmt: skip
    sid = jwt.decode(id_token, options={"verify_signature": False})["sid"]
    assert claims["sid"] == sid and "http://schemas.openid.net/event/backchannel-logout" in (
        claims["events"])  # fmt: skip
    # The signed-out page: WS-Fed cleanup, the unreachable client reported (not fatal).
    page = end.text
    if way in ("wsfed", "oidc"):
        assert end.status_code == 200  # the page, which moves on to the RP after the cleanup
        assert end.headers["Refresh"].endswith(OWA if way == "wsfed" else BYE)
    assert f"{OWA}?wa=wsignoutcleanup1.0" in page
    apps = {li.text_content().split(" — ")[0]: li.get("data-status")
            for li in html.fromstring(page).xpath("//ul[@id='apps']/li")}  # fmt: skip
    assert apps["Web App"] == "signed_out" and apps["Dead App"] == "not_reached"
    assert apps["mail.example.com"] == "asked"
    # The session is over, and the audit says who was told what.
    assert alice.http.get(server.url("/"), allow_redirects=False, timeout=10).status_code == 303
    (event,) = server.runtime.audit.list(kind=AuditKind.LOGOUT, limit=1).items
    assert event.details["how"] == way
    assert "Web App=signed_out" in event.details["told"]
    assert "Dead App=not_reached" in event.details["told"]


@pytest.mark.parametrize("one", [True, False], ids=["one-session", "every-session"])
def test_an_admin_ending_sessions_tells_the_applications(
    world: tuple[RunningServer, Receiver], one: bool
) -> None:
    """The admin's "end sessions" (CLI, API, console) is the same sign-out plan, not a silent
    deletion: the back-channel client is told, and the audit names the admin."""
    from idp.admin.access import CLI
    from idp.admin.services import build_admin_services

    server, receiver = world
    alice, id_token = sign_in_everywhere(server)
    before = len(receiver.tokens)
    employee = server.runtime.employees.get_by_username("alice")
    assert employee is not None
    admin = build_admin_services(server.runtime).employees
    live = admin.sessions(CLI, employee.id)
    handle = live[-1].handle if one else None
    ended = admin.end_sessions(CLI, employee.id, handle=handle)
    assert ended.ended == (1 if one else len(live)) >= 1
    assert len(receiver.tokens) == before + 1
    token = receiver.tokens[-1]
    jwks = jwt.PyJWKClient(server.url("/oidc/jwks"))
    claims = jwt.decode(token, jwks.get_signing_key_from_jwt(token).key, algorithms=["RS256"],
                        audience="webapp", issuer=server.base_url)  # fmt: skip
    assert claims["sid"] == jwt.decode(id_token, options={"verify_signature": False})["sid"]
    assert alice.http.get(server.url("/"), allow_redirects=False, timeout=10).status_code == 303
    (event,) = server.runtime.audit.list(kind=AuditKind.SESSION_ENDED, limit=1).items
    assert event.actor == "cli" and event.reason == "admin_ended"
    assert event.details["how"] == ("one" if one else "everywhere")
    assert "Web App=signed_out" in event.details["told"]

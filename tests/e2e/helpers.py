"""Sign in over plain HTTP with a software authenticator (no browser), for protocol tests."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.e2e.server import RunningServer
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


class PasskeyClient:
    """A browser stand-in: a requests session plus one software passkey (UP+UV)."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.http = requests.Session()
        self.key: CraftedKey | None = None
        self.username = ""

    def _csrf(self, path: str) -> str:
        page = self.http.get(self.server.url(path), timeout=10)
        match = _CSRF.search(page.text)
        assert match, f"no CSRF token on {path}: {page.status_code}"
        return match.group(1)

    def post_json(self, path: str, body: dict[str, Any], csrf: str) -> requests.Response:
        return self.http.post(
            self.server.url(path), json=body, timeout=10, headers={"X-CSRF-Token": csrf}
        )

    def enrol(self, username: str, *, flags: int = UP | UV) -> None:
        link = self.server.enrolment_link(username)
        self.enrol_with_token(username, link.rsplit("/", 1)[1], flags=flags)

    def enrol_with_token(self, username: str, token: str, *, flags: int = UP | UV) -> None:
        self.username = username
        csrf = self._csrf(f"/enrol/{token}")
        options = self.post_json("/passkey/register/options", {"token": token}, csrf)
        assert options.status_code == 200, options.text
        body = options.json()
        employee = self.server.employee(username)
        self.key = CraftedKey(user_handle=employee.id.encode(), rp_id="localhost")
        credential = self.key.register(
            unb64u(body["publicKey"]["challenge"]), flags=flags, origin=self.server.base_url
        )
        verify = self.post_json(
            "/passkey/register/verify",
            {
                "token": token,
                "handle": body["handle"],
                "credential": _loads(credential),
                "name": "test key",
            },
            csrf,
        )
        assert verify.status_code == 200, verify.text

    def sign_in(self, *, ticket: str = "", flags: int = UP | UV) -> requests.Response:
        assert self.key is not None, "enrol first"
        csrf = self._csrf(f"/login?ticket={ticket}" if ticket else "/login")
        body = {"ticket": ticket} if ticket else {}
        options = self.post_json("/passkey/login/options", body, csrf).json()
        assertion = self.key.assert_(
            unb64u(options["publicKey"]["challenge"]), flags=flags, origin=self.server.base_url
        )
        return self.post_json(
            "/passkey/login/verify",
            {**body, "handle": options["handle"], "credential": _loads(assertion)},
            csrf,
        )

    def follow_login(self, response: requests.Response) -> requests.Response:
        """Given a redirect to /login?ticket=…, sign in and follow the resume URL."""
        location = response.headers.get("Location", "")
        assert "/login?ticket=" in location, (response.status_code, location)
        ticket = location.split("ticket=", 1)[1]
        done = self.sign_in(ticket=ticket)
        assert done.status_code == 200, done.text
        return self.http.get(
            self.server.url(done.json()["redirect"]), allow_redirects=False, timeout=10
        )


def _loads(text: str) -> Any:
    import json

    return json.loads(text)


def signed_in_session(server: RunningServer, username: str) -> PasskeyClient:
    """A client that enrolled a passkey for ``username`` and holds a signed-in session."""
    client = PasskeyClient(server)
    client.enrol(username)
    return client


_FORM = re.compile(r'<form id="autopost" method="post" action="([^"]+)">(.*?)</form>', re.S)
_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def autopost_fields(html: str) -> tuple[str, dict[str, str]]:
    """The action and fields of our auto-posted form (as a browser would submit it)."""
    import html as htmllib

    match = _FORM.search(html)
    assert match, f"no auto-post form in: {html[:300]}"
    fields = {htmllib.unescape(k): htmllib.unescape(v) for k, v in _INPUT.findall(match.group(2))}
    return htmllib.unescape(match.group(1)), fields


def submit_autopost(http: requests.Session, response: requests.Response) -> requests.Response:
    action, fields = autopost_fields(response.text)
    return http.post(action, data=fields, allow_redirects=False, timeout=10)

"""Sign in over plain HTTP (no browser), for protocol tests.

The authenticator is soft-webauthn (``SoftKey``; not written by this project: ES256,
attestation ``none``, never UV) wherever the server does not require user verification. On a
server that does (the demo's policy), and for malformed or hostile input, the project's own
``CraftedKey`` is used: it sets any flag the test asks for.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from tests.e2e.server import RunningServer
from tests.idp.factors.passkey_fakes import (
    UP,
    UV,
    CraftedKey,
    options_for_soft,
    soft_device,
    soft_to_json,
    unb64u,
)

_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


class SoftKey:
    """soft-webauthn's device behind our JSON: ``publicKey`` options in, credential out."""

    def __init__(self) -> None:
        self.device = soft_device()

    def register(self, public_key: dict[str, Any], *, origin: str) -> Any:
        created = self.device.create(options_for_soft(json.dumps(public_key)), origin)
        return json.loads(soft_to_json(created))

    def assertion(self, public_key: dict[str, Any], *, origin: str) -> Any:
        answer = self.device.get(options_for_soft(json.dumps(public_key)), origin)
        return json.loads(soft_to_json(answer))


class PasskeyClient:
    """A browser stand-in: a requests session plus one passkey (see the module docstring)."""

    def __init__(self, server: RunningServer, *, crafted: bool | None = None) -> None:
        self.server = server
        self.http = requests.Session()
        self.crafted = server.uv_required if crafted is None else crafted
        self.key: SoftKey | CraftedKey | None = None
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
        """Register a passkey through a new enrolment link (``flags`` for a crafted key)."""
        link = self.server.enrolment_link(username)
        self.enrol_with_token(username, link.rsplit("/", 1)[1], flags=flags)

    def enrol_with_token(self, username: str, token: str, *, flags: int = UP | UV) -> None:
        self.username = username
        csrf = self._csrf(f"/enrol/{token}")
        options = self.post_json("/passkey/register/options", {"token": token}, csrf)
        assert options.status_code == 200, options.text
        body = options.json()
        verify = self.post_json(
            "/passkey/register/verify",
            {
                "token": token,
                "handle": body["handle"],
                "credential": self._register(body["publicKey"], username, flags),
                "name": "test key",
            },
            csrf,
        )
        assert verify.status_code == 200, verify.text

    def _register(self, public_key: dict[str, Any], username: str, flags: int) -> Any:
        origin = self.server.base_url
        if not self.crafted:
            self.key = SoftKey()
            return self.key.register(public_key, origin=origin)
        employee = self.server.employee(username)
        self.key = CraftedKey(user_handle=employee.id.encode(), rp_id="localhost")
        return _loads(
            self.key.register(unb64u(public_key["challenge"]), flags=flags, origin=origin)
        )

    def sign_in(self, *, ticket: str = "", flags: int = UP | UV) -> requests.Response:
        assert self.key is not None, "enrol first"
        csrf = self._csrf(f"/login?ticket={ticket}" if ticket else "/login")
        body = {"ticket": ticket} if ticket else {}
        options = self.post_json("/passkey/login/options", body, csrf).json()
        origin = self.server.base_url
        if isinstance(self.key, SoftKey):
            credential = self.key.assertion(options["publicKey"], origin=origin)
        else:
            challenge = unb64u(options["publicKey"]["challenge"])
            credential = _loads(self.key.assert_(challenge, flags=flags, origin=origin))
        return self.post_json(
            "/passkey/login/verify",
            {**body, "handle": options["handle"], "credential": credential},
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

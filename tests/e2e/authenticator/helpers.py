"""Servers and clients for the authenticator-app tests: a policy that lists the app and TOTP,
a master key for the secrets envelope, and the reference authenticator enrolled over HTTP."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from authenticator import Authenticator
from idp.directory.model import Employee, SsoMode
from tests.e2e.server import RunningServer, run_idp

APP_FACTORS = {"    factors: [passkey]\n": "    factors: [passkey, authenticator_app, totp]\n"}
#: TOTP proves possession only: a policy that lists it alone cannot demand user verification
NO_UV = {
    "    user_verification: true\n"
    "    authn_context_class_ref: https://refeds.org/profile/mfa\n"
    "    acr: https://refeds.org/profile/mfa\n": "    user_verification: false\n",
}
_CSRF = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')


@contextmanager
def authenticator_idp(
    directory: Path, *, storage: str, uv: bool = True, extra_config: str = "", **kwargs: Any
) -> Iterator[RunningServer]:
    # The demo set-up has a master key (secrets/master_key): TOTP secrets can be stored.
    replace = {**APP_FACTORS, **({} if uv else NO_UV)}
    with run_idp(
        directory, storage=storage, replace=replace, extra_config=extra_config,
        **kwargs,
    ) as server:  # fmt: skip
        yield server


class Browserless:
    """A browser stand-in over requests: the IdP's pages and JSON endpoints."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.http = requests.Session()
        self.http.headers["User-Agent"] = "Browserless/1.0 (tests)"
        self._csrf: str | None = None

    def csrf(self, path: str) -> str:
        # The token is bound to the browser's flow cookie, not to the page: fetched once.
        if self._csrf is None:
            page = self.http.get(self.server.url(path), timeout=10)
            match = _CSRF.search(page.text)
            assert match, f"no CSRF token on {path}: {page.status_code}"
            self._csrf = match.group(1)
        return self._csrf

    def post(self, path: str, body: dict[str, Any], *, page: str = "/login") -> requests.Response:
        return self.http.post(
            self.server.url(path), json=body, timeout=10, headers={"X-CSRF-Token": self.csrf(page)}
        )

    def enrolment_code(self, username: str) -> str:
        """What the QR code on the enrolment link page holds (``hideez-idp://enrol?…``)."""
        token = self.server.enrolment_link(username).rsplit("/", 1)[1]
        started = self.post("/authenticator/enrol/start", {"token": token}, page=f"/enrol/{token}")
        assert started.status_code == 200, started.text
        uri: str = started.json()["uri"]
        return uri


def new_person(server: RunningServer, *, sso_mode: SsoMode = SsoMode.PASSWORDLESS) -> str:
    """A new employee (tests on a shared server never share people, limits or requests)."""
    username = f"p{secrets.token_hex(4)}"
    server.runtime.employees.add(
        Employee(id=secrets.token_hex(8), username=username, email=f"{username}@example.com",
                 first_name="Pat", last_name=username, sso_mode=sso_mode),
        now=server.runtime.now(),
    )  # fmt: skip
    return username


def enrolled_app(
    server: RunningServer, username: str, state: Path, *, clock: Any = time.time
) -> Authenticator:
    app = Authenticator(state, clock=clock)
    app.enrol(Browserless(server).enrolment_code(username), display_name=f"{username}'s phone")
    return app


def push_sign_in(
    client: Browserless, app: Authenticator, ticket: str, username: str
) -> requests.Response:
    """Start the push for ``ticket``, approve it on the app with the number shown, poll once:
    the answer that finishes the sign-in (``{ok, redirect}``)."""
    page = f"/login?ticket={ticket}"
    started = client.post("/push/login/start", {"ticket": ticket, "username": username}, page=page)
    assert started.status_code == 200, started.text
    shown = started.json()
    assert app.approve(shown["number"]) == "approved"
    body = {"ticket": ticket, "transaction_id": shown["transaction_id"]}
    return client.post("/push/login/poll", body, page=page)


def follow_push_login(
    client: Browserless, app: Authenticator, response: requests.Response, username: str
) -> requests.Response:
    """Given a redirect to /login?ticket=…, approve on the phone and follow the resume URL."""
    location = response.headers.get("Location", "")
    assert "/login?ticket=" in location, (response.status_code, location, response.text[:300])
    done = push_sign_in(client, app, location.split("ticket=", 1)[1], username)
    assert done.status_code == 200, done.text
    return client.http.get(
        client.server.url(done.json()["redirect"]), allow_redirects=False, timeout=10
    )

"""The two-factor SSO mode with the phone: the password first (kept in the login ticket, never
a session), then the push (sent as soon as the password is accepted) or a TOTP code."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from idp.directory.model import SsoMode
from tests.e2e.authenticator.helpers import Browserless, enrolled_app, new_person
from tests.e2e.saml_peer import status_of
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def server(code_server: RunningServer) -> RunningServer:
    return code_server


def set_password(server: RunningServer, username: str) -> str:
    client = Browserless(server)
    token = server.enrolment_link(username).rsplit("/", 1)[1]
    done = client.post("/password/set", {"token": token, "password": PASSWORD},
                       page=f"/enrol/{token}")  # fmt: skip
    assert done.status_code == 200, done.text
    return token


def saml_ticket(client: Browserless, server: RunningServer) -> str:
    start = client.http.get(server.sp_url + "/login", allow_redirects=False, timeout=10)
    first = client.http.get(start.headers["Location"], allow_redirects=False, timeout=10)
    return first.headers["Location"].split("ticket=", 1)[1]


def test_password_then_push(server: RunningServer, tmp_path: Path) -> None:
    alice = new_person(server, sso_mode=SsoMode.TWO_FACTOR)
    set_password(server, alice)
    app = enrolled_app(server, alice, tmp_path)
    client = Browserless(server)
    ticket = saml_ticket(client, server)
    page = f"/login?ticket={ticket}"
    # Before the password, a push for a two-factor account is refused.
    early = client.post("/push/login/start", {"ticket": ticket, "username": alice}, page=page)
    assert early.status_code == 403 and early.json()["error"] == "password_required"
    first = client.post(
        "/password/login/verify",
        {"ticket": ticket, "username": alice, "password": PASSWORD},
        page=page,
    )
    assert first.status_code == 200 and first.json()["next"] == "second_factor"
    assert 'data-employee-known="yes"' in client.http.get(server.url(page), timeout=10).text
    # The page now sends the push without a user name: the ticket knows the employee.
    shown = client.post("/push/login/start", {"ticket": ticket}, page=page).json()
    assert app.approve(shown["number"]) == "approved"
    done = client.post(
        "/push/login/poll", {"ticket": ticket, "transaction_id": shown["transaction_id"]}, page=page
    )
    assert done.status_code == 200, done.text
    answer = client.http.get(server.url(done.json()["redirect"]), timeout=10)
    assert status_of(answer.text).endswith("Success")
    context = server.runtime.sessions.get(client.http.cookies["hideez_idp_session"],
                                          now=server.runtime.now())  # fmt: skip
    assert context is not None
    assert [u.kind.value for u in context.factors] == ["password", "authenticator_app"]
    assert context.amr == ("pwd", "swk", "user", "mfa")


def test_password_then_totp(server: RunningServer) -> None:
    bob = new_person(server, sso_mode=SsoMode.TWO_FACTOR)
    token = set_password(server, bob)
    client = Browserless(server)
    shown = client.post("/totp/enrol/start", {"token": token}, page=f"/enrol/{token}").json()
    now = server.runtime.now()

    def code(at: dt.datetime) -> str:
        return subprocess.run(["oathtool", "--totp", "-b", "-N", f"@{int(at.timestamp())}",
                               shown["secret"]], check=True, capture_output=True,
                              text=True).stdout.strip()  # fmt: skip

    confirmed = client.post("/totp/enrol/confirm", {"token": token, "code": code(now)},
                            page=f"/enrol/{token}")  # fmt: skip
    assert confirmed.status_code == 200, confirmed.text
    ticket = saml_ticket(client, server)
    page = f"/login?ticket={ticket}"
    alone = client.post("/totp/login/verify",
                        {"ticket": ticket, "username": bob,
                         "code": code(now + dt.timedelta(seconds=30))}, page=page)  # fmt: skip
    assert alone.status_code == 403 and alone.json()["error"] == "password_required"
    client.post(
        "/password/login/verify",
        {"ticket": ticket, "username": bob, "password": PASSWORD},
        page=page,
    )
    done = client.post("/totp/login/verify",
                       {"ticket": ticket, "code": code(now + dt.timedelta(seconds=30))},
                       page=page)  # fmt: skip
    # The refusal before the password did not spend the code: it signs in now.
    assert done.status_code == 200, done.text
    context = server.runtime.sessions.get(client.http.cookies["hideez_idp_session"],
                                          now=server.runtime.now())  # fmt: skip
    assert context is not None and context.amr == ("pwd", "otp", "mfa")

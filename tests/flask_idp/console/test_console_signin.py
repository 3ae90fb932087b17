"""The console's password + TOTP sign-in under Flask's test client: the page, CSRF, the
session it makes, wrong and replayed codes, hostile fields, the lock, and the audit."""

from __future__ import annotations

import re
import secrets

import pyotp
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_idp.api import services
from idp.admin.access import CLI, Role
from idp.audit import AuditKind
from tests.flask_idp.admin_support import Api

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
PASSWORD = "console passphrase for tests 9"


def admin_with_totp(api: Api, role: Role = Role.ADMIN) -> tuple[str, pyotp.TOTP, list[str]]:
    _, username = api.admin(role)
    with api.app.app_context():
        creds = services().credentials
        creds.set_password(CLI, username, PASSWORD)
        made = creds.enable_totp(CLI, username)
    return username, pyotp.TOTP(made.secret), list(made.recovery_codes)


def form(client: FlaskClient, next_path: str = "/console") -> str:
    page = client.get(f"/console/signin?next={next_path}")
    assert page.status_code == 200
    match = _CSRF.search(page.get_data(as_text=True))
    assert match is not None
    return match.group(1)


def fresh(api: Api) -> tuple[FlaskClient, str]:
    """A new browser with the sign-in page's CSRF token."""
    client = api.client
    return client, form(client)


def post(client: FlaskClient, csrf: str, username: str, code: str, **extra: str) -> TestResponse:
    data = {"csrf": csrf, "username": username, "password": PASSWORD, "code": code,
            "next": "/console/employees", **extra}  # fmt: skip
    return client.post("/console/signin", data=data)


def test_password_and_totp_open_the_console_once_per_code(api: Api) -> None:
    username, totp, _ = admin_with_totp(api)
    client = api.client
    csrf = form(client)
    signed = post(client, csrf, username, totp.now())
    assert signed.status_code == 303 and signed.headers["Location"] == "/console/employees"
    assert api.runtime.config.session.cookie_name in signed.headers["Set-Cookie"]
    assert "HttpOnly" in signed.headers["Set-Cookie"]
    console = client.get("/console")
    assert console.status_code == 200 and username in console.get_data(as_text=True)
    again = post(*fresh(api), username, totp.now())  # the same code, replayed
    assert again.status_code == 401
    assert "not correct" in again.get_data(as_text=True)
    (event,) = api.runtime.audit.list(kind=AuditKind.ADMIN_LOGIN_SUCCESS, limit=1).items
    assert event.actor == f"admin:{username}" and event.details["method"] == "password+totp"
    (failure,) = api.runtime.audit.list(kind=AuditKind.ADMIN_LOGIN_FAILURE, limit=1).items
    assert failure.reason == "code_reused" and failure.details["username"] == username


def test_a_recovery_code_signs_in_and_is_spent(api: Api) -> None:
    username, _, codes = admin_with_totp(api)
    client = api.client
    assert post(client, form(client), username, codes[3]).status_code == 303
    (event,) = api.runtime.audit.list(kind=AuditKind.ADMIN_LOGIN_SUCCESS, limit=1).items
    assert event.details == {"method": "password+recovery_code", "recovery_codes_left": "9"}
    assert post(*fresh(api), username, codes[3]).status_code == 401


def test_without_csrf_or_with_hostile_fields_nothing_is_checked(api: Api) -> None:
    username, totp, _ = admin_with_totp(api)
    client = api.client
    form(client)
    no_csrf = post(client, "", username, totp.now())
    assert no_csrf.status_code == 400 and "CSRF" in no_csrf.get_data(as_text=True)
    xss = '<script>alert(1)</script>"'
    hostile = post(client, form(client), xss, totp.now())
    assert hostile.status_code == 401
    body = hostile.get_data(as_text=True)
    assert "<script>alert(1)" not in body and "&lt;script&gt;" in body
    huge = post(client, form(client), username, totp.now(), password="x" * 100_000)
    assert huge.status_code == 401
    away = post(client, form(client), username, totp.now(), next="https://evil.example/")
    assert away.status_code == 303 and away.headers["Location"] == "/console"


def test_ten_wrong_attempts_lock_until_another_admin_unlocks(api: Api) -> None:
    username, totp, _ = admin_with_totp(api)
    for n in range(10):
        client = api.client
        client.environ_base["REMOTE_ADDR"] = f"10.1.0.{n}"  # one address per guess
        wrong = post(client, form(client), username, "000000")
        assert wrong.status_code == 401
    locked = post(*fresh(api), username, totp.now())
    assert locked.status_code == 429 and "try again in 15 minutes" in locked.get_data(as_text=True)
    (failure,) = api.runtime.audit.list(kind=AuditKind.ADMIN_LOGIN_FAILURE, limit=1).items
    assert failure.reason == "account_locked"
    with api.app.app_context():
        assert services().credentials.unlock(CLI, username)
    api.clock.advance(31)  # the next TOTP step: the last code tried was not spent, but be sure
    assert post(*fresh(api), username, totp.now()).status_code == 303


def test_an_address_that_keeps_failing_is_slowed(api: Api) -> None:
    client = api.client
    client.environ_base["REMOTE_ADDR"] = "10.2.0.1"
    limit = api.runtime.config.passwords.limits.failures_per_address_per_minute
    for _ in range(limit):
        assert (
            post(client, form(client), f"ghost-{secrets.token_hex(3)}", "123456").status_code == 401
        )
    slowed = post(client, form(client), "ghost", "123456")
    assert slowed.status_code == 429 and "wait a minute" in slowed.get_data(as_text=True)

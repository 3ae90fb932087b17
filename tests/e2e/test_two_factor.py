"""The two-factor SSO mode over HTTP: the password (set by enrolment link), then the passkey."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator

import pytest

from idp.audit import AuditKind
from idp.directory.model import SsoMode
from tests.e2e.helpers import PasskeyClient
from tests.e2e.saml_peer import response_xml, sp_login, status_of
from tests.e2e.server import RunningServer, run_idp
from tests.idp.factors.passkey_fakes import UP, UV, unb64u

pytestmark = pytest.mark.e2e

PASSWORD = "correct horse battery staple 42"
EXTRA = """
passwords:
  argon2: {memory_kib: 19456, time_cost: 2, parallelism: 1}
  lockout_attempts: 3
  lockout_minutes: 15
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, storage: str) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("two-factor")
    with run_idp(directory, storage=storage, extra_config=EXTRA) as srv:
        for name in ("alice", "bob"):
            employee = srv.employee(name)
            srv.runtime.employees.update(dataclasses.replace(employee, sso_mode=SsoMode.TWO_FACTOR))
        srv.runtime.directory.invalidate()
        yield srv


def enrol_with_password(server: RunningServer, username: str) -> PasskeyClient:
    """The enrolment link: set the password first, then create the passkey."""
    client = PasskeyClient(server)
    token = server.enrolment_link(username).rsplit("/", 1)[1]
    page = client.http.get(server.url(f"/enrol/{token}"), timeout=10)
    assert 'id="set-password"' in page.text
    csrf = client._csrf(f"/enrol/{token}")
    weak = client.post_json("/password/set", {"token": token, "password": "password123"}, csrf)
    assert weak.status_code == 400 and weak.json()["error_description"]
    good = client.post_json("/password/set", {"token": token, "password": PASSWORD}, csrf)
    assert good.status_code == 200, good.text
    client.enrol_with_token(username, token)
    # Two-factor mode: the first passkey alone does not sign anyone in.
    assert "hideez_idp_session" not in client.http.cookies
    return client


def password_step(client: PasskeyClient, ticket: str, username: str, password: str):  # type: ignore[no-untyped-def]
    csrf = client._csrf(f"/login?ticket={ticket}")
    body = {"ticket": ticket, "username": username, "password": password}
    return client.post_json("/password/login/verify", body, csrf)


def passkey_step(client: PasskeyClient, ticket: str):  # type: ignore[no-untyped-def]
    assert client.key is not None
    csrf = client._csrf(f"/login?ticket={ticket}")
    options = client.post_json("/passkey/login/options", {"ticket": ticket}, csrf)
    assert options.status_code == 200, options.text
    body = options.json()
    challenge = unb64u(body["publicKey"]["challenge"])
    assertion = client.key.assert_(challenge, flags=UP | UV, origin=client.server.base_url)
    verify = {"ticket": ticket, "handle": body["handle"], "credential": json.loads(assertion)}
    return client.post_json("/passkey/login/verify", verify, csrf), body


def ticket_of(client: PasskeyClient, server: RunningServer) -> str:
    first = sp_login(client, server)
    assert first.status_code == 303 and "/login?ticket=" in first.headers["Location"]
    return first.headers["Location"].split("ticket=", 1)[1]


def test_password_then_passkey_signs_in_with_two_factors(server: RunningServer) -> None:
    bob = enrol_with_password(server, "bob")
    events = server.runtime.audit.list(limit=20).items
    assert any(e.kind is AuditKind.PASSWORD_SET for e in events)
    ticket = ticket_of(bob, server)
    first = password_step(bob, ticket, "bob", PASSWORD)
    assert first.status_code == 200 and first.json()["next"] == "second_factor"
    assert "hideez_idp_session" not in bob.http.cookies, "a password is never a session"
    done, options = passkey_step(bob, ticket)
    allowed = [c["id"] for c in options["publicKey"]["allowCredentials"]]
    owned = server.runtime.passkeys.list_for_employee(server.employee("bob").id)
    assert allowed == [p.credential_id for p in owned]  # bob's keys only, after his password
    assert done.status_code == 200, done.text
    answer = bob.http.get(server.url(done.json()["redirect"]), allow_redirects=False, timeout=10)
    assert status_of(answer.text).endswith("Success")
    context = server.runtime.sessions.get(bob.http.cookies["hideez_idp_session"],
                                          now=server.runtime.now())  # fmt: skip
    assert context is not None
    assert [u.kind.value for u in context.factors] == ["password", "passkey"]
    assert "pwd" in context.amr and "mfa" in context.amr
    assert response_xml(answer.text).xpath("//*[local-name()='Assertion']")


def test_passkey_alone_is_refused_for_a_two_factor_employee(server: RunningServer) -> None:
    alice = enrol_with_password(server, "alice")
    ticket = ticket_of(alice, server)
    done, _ = passkey_step(alice, ticket)
    assert done.status_code == 403 and done.json()["error"] == "password_required"
    assert "password first" in done.json()["error_description"]
    assert "hideez_idp_session" not in alice.http.cookies


def test_password_alone_never_reaches_the_application(server: RunningServer) -> None:
    alice = enrol_with_password(server, "alice")
    first = sp_login(alice, server)
    ticket = first.headers["Location"].split("ticket=", 1)[1]
    assert password_step(alice, ticket, "alice", PASSWORD).status_code == 200
    # The parked request is still there, but nothing answers it without the second factor.
    ticket_page = alice.http.get(server.url(f"/login?ticket={ticket}"), timeout=10)
    assert ticket_page.status_code == 200
    resume = server.runtime.tickets.load(ticket, browser=_browser_of(alice, server))
    assert resume is not None
    again = alice.http.get(server.url(resume.resume_url), allow_redirects=False, timeout=10)
    assert again.status_code == 303 and "/login?ticket=" in again.headers["Location"]


def _browser_of(client: PasskeyClient, server: RunningServer):  # type: ignore[no-untyped-def]
    from idp.flows.browser import Browser, binding_of

    return Browser(binding_of(client.http.cookies["hideez_idp_flow"]), None)


def test_wrong_passwords_are_counted_audited_and_give_no_hint(server: RunningServer) -> None:
    carol = PasskeyClient(server)
    ticket = ticket_of(carol, server)
    wrong = password_step(carol, ticket, "bob", "not the password at all")
    ghost = password_step(carol, ticket, "nobody-here", "not the password at all")
    assert wrong.status_code == ghost.status_code == 401
    assert wrong.json()["error_description"] == ghost.json()["error_description"]
    assert "not correct" in wrong.json()["error_description"]
    failures = [e for e in server.runtime.audit.list(limit=20).items
                if e.kind is AuditKind.LOGIN_FAILURE and e.factor == "password"]  # fmt: skip
    assert len(failures) >= 2
    assert all(PASSWORD not in (e.reason or "") for e in failures)
    # lockout_attempts: 3 — the third wrong one locks bob, and an unknown name alike.
    for name in ("bob", "nobody-here"):
        for _ in range(2):
            password_step(carol, ticket, name, "still not the password")
        locked = password_step(carol, ticket, name, PASSWORD if name == "bob" else "x" * 12)
        assert locked.status_code == 429 and locked.json()["error"] == "account_locked"
        assert 14 * 60 < int(locked.headers["Retry-After"]) <= 15 * 60
    assert any(
        e.kind is AuditKind.PASSWORD_LOCKED for e in server.runtime.audit.list(limit=40).items
    )

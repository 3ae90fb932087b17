"""TOTP and user verification over HTTP, against the IdP whose policy requires it (and claims
REFEDS MFA): a code is possession only, so it is refused up front with a sentence saying why
(the code is not spent, the refusal audited); a push the app approved without its own check
is refused the same way; and a session that signed in with a code elsewhere is told, on the
sign-in page, why it is not enough here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from idp.audit import AuditKind
from idp.factors.kinds import FactorKind, FactorUse
from tests.e2e.authenticator.helpers import Browserless, enrolled_app, new_person
from tests.e2e.authenticator.test_totp import oathtool, set_up_totp, submit, ticket_of
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(app_server: RunningServer) -> RunningServer:
    return app_server


def test_a_code_is_refused_where_user_verification_is_required_and_says_why(
    server: RunningServer,
) -> None:
    alice = new_person(server)
    secret = set_up_totp(server, alice)
    employee_id = server.employee(alice).id
    before = server.runtime.authenticator.totp.get(employee_id)
    client = Browserless(server)
    ticket = ticket_of(client, server.base_url, server)
    code = oathtool(secret, server.runtime.now() + dt.timedelta(seconds=30))
    refused = submit(client, server.base_url, ticket, alice, code)
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["error"] == "user_verification_required"
    assert "one-time code shows that you have your phone" in body["error_description"]
    assert "passkey with its PIN or biometric" in body["error_description"]
    assert "hideez_idp_session" not in client.http.cookies
    after = server.runtime.authenticator.totp.get(employee_id)
    assert before is not None and after is not None
    assert after.last_used_step == before.last_used_step  # the code was not spent
    # Unknown users hear the same: the refusal is the policy's, not the account's.
    nobody = submit(client, server.base_url, ticket, "nobody-here", code)
    assert nobody.status_code == 403 and nobody.json()["error"] == "user_verification_required"
    reasons = [e.reason or "" for e in server.runtime.audit.list(
        kind=AuditKind.LOGIN_FAILURE, limit=50).items if e.employee_id == employee_id]  # fmt: skip
    assert any(r.startswith("user_verification_required") for r in reasons)


def test_a_push_approved_without_the_apps_check_is_refused_and_says_why(
    server: RunningServer, tmp_path: Path
) -> None:
    bob = new_person(server)
    app = enrolled_app(server, bob, tmp_path)
    client = Browserless(server)
    ticket = ticket_of(client, server.base_url, server)
    page = f"/login?ticket={ticket}"
    shown = client.post("/push/login/start", {"ticket": ticket, "username": bob},
                        page=page).json()  # fmt: skip
    assert app.approve(shown["number"], user_verified=False) == "approved"
    refused = client.post("/push/login/poll",
                          {"ticket": ticket, "transaction_id": shown["transaction_id"]},
                          page=page)  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"] == "user_verification_required"
    assert "without checking your fingerprint" in refused.json()["error_description"]
    assert "hideez_idp_session" not in client.http.cookies


def test_a_session_from_a_code_is_told_on_the_sign_in_page_why_it_is_not_enough(
    server: RunningServer,
) -> None:
    carol = new_person(server)
    rt = server.runtime
    use = FactorUse(FactorKind.TOTP, "totp:x", rt.now(), False, ("otp",))
    context = rt.sessions.create(employee_id=server.employee(carol).id, factors=(use,),
                                 now=rt.now())  # fmt: skip
    client = Browserless(server)
    client.http.cookies.set("hideez_idp_session", context.session_id)
    ticket = ticket_of(client, server.base_url, server)
    page = client.http.get(server.url(f"/login?ticket={ticket}"), timeout=10)
    assert page.status_code == 200
    assert 'id="notice"' in page.text
    assert "one-time code shows that you have your phone" in page.text

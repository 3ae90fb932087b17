"""Push approval with number matching over HTTP, end to end: the reference authenticator
(enrolled from the QR code's content) answers a SAML sign-in the python3-saml SP started."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from authenticator import Authenticator, AuthenticatorError
from idp.audit import AuditKind
from tests.e2e.authenticator.helpers import Browserless, enrolled_app, new_person
from tests.e2e.saml_peer import response_xml, status_of
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(app_server: RunningServer) -> RunningServer:
    return app_server


def saml_ticket(client: Browserless, server: RunningServer) -> str:
    start = client.http.get(server.sp_url + "/login", allow_redirects=False, timeout=10)
    first = client.http.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert first.status_code == 303 and "/login?ticket=" in first.headers["Location"]
    return first.headers["Location"].split("ticket=", 1)[1]


def start_push(client: Browserless, ticket: str, username: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/push/login/start", {"ticket": ticket, "username": username},
        page=f"/login?ticket={ticket}",
    )  # fmt: skip


def poll(client: Browserless, ticket: str, txn: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/push/login/poll", {"ticket": ticket, "transaction_id": txn},
        page=f"/login?ticket={ticket}",
    )  # fmt: skip


def test_approve_with_the_shown_number_signs_in_to_the_saml_sp(
    server: RunningServer, tmp_path: Path
) -> None:
    person = new_person(server)
    app = enrolled_app(server, person, tmp_path)
    browser = Browserless(server)
    ticket = saml_ticket(browser, server)
    started = start_push(browser, ticket, person)
    assert started.status_code == 200, started.text
    shown = started.json()
    assert 10 <= shown["number"] <= 99 and 0 < shown["expires_in"] <= 120
    assert poll(browser, ticket, shown["transaction_id"]).json() == {
        "state": "pending",
        "delivery": "sent",
    }

    (waiting,) = app.pending()
    assert shown["number"] in waiting.choices and len(set(waiting.choices)) == 3
    assert waiting.relying_party == "Demo SP" and waiting.user_agent.startswith("Browserless")
    assert app.approve(shown["number"]) == "approved"

    done = poll(browser, ticket, shown["transaction_id"])
    assert done.status_code == 200, done.text
    answer = browser.http.get(server.url(done.json()["redirect"]), allow_redirects=False,
                              timeout=10)  # fmt: skip
    assert status_of(answer.text).endswith("Success")
    assert response_xml(answer.text).xpath("//*[local-name()='Assertion']")
    context = server.runtime.sessions.get(
        browser.http.cookies["hideez_idp_session"], now=server.runtime.now()
    )
    assert context is not None
    assert [u.kind.value for u in context.factors] == ["authenticator_app"]
    assert context.amr == ("swk", "user")
    # Finished once: neither the used ticket nor the used transaction signs in again.
    again = poll(browser, ticket, shown["transaction_id"])
    assert again.status_code == 400 and "already completed" in again.json()["error_description"]
    bare = browser.post("/push/login/poll", {"transaction_id": shown["transaction_id"]})
    assert bare.status_code == 410 and bare.json()["error"] == "push_challenge_gone"


def test_deny_and_wrong_number_refuse_and_are_audited(
    server: RunningServer, tmp_path: Path
) -> None:
    person = new_person(server)
    app = enrolled_app(server, person, tmp_path)
    browser = Browserless(server)
    ticket = saml_ticket(browser, server)
    shown = start_push(browser, ticket, person).json()
    app.deny()
    refused = poll(browser, ticket, shown["transaction_id"])
    assert refused.status_code == 403 and refused.json()["error"] == "push_denied"
    assert "hideez_idp_session" not in browser.http.cookies

    shown = start_push(browser, ticket, person).json()
    (waiting,) = app.pending()
    wrong = next(n for n in waiting.choices if n != shown["number"])
    assert app.approve(wrong) == "wrong_number"
    refused = poll(browser, ticket, shown["transaction_id"])
    assert refused.status_code == 403 and "did not match" in refused.json()["error_description"]
    assert "hideez_idp_session" not in browser.http.cookies
    employee_id = server.employee(person).id
    reasons = [e.reason for e in server.runtime.audit.list(kind=AuditKind.LOGIN_FAILURE,
                                                           limit=50).items
               if e.employee_id == employee_id]  # fmt: skip
    assert "wrong number chosen on the phone" in reasons
    assert "denied on the phone (declined)" in reasons


def test_answer_after_expiry_is_refused_and_the_page_is_told(
    server: RunningServer, tmp_path: Path
) -> None:
    later = 0.0
    person = new_person(server)
    app = enrolled_app(server, person, tmp_path / "a", clock=lambda: time.time() + later)
    browser = Browserless(server)
    ticket = saml_ticket(browser, server)
    shown = start_push(browser, ticket, person).json()
    (waiting,) = app.pending()
    rt = server.runtime
    real = rt.clock
    # Two minutes and a second later, on the server's clock and the phone's.
    later = 121.0
    rt.clock = lambda: real() + dt.timedelta(seconds=later)
    try:
        assert app.pending() == []  # expired: no longer offered to the phone
        with pytest.raises(AuthenticatorError) as refused:
            app.approve(shown["number"], transaction_id=waiting.transaction_id)
        assert refused.value.error == "nothing_pending"
        late = poll(browser, ticket, shown["transaction_id"])
        assert late.status_code == 410 and "expired" in late.json()["error_description"]
    finally:
        rt.clock = real


def test_one_outstanding_request_and_rate_limits_for_rapid_pushes(
    server: RunningServer, tmp_path: Path
) -> None:
    person = new_person(server)
    enrolled_app(server, person, tmp_path)
    first, other = Browserless(server), Browserless(server)
    ticket = saml_ticket(first, server)
    shown = start_push(first, ticket, person).json()
    # The same page asking again (a reload) gets the same request, not a second push.
    assert start_push(first, ticket, person).json()["transaction_id"] == shown["transaction_id"]
    other_ticket = saml_ticket(other, server)
    answers = [start_push(other, other_ticket, person) for _ in range(100)]
    assert {a.status_code for a in answers} == {429}
    assert answers[0].json()["error"] == "push_outstanding"
    assert 0 < int(answers[0].headers["Retry-After"]) <= 120
    assert "too many sign-in requests" in answers[-1].json()["error_description"]
    (waiting,) = Authenticator(tmp_path).pending()
    assert waiting.transaction_id == shown["transaction_id"]  # still the one and only

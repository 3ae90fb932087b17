"""The pages blueprint (/login, /enrol/<token>, /, /passkeys/remove, /logout) under stale,
foreign, malformed and hostile input: an error page (or JSON when asked) with an error id and
no trace, and nothing stored changed."""

from __future__ import annotations

import pytest

from tests.flask_idp.conftest import (
    Browser,
    Shell,
    assert_unchanged,
    html_error,
    json_error,
    signed_in_page,
    stored,
)

SESSION = "hideez_idp_session"


def _ticket(browser: Browser) -> str:
    start = browser.http.get("/saml/login?sp=http://localhost:18081/metadata")
    assert start.status_code == 303, start.get_data(as_text=True)
    return start.headers["Location"].split("ticket=", 1)[1]


def _signed_in(browser: Browser) -> bool:
    return browser.http.get("/").status_code == 200


@pytest.mark.parametrize(
    ("ticket", "text"),
    [
        ("x" * 30, "expired or was already completed"),
        ("x" * 65, "login ticket is malformed"),
        ("<script>alert(1)</script>", "expired or was already completed"),
    ],
    ids=["stale", "oversized", "hostile"],
)
def test_login_page_with_a_bad_ticket(browser: Browser, ticket: str, text: str) -> None:
    before = stored(browser.shell.runtime)
    page = html_error(browser.http.get("/login", query_string={"ticket": ticket}), 400, text)
    assert "<script>alert(1)" not in page
    assert_unchanged(before, stored(browser.shell.runtime))


def test_login_page_answers_json_when_asked(browser: Browser) -> None:
    response = browser.http.get(
        "/login", query_string={"ticket": "x" * 30}, headers={"Accept": "application/json"}
    )
    json_error(response, 400, "invalid_request", "expired")


def test_login_page_with_a_ticket_begun_in_another_browser(shell: Shell) -> None:
    ticket = _ticket(Browser(shell))
    stranger = Browser(shell)
    before = stored(shell.runtime)
    html_error(stranger.http.get(f"/login?ticket={ticket}"), 400, "started in another browser")
    assert_unchanged(before, stored(shell.runtime))


def test_a_spent_ticket_in_a_signed_in_browser_says_so(alice: Browser) -> None:
    returning = Browser(alice.shell)
    returning.device = alice.device
    ticket = _ticket(returning)
    assert returning.sign_in(ticket=ticket).status_code == 200
    before = stored(alice.shell.runtime)
    signed_in_page(returning.http.get(f"/login?ticket={ticket}"))  # Back: no dead end
    assert_unchanged(before, stored(alice.shell.runtime))


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_login_page_methods(browser: Browser, method: str) -> None:
    response = getattr(browser.http, method)("/login")
    html_error(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    ("token", "text"),
    [
        ("A" * 43, "enrolment link"),
        ("A" * 42, "enrolment link"),
        ("A" * 2000, "enrolment link"),
        ("%00" * 10, "enrolment link"),
        ("..%2F..%2Fetc", "not found"),  # decoded to a path no route matches
    ],
    ids=["unknown", "short", "huge", "nul", "traversal"],
)
def test_unknown_or_malformed_enrolment_links(browser: Browser, token: str, text: str) -> None:
    before = stored(browser.shell.runtime)
    html_error(browser.http.get(f"/enrol/{token}"), 404, text)
    assert_unchanged(before, stored(browser.shell.runtime))


def test_a_used_enrolment_link_explains_itself(shell: Shell) -> None:
    token = Browser(shell).enrol(shell.new_employee())
    before = stored(shell.runtime)
    html_error(Browser(shell).http.get(f"/enrol/{token}"), 410, "used")
    assert_unchanged(before, stored(shell.runtime))


def test_an_expired_enrolment_link(shell: Shell) -> None:
    token = shell.enrolment_token("bob")
    shell.clock.advance(25 * 3600)
    before = stored(shell.runtime)
    html_error(Browser(shell).http.get(f"/enrol/{token}"), 410, "expired")
    assert_unchanged(before, stored(shell.runtime))


def test_account_page_without_or_with_a_forged_session(browser: Browser) -> None:
    before = stored(browser.shell.runtime)
    assert browser.http.get("/").headers["Location"] == "/login"
    for forged in ("x" * 43, "", "a" * 4000, "'; DROP TABLE employees; --"):
        browser.http.set_cookie(SESSION, forged, domain="localhost")
        response = browser.http.get("/")
        assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize("csrf", [None, "", "f" * 64], ids=["missing", "empty", "wrong"])
@pytest.mark.parametrize("path", ["/logout", "/passkeys/remove"])
def test_forms_need_the_csrf_token(alice: Browser, path: str, csrf: str | None) -> None:
    shell = alice.shell
    (owned,) = shell.runtime.passkeys.list_for_employee(alice.employee_id)
    form = {"credential_id": owned.credential_id}
    if csrf is not None:
        form["csrf"] = csrf
    before = stored(shell.runtime)
    html_error(alice.http.post(path, data=form), 400, "CSRF token")
    assert_unchanged(before, stored(shell.runtime))
    assert _signed_in(alice)


def test_logout_with_another_browsers_csrf_token_keeps_the_session(
    shell: Shell, alice: Browser
) -> None:
    theirs = Browser(shell).csrf()
    html_error(alice.http.post("/logout", data={"csrf": theirs}), 400, "CSRF token")
    assert _signed_in(alice)


def test_logout_by_get_is_refused(alice: Browser) -> None:
    html_error(alice.http.get("/logout"), 405)
    assert _signed_in(alice)


def test_logout_without_a_session_changes_nothing(browser: Browser) -> None:
    csrf = browser.csrf()
    before = stored(browser.shell.runtime)
    response = browser.http.post("/logout", data={"csrf": csrf})
    assert response.status_code == 200
    assert_unchanged(before, stored(browser.shell.runtime))


def test_remove_passkey_without_a_session(browser: Browser) -> None:
    csrf = browser.csrf()
    before = stored(browser.shell.runtime)
    html_error(browser.http.post("/passkeys/remove", data={"csrf": csrf}), 401, "sign in first")
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize(
    "credential_id", ["", "no-such-credential", "x" * 5000], ids=["empty", "unknown", "huge"]
)
def test_remove_a_passkey_that_is_not_yours(alice: Browser, credential_id: str) -> None:
    csrf = alice.csrf("/")
    before = stored(alice.shell.runtime)
    response = alice.http.post(
        "/passkeys/remove", data={"csrf": csrf, "credential_id": credential_id}
    )
    html_error(response, 404, "no such passkey")
    assert_unchanged(before, stored(alice.shell.runtime))


def test_remove_someone_elses_passkey(shell: Shell, alice: Browser) -> None:
    other = Browser(shell)
    other.enrol(shell.new_employee())
    (theirs,) = shell.runtime.passkeys.list_for_employee(other.employee_id)
    csrf = alice.csrf("/")
    before = stored(shell.runtime)
    response = alice.http.post(
        "/passkeys/remove", data={"csrf": csrf, "credential_id": theirs.credential_id}
    )
    html_error(response, 404, "no such passkey")
    assert_unchanged(before, stored(shell.runtime))


def test_remove_the_only_passkey_is_refused(alice: Browser) -> None:
    shell = alice.shell
    (only,) = shell.runtime.passkeys.list_for_employee(alice.employee_id)
    csrf = alice.csrf("/")
    before = stored(shell.runtime)
    response = alice.http.post(
        "/passkeys/remove", data={"csrf": csrf, "credential_id": only.credential_id}
    )
    html_error(response, 409, "only passkey")
    assert_unchanged(before, stored(shell.runtime))


def test_remove_after_ten_minutes_needs_a_new_sign_in(alice: Browser) -> None:
    shell = alice.shell
    (owned,) = shell.runtime.passkeys.list_for_employee(alice.employee_id)
    csrf = alice.csrf("/")
    shell.clock.advance(11 * 60)
    before = stored(shell.runtime)
    response = alice.http.post(
        "/passkeys/remove", data={"csrf": csrf, "credential_id": owned.credential_id}
    )
    html_error(response, 401, "within 10 minutes")
    assert_unchanged(before, stored(shell.runtime))

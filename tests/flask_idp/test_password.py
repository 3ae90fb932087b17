"""/password/*: the two-factor mode's endpoints under refused input — a clear JSON error, and
nothing stored but the audit (and the rate counters) of the attempt."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from idp.directory.model import SsoMode
from tests.flask_idp.conftest import AUDIT, Browser, Shell, assert_unchanged, json_error, stored

PATHS = ("/password/login/verify", "/password/set")


@pytest.mark.parametrize("path", PATHS)
def test_get_and_missing_csrf_are_refused(browser: Browser, path: str) -> None:
    before = stored(browser.shell.runtime)
    json_error(browser.http.get(path), 405, "method_not_allowed")
    browser.csrf()
    json_error(browser.post_json(path, {}, None), 400, "invalid_request", "CSRF token")
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"username": "bob"}, "'password' must be a non-empty string"),
        ({"username": "bob", "password": 12345678901234}, "'password' must be a non-empty string"),
        ({"username": "bob", "password": "x" * 5000}, "longer than 4096"),
        ({"password": "long enough password"}, "'username' must be a non-empty string"),
        ({"username": "b" * 300, "password": "long enough password"}, "longer than 256"),
        ({"username": "bob", "password": "pw", "ticket": "t" * 65}, "ticket"),
    ],
)
def test_malformed_sign_in_attempts_are_refused_before_any_work(
    browser: Browser, body: dict[str, Any], text: str
) -> None:
    csrf = browser.csrf()
    before = stored(browser.shell.runtime)
    json_error(browser.post_json("/password/login/verify", body, csrf), 400, "invalid_request",
               text)  # fmt: skip
    assert_unchanged(before, stored(browser.shell.runtime))


def test_a_passwordless_employee_has_no_password_to_guess(browser: Browser) -> None:
    csrf = browser.csrf()
    body = {"username": "alice", "password": "correct horse battery staple"}
    answer = json_error(browser.post_json("/password/login/verify", body, csrf), 401,
                        "invalid_credentials")  # fmt: skip
    assert answer["error_description"] == "the username or password is not correct"


@pytest.mark.parametrize(
    ("token", "status"), [("not-a-real-token", 404), ("t" * 200, 400)], ids=["unknown", "long"]
)
def test_setting_a_password_needs_a_live_enrolment_link(
    browser: Browser, token: str, status: int
) -> None:
    csrf = browser.csrf()
    before = stored(browser.shell.runtime)
    response = browser.post_json("/password/set", {"token": token, "password": "p" * 20}, csrf)
    assert response.status_code == status and response.get_json()["error_id"]
    assert_unchanged(before, stored(browser.shell.runtime))


def test_a_passwordless_employee_cannot_set_one(shell: Shell, browser: Browser) -> None:
    token = shell.enrolment_token("alice")
    csrf = browser.csrf(f"/enrol/{token}")
    before = stored(shell.runtime)
    body = {"token": token, "password": "a good long password 7"}
    json_error(browser.post_json("/password/set", body, csrf), 403, "password_not_allowed")
    assert_unchanged(before, stored(shell.runtime), tables=AUDIT)


def test_a_weak_password_is_refused_and_nothing_is_stored(shell: Shell, browser: Browser) -> None:
    username = shell.new_employee()
    employee = shell.runtime.employees.get_by_username(username)
    assert employee is not None
    shell.runtime.employees.update(dataclasses.replace(employee, sso_mode=SsoMode.TWO_FACTOR))
    token = shell.enrolment_token(username)
    csrf = browser.csrf(f"/enrol/{token}")
    before = stored(shell.runtime)
    response = browser.post_json("/password/set", {"token": token, "password": "short"}, csrf)
    assert response.status_code == 400 and "characters" in response.get_json()["error_description"]
    assert_unchanged(before, stored(shell.runtime), tables=AUDIT)
    assert shell.runtime.passwords.get(employee.id) is None

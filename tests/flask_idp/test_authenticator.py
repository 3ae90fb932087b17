"""The authenticator endpoints under Flask's test client, on an app whose secrets are locked
(for one test) and whose policy lists passkeys only: refused input is a clear JSON error and
leaves nothing stored."""

from __future__ import annotations

import pytest

from idp.secrets import SecretBox
from tests.flask_idp.conftest import AUDIT, Browser, Shell, assert_unchanged, json_error, stored

BROWSER_POSTS = (
    "/push/login/start", "/push/login/poll", "/totp/login/verify", "/authenticator/enrol/start",
    "/authenticator/enrol/status", "/totp/enrol/start", "/totp/enrol/confirm",
)  # fmt: skip


@pytest.mark.parametrize("path", BROWSER_POSTS)
def test_get_missing_csrf_and_bad_json(browser: Browser, path: str) -> None:
    assert browser.http.get(path).status_code == 405
    json_error(browser.post_json(path, {}, None), 400, "invalid_request", "CSRF")
    csrf = browser.csrf()
    bad = browser.http.post(path, data="[1, 2", headers={"X-CSRF-Token": csrf},
                            content_type="application/json")  # fmt: skip
    json_error(bad, 400, "invalid_request", "not valid JSON")


def test_totp_set_up_is_refused_while_secrets_are_locked(shell: Shell, browser: Browser) -> None:
    token = shell.enrolment_token(shell.new_employee())
    csrf = browser.csrf(f"/enrol/{token}")
    unlocked, shell.runtime.secrets = shell.runtime.secrets, SecretBox()  # no master key
    try:
        before = stored(shell.runtime)
        locked = browser.post_json("/totp/enrol/start", {"token": token}, csrf)
        json_error(locked, 503, "secrets_locked", "master_key")
        assert_unchanged(before, stored(shell.runtime))
    finally:
        shell.runtime.secrets = unlocked


def test_push_and_codes_are_refused_where_the_policy_lists_neither(
    shell: Shell, browser: Browser
) -> None:
    start = browser.http.get("/saml/login?sp=" + _demo_sp(shell))
    assert start.status_code == 303 and "/login?ticket=" in start.headers["Location"]
    ticket = start.headers["Location"].split("ticket=", 1)[1]
    page = browser.http.get(f"/login?ticket={ticket}").get_data(as_text=True)
    assert '<section id="app-login"' in page and "hidden>" in page.split('id="app-login"')[1][:400]
    csrf = browser.csrf(f"/login?ticket={ticket}")
    before = stored(shell.runtime)
    push = browser.post_json("/push/login/start", {"ticket": ticket, "username": "alice"}, csrf)
    json_error(push, 403, "access_denied", "does not accept the authenticator app")
    code = browser.post_json(
        "/totp/login/verify", {"ticket": ticket, "username": "alice", "code": "123456"}, csrf
    )
    json_error(code, 403, "access_denied", "does not accept one-time codes")
    assert_unchanged(before, stored(shell.runtime), tables=AUDIT, new_keys=("rate:",))


def _demo_sp(shell: Shell) -> str:
    saml = shell.runtime.protocols.saml
    assert saml is not None
    (entity_id,) = [sp.entity_id for sp in saml.service_providers.values()
                    if sp.allow_idp_initiated]  # fmt: skip
    return entity_id


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/authenticator/v1/challenges"),
        ("POST", "/api/authenticator/v1/devices"),
        ("POST", "/api/authenticator/v1/challenges/" + "t" * 24 + "/answer"),
    ],
)
def test_unsigned_device_requests(shell: Shell, browser: Browser, method: str, path: str) -> None:
    before = stored(shell.runtime)
    response = browser.http.open(path, method=method, data=b"{}" if method == "POST" else None)
    body = response.get_json()
    assert response.status_code in (400, 401) and body["error"] in (
        "device_request_invalid", "invalid_device_input")  # fmt: skip
    assert "Traceback" not in body["error_description"]
    assert_unchanged(before, stored(shell.runtime))


def test_removal_needs_a_recent_sign_in(browser: Browser) -> None:
    csrf = browser.csrf()
    refused = browser.http.post("/authenticator/remove", data={"csrf": csrf, "factor": "app"},
                                headers={"Accept": "application/json"})  # fmt: skip
    json_error(refused, 401, "unauthorized", "sign in first")

"""/passkey/*: the JSON endpoints of the ceremonies under refused input — each answer is the
JSON error shape with an id, and the attempt leaves nothing stored but its audit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.flask_idp.conftest import (
    AUDIT,
    Browser,
    Shell,
    assert_unchanged,
    audit_kinds,
    json_error,
    stored,
)
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, mutate, unb64u

ENDPOINTS = (
    "/passkey/register/options",
    "/passkey/register/verify",
    "/passkey/login/options",
    "/passkey/login/verify",
)
RATE = ("rate:",)


def test_soft_webauthn_enrols_and_signs_in_on_a_new_browser(shell: Shell) -> None:
    first = Browser(shell)
    first.enrol("bob")
    other = Browser(shell)
    other.device = first.device
    done = other.sign_in()
    assert done.status_code == 200 and done.get_json() == {"ok": True, "redirect": "/"}
    assert "login_success" in audit_kinds(shell.runtime)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_refuses_get(browser: Browser, path: str) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.get(path)
    json_error(response, 405, "method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("csrf", [None, "", "0" * 64], ids=["missing", "empty", "wrong"])
def test_every_endpoint_needs_this_browsers_csrf_token(
    browser: Browser, path: str, csrf: str | None
) -> None:
    browser.csrf()
    before = stored(browser.shell.runtime)
    json_error(browser.post_json(path, {}, csrf), 400, "invalid_request", "CSRF token")
    assert_unchanged(before, stored(browser.shell.runtime))


def test_a_csrf_token_of_another_browser_is_refused(shell: Shell) -> None:
    theirs = Browser(shell).csrf()
    mine = Browser(shell)
    mine.csrf()
    response = mine.post_json("/passkey/login/options", {}, theirs)
    json_error(response, 400, "invalid_request", "CSRF token")


@pytest.mark.parametrize(
    ("body", "status", "error", "text"),
    [
        (b"{not json", 400, "invalid_request", "not valid JSON"),
        (b"[1, 2]", 400, "invalid_request", "must be a JSON object"),
        (b'"text"', 400, "invalid_request", "must be a JSON object"),
        (b"\xff\xfe", 400, "invalid_request", "not valid JSON"),
        (b"{" + b'"a": "' + b"x" * 70_000 + b'"}', 413, "request_too_large", "larger than"),
    ],
    ids=["broken", "array", "string", "not-utf8", "oversized"],
)
@pytest.mark.parametrize("path", ENDPOINTS)
def test_malformed_bodies(
    browser: Browser, path: str, body: bytes, status: int, error: str, text: str
) -> None:
    csrf = browser.csrf()
    before = stored(browser.shell.runtime)
    response = browser.http.post(
        path, data=body, headers={"X-CSRF-Token": csrf}, content_type="application/json"
    )
    json_error(response, status, error, text)
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"token": 5}, "'token' must be a non-empty string"),
        ({"token": ""}, "'token' must be a non-empty string"),
        ({"token": "A" * 129}, "'token' is longer than 128"),
        ({"token": ["a"]}, "'token' must be a non-empty string"),
    ],
)
def test_register_options_with_a_malformed_token(
    browser: Browser, body: dict[str, Any], text: str
) -> None:
    csrf = browser.csrf()
    before = stored(browser.shell.runtime)
    json_error(browser.post_json("/passkey/register/options", body, csrf), 400, "invalid_request",
               text)  # fmt: skip
    assert_unchanged(before, stored(browser.shell.runtime))


def test_register_options_with_an_unknown_token_issues_no_challenge(browser: Browser) -> None:
    csrf = browser.csrf()
    before = stored(browser.shell.runtime)
    response = browser.post_json("/passkey/register/options", {"token": "A" * 43}, csrf)
    assert response.status_code in (400, 404)
    json_error(response, response.status_code, response.get_json()["error"], "link")
    assert_unchanged(before, stored(browser.shell.runtime))


def test_register_options_without_token_or_session(browser: Browser) -> None:
    csrf = browser.csrf()
    before = stored(browser.shell.runtime)
    response = browser.post_json("/passkey/register/options", {}, csrf)
    json_error(response, 401, "unauthorized", "sign in first")
    assert_unchanged(before, stored(browser.shell.runtime))


def _registration(browser: Browser, username: str) -> tuple[str, str, dict[str, Any]]:
    token = browser.shell.enrolment_token(username)
    csrf = browser.csrf(f"/enrol/{token}")
    options = browser.post_json("/passkey/register/options", {"token": token}, csrf)
    assert options.status_code == 200
    return token, csrf, options.get_json()


def _crafted_registration(shell: Shell, username: str, options: dict[str, Any], **kw: Any) -> Any:
    key = CraftedKey(user_handle=shell.employee_id(username).encode(), rp_id="localhost")
    challenge = unb64u(options["publicKey"]["challenge"])
    args: dict[str, Any] = {"flags": UP | UV, "origin": "http://localhost:18080", **kw}
    return json.loads(key.register(challenge, **args))


@pytest.mark.parametrize(
    ("change", "error", "text"),
    [
        ({"name": "line\nbreak"}, "invalid_request", "printable characters"),
        ({"name": "x" * 65}, "invalid_request", "longer than 64"),
        ({"credential": "not an object"}, "invalid_request", "WebAuthn credential object"),
        ({"credential": {"pad": "x" * 40_000}}, "invalid_request", "larger than"),
        ({"handle": "nope"}, "invalid_challenge", "challenge handle"),
        ({"handle": ""}, "invalid_request", "'handle'"),
    ],
    ids=["name-newline", "name-long", "credential-string", "credential-huge", "handle-unknown",
         "handle-empty"],
)  # fmt: skip
def test_register_verify_refusals_keep_the_link_and_store_no_passkey(
    browser: Browser, change: dict[str, Any], error: str, text: str
) -> None:
    shell = browser.shell
    token, csrf, options = _registration(browser, "bob")
    body = {
        "token": token,
        "handle": options["handle"],
        "credential": _crafted_registration(shell, "bob", options),
        "name": "key",
        **change,
    }
    before = stored(shell.runtime)
    response = browser.post_json("/passkey/register/verify", body, csrf)
    json_error(response, 400, error, text)
    # An unspent challenge is spent only when the ceremony reached it.
    assert_unchanged(before, stored(shell.runtime), tables=AUDIT, spent=1)
    assert shell.runtime.enrolment.peek(token, now=shell.runtime.now())


def test_register_verify_with_a_hostile_origin_is_audited_and_keeps_the_link(
    browser: Browser,
) -> None:
    shell = browser.shell
    token, csrf, options = _registration(browser, "bob")
    body = {
        "token": token,
        "handle": options["handle"],
        "credential": _crafted_registration(shell, "bob", options, origin="https://phish.example"),
    }
    before = stored(shell.runtime)
    response = browser.post_json("/passkey/register/verify", body, csrf)
    json_error(response, 400, "passkey_rejected", "expected origin")
    assert_unchanged(before, stored(shell.runtime), tables=AUDIT, spent=1)
    assert audit_kinds(shell.runtime)[0] == "passkey_registration_failed"
    assert shell.runtime.enrolment.peek(token, now=shell.runtime.now())


def test_register_challenge_from_another_browser_is_refused(shell: Shell) -> None:
    owner = Browser(shell)
    token, _, options = _registration(owner, "bob")
    thief = Browser(shell)
    csrf = thief.csrf(f"/enrol/{token}")
    body = {
        "token": token,
        "handle": options["handle"],
        "credential": _crafted_registration(shell, "bob", options),
    }
    before = stored(shell.runtime)
    response = thief.post_json("/passkey/register/verify", body, csrf)
    json_error(response, 400, "invalid_challenge", "another browser")
    assert_unchanged(before, stored(shell.runtime), spent=1)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"ticket": "x" * 65}, "longer than 64"),
        ({"ticket": 7}, "'ticket' must be a non-empty string"),
        ({"ticket": "y" * 30}, "expired or was already completed"),
        ({"username": "u" * 257}, "'username' is longer than 256"),
        ({"username": {"$ne": ""}}, "'username' must be a non-empty string"),
    ],
    ids=["ticket-long", "ticket-number", "ticket-stale", "username-long", "username-object"],
)
def test_login_options_refusals(browser: Browser, body: dict[str, Any], text: str) -> None:
    csrf = browser.csrf()
    before = stored(browser.shell.runtime)
    response = browser.post_json("/passkey/login/options", body, csrf)
    json_error(response, 400, "invalid_request", text)
    assert_unchanged(before, stored(browser.shell.runtime))


def _ticket(browser: Browser) -> str:
    """A login ticket begun by ``browser`` (IdP-initiated SAML for the demo SP)."""
    start = browser.http.get("/saml/login?sp=http://localhost:18081/metadata")
    assert start.status_code == 303, start.get_data(as_text=True)
    return start.headers["Location"].split("ticket=", 1)[1]


def test_a_ticket_begun_in_another_browser_is_refused(shell: Shell) -> None:
    ticket = _ticket(Browser(shell))
    stranger = Browser(shell)
    csrf = stranger.csrf()
    before = stored(shell.runtime)
    response = stranger.post_json("/passkey/login/options", {"ticket": ticket}, csrf)
    json_error(response, 400, "invalid_request", "started in another browser")
    assert_unchanged(before, stored(shell.runtime))


def test_a_replayed_assertion_is_refused_before_anything_is_stored(alice: Browser) -> None:
    shell = alice.shell
    csrf, body, _ = alice.assertion()
    assert alice.post_json("/passkey/login/verify", body, csrf).status_code == 200
    before = stored(shell.runtime)
    response = alice.post_json("/passkey/login/verify", body, csrf)
    json_error(response, 400, "replay_detected", "already used")
    # Today the spent challenge is refused before the ceremony, so no login_failure is
    # audited for it: only the rate-limit counter moves.
    assert_unchanged(before, stored(shell.runtime), new_keys=RATE)


@pytest.mark.parametrize(
    ("path", "value", "status", "error", "text"),
    [
        (("response", "signature"), "AAAA", 401, None, "signature"),
        (("response", "clientDataJSON"), "!!!", 400, "invalid_request", ""),
        (("id",), "AAAA", 401, None, "not registered"),
        (("type",), "password", 400, "invalid_request", ""),
    ],
    ids=["bad-signature", "clientdata-not-base64", "unknown-credential", "wrong-type"],
)
def test_tampered_assertions_are_refused_and_leave_no_session(
    alice: Browser,
    path: tuple[str, ...],
    value: str,
    status: int,
    error: str | None,
    text: str,
) -> None:
    shell = alice.shell
    signed_out = Browser(shell)
    signed_out.device = alice.device
    csrf, body, _ = signed_out.assertion()
    body["credential"] = json.loads(mutate(json.dumps(body["credential"]), path, value))
    if path == ("id",):
        body["credential"]["rawId"] = value
    before = stored(shell.runtime)
    response = signed_out.post_json("/passkey/login/verify", body, csrf)
    assert response.status_code == status
    json_error(response, status, error or response.get_json()["error"], text)
    assert "Set-Cookie" not in response.headers or "hideez_session" not in str(
        response.headers.getlist("Set-Cookie")
    )
    assert_unchanged(before, stored(shell.runtime), tables=AUDIT, new_keys=RATE, spent=1)


def test_login_verify_with_a_crafted_key_nobody_registered(browser: Browser) -> None:
    shell = browser.shell
    csrf = browser.csrf()
    options = browser.post_json("/passkey/login/options", {}, csrf).get_json()
    key = CraftedKey(user_handle=b"nobody", rp_id="localhost")
    credential = key.assert_(unb64u(options["publicKey"]["challenge"]), flags=UP | UV,
                             origin="http://localhost:18080")  # fmt: skip
    before = stored(shell.runtime)
    body = {"handle": options["handle"], "credential": json.loads(credential)}
    response = browser.post_json("/passkey/login/verify", body, csrf)
    json_error(response, 401, response.get_json()["error"], "not registered")
    assert_unchanged(before, stored(shell.runtime), tables=AUDIT, new_keys=RATE, spent=1)

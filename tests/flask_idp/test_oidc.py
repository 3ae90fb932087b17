"""The OpenID Connect blueprint (/oidc/authorize, resume, consent, token, userinfo, logout, EAM
resume, JWKS) under unknown clients, unregistered redirects, repeated, oversized and hostile
parameters, missing CSRF and stale or foreign parked requests: an error page with an id where
the RP cannot be trusted, an OAuth error (redirect or JSON) where it can, and nothing stored
changed."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.entra_sim import CLIENT_SECRET
from tests.flask_idp.conftest import (
    AUDIT,
    Browser,
    Shell,
    assert_unchanged,
    html_error,
    signed_in_page,
    stored,
)

CB = "https://rp.example.com/cb"
CODE = {
    "response_type": "code",
    "client_id": "webapp",
    "redirect_uri": CB,
    "scope": "openid",
    "state": "st",
    "nonce": "nn",
}
BASIC = "Basic " + base64.b64encode(f"webapp:{CLIENT_SECRET}".encode()).decode()


def _redirect_error(response: Any) -> dict[str, list[str]]:
    assert response.status_code in (302, 303), response.status_code
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CB
    return parse_qs(location.query)


def _oauth_json(response: Any, status: int, error: str) -> dict[str, Any]:
    """Token and userinfo errors: RFC 6749 §5.2 / RFC 6750 §3 JSON, never cached."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body: dict[str, Any] = response.get_json()
    assert body["error"] == error, body
    assert body["error_description"] and "Traceback" not in body["error_description"]
    return body


@pytest.mark.parametrize(
    ("change", "text"),
    [
        ({"client_id": "nobody"}, "client"),
        ({"client_id": ""}, "client"),
        ({"redirect_uri": "https://evil.example/cb"}, "redirect_uri"),
        ({"redirect_uri": "https://rp.example.com/cb/../evil"}, "redirect_uri"),
        ({"client_id": ["webapp", "spa"]}, "client_id"),
        ({"state": "s" * 5000}, "state"),  # too long to echo back safely
    ],
    ids=[
        "unknown-client",
        "empty-client",
        "evil-redirect",
        "dot-segment",
        "client-twice",
        "huge-state",
    ],
)
def test_untrusted_targets_get_an_error_page_never_a_redirect(
    browser: Browser, change: dict[str, Any], text: str
) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.get("/oidc/authorize", query_string={**CODE, **change})
    html_error(response, 400, text)
    assert "Location" not in response.headers
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"prompt": "none"}, "login_required"),
        ({"nonce": ["a", "b"]}, "invalid_request"),
    ],
    ids=["token-flow", "no-openid", "request-object", "prompt-none", "nonce-twice"],
)
def test_protocol_errors_go_back_to_a_registered_redirect(
    browser: Browser, change: dict[str, Any], error: str
) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.get("/oidc/authorize", query_string={**CODE, **change})
    query = _redirect_error(response)
    assert query["error"] == [error], query
    assert "code" not in query
    # A refused prompt=none is audited as a failed sign-in; nothing else is stored.
    audited = AUDIT if error == "login_required" else ()
    assert_unchanged(before, stored(browser.shell.runtime), tables=audited)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/oidc/authorize"),
        ("post", "/oidc/authorize/resume"),
        ("get", "/oidc/consent"),
        ("get", "/oidc/token"),
        ("delete", "/oidc/userinfo"),
        ("put", "/oidc/logout"),
        ("post", "/oidc/eam/resume"),
        ("post", "/oidc/jwks"),
    ],
)
def test_wrong_methods(browser: Browser, method: str, path: str) -> None:
    response = getattr(browser.http, method)(path)
    assert response.status_code == 405
    assert "Allow" in response.headers
    assert "Traceback" not in response.text


@pytest.mark.parametrize("path", ["/oidc/authorize/resume", "/oidc/eam/resume"])
@pytest.mark.parametrize("k", ["", "x" * 30, "x" * 65], ids=["missing", "stale", "long"])
def test_resume_with_a_bad_key(browser: Browser, path: str, k: str) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.get(path, query_string={"k": k} if k else {})
    html_error(response, 400, "expired or was already answered")
    assert "Location" not in response.headers
    assert_unchanged(before, stored(browser.shell.runtime))


def _parked(browser: Browser, **extra: str) -> str:
    """Begin a code flow without a session, sign in; the resume URL (``?k=``)."""
    start = browser.http.get("/oidc/authorize", query_string={**CODE, **extra})
    assert start.status_code == 303, start.status_code
    done = browser.sign_in(ticket=start.headers["Location"].split("ticket=", 1)[1])
    assert done.status_code == 200, done.text
    resume: str = done.get_json()["redirect"]
    assert resume.startswith("/oidc/authorize/resume?k=")
    return resume


def test_a_parked_request_resumes_once_and_only_in_its_browser(alice: Browser) -> None:
    shell = alice.shell
    owner = Browser(shell)
    owner.device = alice.device
    resume = _parked(owner)
    stranger = Browser(shell)
    stranger.enrol(shell.new_employee())
    before = stored(shell.runtime)
    html_error(stranger.http.get(resume), 400, "started in another browser")
    assert_unchanged(before, stored(shell.runtime))
    answer = owner.http.get(resume)
    assert "code" in _redirect_error(answer)
    before = stored(shell.runtime)
    signed_in_page(owner.http.get(resume))  # Back once more: answered already, said plainly
    assert_unchanged(before, stored(shell.runtime))


def _consent_key(alice: Browser) -> str:
    response = alice.http.get("/oidc/authorize", query_string={**CODE, "client_id": "consenting"})
    assert response.status_code == 200, response.status_code
    page = response.text
    return page.split('name="k" value="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("csrf", [None, "", "0" * 64], ids=["missing", "empty", "wrong"])
def test_consent_needs_the_csrf_token(alice: Browser, csrf: str | None) -> None:
    key = _consent_key(alice)
    form = {"k": key, "decision": "allow"}
    if csrf is not None:
        form["csrf"] = csrf
    before = stored(alice.shell.runtime)
    html_error(alice.http.post("/oidc/consent", data=form), 400, "CSRF token")
    assert_unchanged(before, stored(alice.shell.runtime))


@pytest.mark.parametrize("key", ["", "x" * 30, "x" * 65], ids=["missing", "stale", "long"])
def test_consent_for_a_stale_request(alice: Browser, key: str) -> None:
    csrf = alice.csrf("/")
    before = stored(alice.shell.runtime)
    response = alice.http.post("/oidc/consent", data={"k": key, "decision": "allow", "csrf": csrf})
    html_error(response, 400, "expired")
    assert_unchanged(before, stored(alice.shell.runtime))


def test_consent_from_another_browser(shell: Shell, alice: Browser) -> None:
    key = _consent_key(alice)
    other = Browser(shell)
    other.enrol(shell.new_employee())
    csrf = other.csrf("/")
    before = stored(shell.runtime)
    response = other.http.post("/oidc/consent", data={"k": key, "decision": "allow", "csrf": csrf})
    html_error(response, 400, "another browser")
    assert_unchanged(before, stored(shell.runtime))


def test_consent_denied_answers_access_denied_and_grants_nothing(alice: Browser) -> None:
    key = _consent_key(alice)
    csrf = alice.csrf("/")
    before = stored(alice.shell.runtime)
    response = alice.http.post("/oidc/consent", data={"k": key, "decision": "deny", "csrf": csrf})
    assert _redirect_error(response)["error"] == ["access_denied"]
    # The parked request is spent; no consent or code is stored.
    assert_unchanged(before, stored(alice.shell.runtime), spent=1)


@pytest.mark.parametrize(
    ("headers", "form", "status", "error"),
    [
        ({}, {"grant_type": "authorization_code", "code": "x"}, 401, "invalid_client"),
        ({"Authorization": "Basic !!!"}, {"grant_type": "authorization_code"}, 401,
         "invalid_client"),
        ({"Authorization": "Basic " + base64.b64encode(b"webapp:wrong").decode()},
         {"grant_type": "authorization_code", "code": "x"}, 401, "invalid_client"),
        ({"Authorization": BASIC}, {"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"Authorization": BASIC}, {"grant_type": "authorization_code", "code": "forged",
                                    "redirect_uri": CB}, 400, "invalid_grant"),
        ({"Authorization": BASIC}, {"grant_type": "refresh_token", "refresh_token": "forged"},
         400, "invalid_grant"),
        ({"Authorization": BASIC}, {}, 400, "unsupported_grant_type"),
    ],
    ids=["no-auth", "garbled-basic", "wrong-secret", "password-grant", "forged-code",
         "forged-refresh", "no-grant"],
)  # fmt: skip
def test_token_endpoint_refusals(
    browser: Browser, headers: dict[str, str], form: dict[str, str], status: int, error: str
) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.post("/oidc/token", data=form, headers=headers)
    _oauth_json(response, status, error)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
    assert_unchanged(before, stored(browser.shell.runtime))


def test_a_replayed_code_is_refused(alice: Browser) -> None:
    answer = alice.http.get("/oidc/authorize", query_string=CODE)
    code = _redirect_error(answer)["code"][0]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": CB}
    first = alice.http.post("/oidc/token", data=form, headers={"Authorization": BASIC})
    assert first.status_code == 200, first.text
    again = alice.http.post("/oidc/token", data=form, headers={"Authorization": BASIC})
    _oauth_json(again, 400, "invalid_grant")


@pytest.mark.parametrize(
    ("headers", "query", "error"),
    [
        ({}, {}, "invalid_token"),
        ({"Authorization": "Bearer forged"}, {}, "invalid_token"),
        ({"Authorization": "Bearer a"}, {"access_token": "b"}, "invalid_request"),
        ({"Authorization": "Bearer " + "x" * 10_000}, {}, "invalid_token"),
    ],
    ids=["none", "forged", "two-methods", "huge"],
)
def test_userinfo_refusals(
    browser: Browser, headers: dict[str, str], query: dict[str, str], error: str
) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.get("/oidc/userinfo", headers=headers, query_string=query)
    status = 401 if error == "invalid_token" else 400
    _oauth_json(response, status, error)
    if status == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize(
    "params",
    [
        {"client_id": "webapp", "post_logout_redirect_uri": "https://evil.example/bye"},
        {"post_logout_redirect_uri": "https://rp.example.com/bye"},
        {"id_token_hint": "not-a-jwt", "post_logout_redirect_uri": "https://rp.example.com/bye"},
        {"client_id": "nobody", "post_logout_redirect_uri": "https://rp.example.com/bye"},
    ],
    ids=["evil-redirect", "redirect-without-client", "garbled-hint", "unknown-client"],
)
def test_logout_refusals_keep_the_session(alice: Browser, params: dict[str, str]) -> None:
    before = stored(alice.shell.runtime)
    response = alice.http.get("/oidc/logout", query_string=params)
    html_error(response, 400)
    assert "Location" not in response.headers
    assert_unchanged(before, stored(alice.shell.runtime))
    assert alice.http.get("/").status_code == 200


def test_logout_without_a_hint_asks_first(alice: Browser) -> None:
    before = stored(alice.shell.runtime)
    page = alice.http.get("/oidc/logout")
    assert page.status_code == 200 and "Sign out?" in page.text
    assert_unchanged(before, stored(alice.shell.runtime))
    assert alice.http.get("/").status_code == 200


@pytest.mark.parametrize("csrf", [None, "", "0" * 64], ids=["missing", "empty", "wrong"])
def test_confirmed_logout_needs_the_csrf_token(alice: Browser, csrf: str | None) -> None:
    form = {"confirm": "yes"}
    if csrf is not None:
        form["csrf"] = csrf
    before = stored(alice.shell.runtime)
    html_error(alice.http.post("/oidc/logout", data=form), 400, "CSRF token")
    assert_unchanged(before, stored(alice.shell.runtime))
    assert alice.http.get("/").status_code == 200


def test_eam_requests_from_an_unknown_client_are_not_posted_anywhere(browser: Browser) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.post(
        "/oidc/authorize",
        data={"client_id": "entra-eam-client", "redirect_uri": "https://evil.example/cb",
              "response_type": "id_token", "response_mode": "form_post", "scope": "openid",
              "nonce": "n", "id_token_hint": "x", "claims": "{}"},
    )  # fmt: skip
    assert response.status_code == 400
    html_error(response, 400)
    assert "evil.example" not in response.text.split("error-description", 1)[0]
    assert_unchanged(before, stored(browser.shell.runtime))

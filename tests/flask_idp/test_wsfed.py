"""The WS-Federation blueprint (/wsfed, /wsfed/resume, the federation metadata) under missing,
repeated, oversized and hostile parameters and stale or foreign parked sign-ins: an error page
with an id, never a redirect or a token, and nothing stored changed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_wsfed_exchange import HOSTILE, OWA, OWA_CTX
from tests.flask_idp.conftest import (
    AUDIT,
    Browser,
    Shell,
    assert_unchanged,
    audit_kinds,
    html_error,
    signed_in_page,
    stored,
)


def _no_token(response: Any) -> None:
    assert "wresult" not in response.text
    assert "Location" not in response.headers


@pytest.mark.parametrize(("params", "status", "text"), HOSTILE)
def test_hostile_requests_from_a_signed_in_browser(
    alice: Browser, params: dict[str, str], status: int, text: str
) -> None:
    before = stored(alice.shell.runtime)
    response = alice.http.get("/wsfed", query_string=params)
    html_error(response, status, text)
    _no_token(response)
    assert_unchanged(before, stored(alice.shell.runtime))


@pytest.mark.parametrize(
    ("query", "form", "text"),
    [
        ({"wa": ["wsignin1.0", "wsignin1.0"], "wtrealm": OWA}, None, "wa must appear once"),
        ({"wa": "wsignin1.0", "wtrealm": [OWA, OWA]}, None, "wtrealm must appear once"),
        ({"wa": "wsignin1.0", "wtrealm": OWA}, {"wtrealm": OWA}, "wtrealm must appear once"),
        ({}, {"wa": "wsignin1.0", "wtrealm": OWA, "wreply": "javascript:alert(1)"}, "wreply"),
        ({"wa": "wsignin1.0", "wtrealm": OWA, "wfresh": "soon"}, None, "wfresh"),
        ({"wa": "wsignin1.0", "wtrealm": "\x00" + OWA}, None, ""),
    ],
    ids=["wa-twice", "wtrealm-twice", "query-and-form", "script-wreply", "bad-wfresh", "nul"],
)
def test_repeated_and_malformed_parameters(
    alice: Browser, query: dict[str, Any], form: dict[str, str] | None, text: str
) -> None:
    before = stored(alice.shell.runtime)
    if form is None:
        response = alice.http.get("/wsfed", query_string=query)
    else:
        response = alice.http.post("/wsfed", query_string=query, data=form)
    html_error(response, 400, text)
    _no_token(response)
    assert_unchanged(before, stored(alice.shell.runtime))


def test_an_oversized_post(browser: Browser) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.post(
        "/wsfed", data={"wa": "wsignin1.0", "wtrealm": OWA, "wctx": "x" * 300_000}
    )
    assert response.status_code == 413
    html_error(response, 413)
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize(
    "k", ["", "not-a-handle", "x" * 65], ids=["missing", "unknown", "too-long"]
)
def test_resume_with_a_bad_key(browser: Browser, k: str) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.get("/wsfed/resume", query_string={"k": k} if k else {})
    html_error(response, 400, "expired or was already answered")
    _no_token(response)
    assert_unchanged(before, stored(browser.shell.runtime))


def _parked(browser: Browser) -> str:
    start = browser.http.get(
        "/wsfed", query_string={"wa": "wsignin1.0", "wtrealm": OWA, "wctx": OWA_CTX}
    )
    assert start.status_code == 303, start.status_code
    done = browser.sign_in(ticket=start.headers["Location"].split("ticket=", 1)[1])
    assert done.status_code == 200, done.text
    resume: str = done.get_json()["redirect"]
    assert resume.startswith("/wsfed/resume?k=")
    return resume


def test_a_parked_sign_in_resumes_once_and_only_in_its_browser(shell: Shell) -> None:
    enrolled = Browser(shell)
    enrolled.enrol("alice")  # the demo's alice has the objectSid Exchange needs
    owner = Browser(shell)
    owner.device = enrolled.device
    resume = _parked(owner)
    stranger = Browser(shell)
    stranger.enrol(shell.new_employee())
    before = stored(shell.runtime)
    html_error(stranger.http.get(resume), 400, "started in another browser")
    assert_unchanged(before, stored(shell.runtime))
    answer = owner.http.get(resume)
    assert answer.status_code == 200 and "wresult" in answer.text
    before = stored(shell.runtime)
    signed_in_page(owner.http.get(resume))  # Back once more: answered already, said plainly
    assert_unchanged(before, stored(shell.runtime))


def test_an_employee_without_the_claims_exchange_needs_gets_no_token(alice: Browser) -> None:
    shell = alice.shell
    before = stored(shell.runtime)
    response = alice.http.get(
        "/wsfed", query_string={"wa": "wsignin1.0", "wtrealm": OWA, "wctx": OWA_CTX}
    )
    html_error(response, 403)
    _no_token(response)
    # Only the audit of the refusal is written; no participant joins the session.
    assert_unchanged(before, stored(shell.runtime), tables=AUDIT)
    assert audit_kinds(shell.runtime)[0] == "login_failure"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/wsfed"),
        ("delete", "/wsfed/"),
        ("post", "/wsfed/resume"),
        ("post", "/FederationMetadata/2007-06/FederationMetadata.xml"),
    ],
)
def test_wrong_methods(browser: Browser, method: str, path: str) -> None:
    response = getattr(browser.http, method)(path)
    html_error(response, 405)
    assert "GET" in response.headers["Allow"]

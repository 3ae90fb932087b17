"""The SAML SSO blueprint (/saml/login, /saml/resume, /saml/metadata) under malformed, oversized,
replayed, forged and hostile requests and stale or foreign parked requests (``?k=``): an error
page with an id (never a redirect to an ACS), and nothing stored changed."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from idp.keys import load_signing_key
from tests.flask_idp.conftest import (
    SP_PORT,
    Browser,
    Shell,
    assert_unchanged,
    html_error,
    signed_in_page,
    stored,
)
from tests.idp.saml.onelogin_sp import post_login

SP_ENTITY = f"http://localhost:{SP_PORT}/metadata"
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


def _raw_settings(shell: Shell) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads((shell.directory / "sp/settings.json").read_text())
    return settings


def redirect_request(shell: Shell) -> str:
    """Path and query of a signed HTTP-Redirect AuthnRequest from the demo SP (python3-saml)."""
    req = {"https": "off", "http_host": "localhost", "server_port": SP_PORT,
           "script_name": "/login", "get_data": {}, "post_data": {}}  # fmt: skip
    url = OneLogin_Saml2_Auth(req, old_settings=_raw_settings(shell)).login(return_to="/")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def post_request(shell: Shell, *, signed: bool = True) -> dict[str, str]:
    raw = _raw_settings(shell)
    raw["idp"]["singleSignOnService"]["binding"] = POST_BINDING
    sp = shell.directory / "sp"
    key = load_signing_key(sp / "sp.key", sp / "sp.crt") if signed else None
    fields, _ = post_login(OneLogin_Saml2_Settings(raw), sp_key=key)
    return fields


def _b64(xml: bytes) -> str:
    return base64.b64encode(xml).decode()


def _no_answer_to_the_sp(response: Any) -> None:
    assert "SAMLResponse" not in response.text
    assert "Location" not in response.headers


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("", 400, "expected a SAMLRequest"),
        ("?SAMLRequest=", 400, ""),
        ("?SAMLRequest=%21%21%21not-base64", 400, ""),
        ("?SAMLRequest=" + _b64(b"plain, not deflated"), 400, ""),
        ("?sp=https://unknown.example/sp", 403, "no service provider is configured"),
        ("?sp=", 403, "no service provider is configured"),
    ],
    ids=["nothing", "empty", "not-base64", "not-deflated", "unknown-sp", "empty-sp"],
)
def test_malformed_redirect_requests(browser: Browser, query: str, status: int, text: str) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.get("/saml/login" + query)
    html_error(response, status, text)
    _no_answer_to_the_sp(response)
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize(
    ("xml", "text"),
    [
        (b"<not-xml", ""),
        (b"<samlp:LogoutRequest xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>", ""),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;'
            b"</samlp:AuthnRequest>",
            "DOCTYPE",
        ),
        (
            b'<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
            b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&b;'
            b"</samlp:AuthnRequest>",
            "DOCTYPE",
        ),
    ],
    ids=["broken", "wrong-message", "xxe", "entity-expansion"],
)
def test_malformed_and_hostile_post_requests(browser: Browser, xml: bytes, text: str) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.post("/saml/login", data={"SAMLRequest": _b64(xml)})
    page = html_error(response, 400, text)
    assert "root:" not in page
    _no_answer_to_the_sp(response)
    assert_unchanged(before, stored(browser.shell.runtime))


def test_oversized_requests(browser: Browser) -> None:
    before = stored(browser.shell.runtime)
    html_error(browser.http.post("/saml/login", data={"SAMLRequest": "A" * 250_000}), 413)
    bomb = base64.b64encode(zlib.compress(b"<x>" + b"a" * 300_000 + b"</x>")[2:-4]).decode()
    response = browser.http.get("/saml/login", query_string={"SAMLRequest": bomb})
    assert response.status_code in (400, 413)
    html_error(response, response.status_code)
    assert_unchanged(before, stored(browser.shell.runtime))


def test_unsigned_request_from_an_sp_that_signs(browser: Browser) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.post("/saml/login", data=post_request(browser.shell, signed=False))
    assert response.status_code in (400, 403)
    html_error(response, response.status_code, "sign")
    _no_answer_to_the_sp(response)
    assert_unchanged(before, stored(browser.shell.runtime))


def test_a_redirect_request_with_a_forged_signature(browser: Browser) -> None:
    path, _, query = redirect_request(browser.shell).partition("?")
    params = dict(parse_qsl(query))
    params["Signature"] = base64.b64encode(b"\x00" * 256).decode()
    before = stored(browser.shell.runtime)
    response = browser.http.get(f"{path}?{urlencode(params)}")
    assert response.status_code in (400, 403)
    html_error(response, response.status_code, "signature")
    _no_answer_to_the_sp(response)
    assert_unchanged(before, stored(browser.shell.runtime))


def test_a_replayed_request_is_refused_and_parks_nothing(browser: Browser) -> None:
    fields = post_request(browser.shell)
    first = browser.http.post("/saml/login", data=fields)
    assert first.status_code == 303 and "/login?ticket=" in first.headers["Location"]
    before = stored(browser.shell.runtime)
    again = browser.http.post("/saml/login", data=fields)
    assert again.status_code in (400, 403)
    page = html_error(again, again.status_code)
    assert "already" in page or "replay" in page.lower()
    assert_unchanged(before, stored(browser.shell.runtime))


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
@pytest.mark.parametrize("path", ["/saml/login", "/saml/resume", "/saml/metadata"])
def test_wrong_methods(browser: Browser, path: str, method: str) -> None:
    response = getattr(browser.http, method)(path)
    html_error(response, 405)
    assert "GET" in response.headers["Allow"]


@pytest.mark.parametrize(
    "k", ["", "x" * 30, "x" * 65, "../../etc/passwd"], ids=["missing", "stale", "long", "path"]
)
def test_resume_with_a_bad_key(browser: Browser, k: str) -> None:
    before = stored(browser.shell.runtime)
    response = browser.http.get("/saml/resume", query_string={"k": k} if k else {})
    html_error(response, 400, "expired or was already answered")
    _no_answer_to_the_sp(response)
    assert_unchanged(before, stored(browser.shell.runtime))


def _parked(browser: Browser) -> str:
    """Begin SP-initiated sign-in without a session; the resume URL the ticket leads to."""
    start = browser.http.get(redirect_request(browser.shell))
    assert start.status_code == 303, start.status_code
    ticket = start.headers["Location"].split("ticket=", 1)[1]
    done = browser.sign_in(ticket=ticket)
    assert done.status_code == 200, done.text
    resume: str = done.get_json()["redirect"]
    assert resume.startswith("/saml/resume?k=")
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
    assert answer.status_code == 200 and "SAMLResponse" in answer.text
    before = stored(shell.runtime)
    signed_in_page(owner.http.get(resume))  # Back once more: answered already, said plainly
    assert_unchanged(before, stored(shell.runtime))

"""/saml/logout under malformed, forged, replayed and unsolicited messages: an error page with
an id, the browser's session still there, and nothing stored changed."""

from __future__ import annotations

import base64
import json

import pytest
from onelogin.saml2.constants import OneLogin_Saml2_Constants as K
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from tests.flask_idp.conftest import Browser, Shell, assert_unchanged, html_error, stored

XXE = b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
LOGOUT_RESPONSE = (
    b'<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    b'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" '
    b'IssueInstant="2026-01-01T00:00:00Z" InResponseTo="_q1">'
    b"<saml:Issuer>http://localhost:18081/metadata</saml:Issuer><samlp:Status>"
    b'<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
    b"</samlp:LogoutResponse>"
)


def logout_request(shell: Shell, *, name_id: str, signed: bool = True) -> str:
    """A base64 LogoutRequest (HTTP-POST binding) from the demo SP, enveloped-signed."""
    sp = shell.directory / "sp"
    settings = OneLogin_Saml2_Settings(json.loads((sp / "settings.json").read_text()))
    request = OneLogin_Saml2_Logout_Request(settings, name_id=name_id,
                                            name_id_format=EMAIL_FORMAT)  # fmt: skip
    xml = request.get_xml()
    if signed:
        xml = OneLogin_Saml2_Utils.add_sign(
            xml,
            (sp / "sp.key").read_text(),
            (sp / "sp.crt").read_text(),
            sign_algorithm=K.RSA_SHA256,
            digest_algorithm=K.SHA256,
        )
    return base64.b64encode(xml if isinstance(xml, bytes) else xml.encode()).decode()


def _email(browser: Browser) -> str:
    employee = browser.shell.runtime.employees.get(browser.employee_id)
    assert employee is not None
    return employee.email


def _still_signed_in(browser: Browser) -> None:
    assert browser.http.get("/").status_code == 200


def _b64(xml: bytes) -> str:
    return base64.b64encode(xml).decode()


@pytest.mark.parametrize(
    ("method", "data", "text"),
    [
        ("get", None, "expected a SAMLRequest or SAMLResponse"),
        ("post", {}, ""),
        ("post", {"SAMLRequest": "%%%"}, ""),
        ("post", {"SAMLRequest": _b64(b"<unclosed")}, ""),
        ("post", {"SAMLRequest": _b64(XXE)}, "DOCTYPE"),
        ("post", {"SAMLRequest": "A" * 250_000}, ""),
    ],
    ids=["nothing", "empty-form", "not-base64", "broken-xml", "xxe", "oversized"],
)
def test_malformed_logout_messages_keep_the_session(
    alice: Browser, method: str, data: dict[str, str] | None, text: str
) -> None:
    before = stored(alice.shell.runtime)
    response = getattr(alice.http, method)("/saml/logout", data=data)
    assert response.status_code in (400, 413)
    page = html_error(response, response.status_code, text)
    assert "root:" not in page
    assert_unchanged(before, stored(alice.shell.runtime))
    _still_signed_in(alice)


def test_an_unsigned_logout_request_keeps_the_session(alice: Browser) -> None:
    unsigned = logout_request(alice.shell, name_id=_email(alice), signed=False)
    before = stored(alice.shell.runtime)
    response = alice.http.post("/saml/logout", data={"SAMLRequest": unsigned})
    assert response.status_code in (400, 403)
    html_error(response, response.status_code, "sign")
    assert_unchanged(before, stored(alice.shell.runtime))
    _still_signed_in(alice)


def test_a_logout_request_with_a_tampered_name_id_keeps_the_session(alice: Browser) -> None:
    signed = base64.b64decode(logout_request(alice.shell, name_id=_email(alice)))
    forged = signed.replace(_email(alice).encode(), b"mallory@example.com")
    assert forged != signed
    before = stored(alice.shell.runtime)
    response = alice.http.post("/saml/logout", data={"SAMLRequest": _b64(forged)})
    assert response.status_code in (400, 403)
    html_error(response, response.status_code)
    assert_unchanged(before, stored(alice.shell.runtime))
    _still_signed_in(alice)


def test_a_replayed_logout_request_is_refused(shell: Shell, alice: Browser) -> None:
    signed = logout_request(shell, name_id=_email(alice))
    done = alice.http.post("/saml/logout", data={"SAMLRequest": signed})
    assert done.status_code == 303 and "/sls?SAMLResponse=" in done.headers["Location"]
    again = Browser(shell)
    again.enrol(shell.new_employee())
    before = stored(shell.runtime)
    replay = again.http.post("/saml/logout", data={"SAMLRequest": signed})
    assert replay.status_code in (400, 403)
    page = html_error(replay, replay.status_code)
    assert "already" in page or "replay" in page.lower()
    assert_unchanged(before, stored(shell.runtime))
    _still_signed_in(again)


@pytest.mark.parametrize(
    "relay_state", [None, "", "x" * 30, "x" * 65], ids=["none", "empty", "stale", "long"]
)
def test_an_unsolicited_logout_response_is_refused(alice: Browser, relay_state: str | None) -> None:
    form = {"SAMLResponse": _b64(LOGOUT_RESPONSE)}
    if relay_state is not None:
        form["RelayState"] = relay_state
    before = stored(alice.shell.runtime)
    response = alice.http.post("/saml/logout", data=form)
    html_error(response, 400, "no logout is in progress")
    assert_unchanged(before, stored(alice.shell.runtime))
    _still_signed_in(alice)


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_wrong_methods(alice: Browser, method: str) -> None:
    response = getattr(alice.http, method)("/saml/logout")
    html_error(response, 405)
    assert {"GET", "POST"} <= set(response.headers["Allow"].split(", "))
    _still_signed_in(alice)

"""U2F-only security keys (CTAP1: no resident key, no user verification) in headless Chromium
with a DevTools virtual authenticator of ``protocol: u2f``: the configuration docs/passkeys.md
gives for them works end to end, and a configuration they cannot meet refuses them at
enrolment with a message that says why, logged and audited."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from lxml import etree

from idp.audit import AuditKind
from idp.factors.passkey_options import ZERO_AAGUID
from idp.policy import PRESENCE_ACR, REFEDS_MFA
from tests.e2e.server import RunningServer
from tests.e2e.test_browser_passkey import ARGS, CHROMIUM

pytestmark = pytest.mark.browser

RP_NAME = "  rp_name: Hideez IdP (demo)\n"
POLICY = (
    "    user_verification: true\n"
    "    authn_context_class_ref: https://refeds.org/profile/mfa\n"
    "    acr: https://refeds.org/profile/mfa\n"
)


DEMO_SECTIONS = "webauthn:\n" + RP_NAME + "policies:\n  default:\n    factors: [passkey]\n" + POLICY
DOCS = Path(__file__).resolve().parents[2] / "docs" / "passkeys.md"


def u2f_settings(*, attestation: str) -> dict[str, str]:
    """The demo's webauthn and policies sections replaced by docs/passkeys.md's U2F setup,
    as written there (``attestation`` swapped when asked)."""
    section = DOCS.read_text().split("### Setting up for U2F-only security keys", 1)[1]
    documented = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert "attestation: direct" in documented
    documented = documented.replace("attestation: direct", f"attestation: {attestation}")
    return {DEMO_SECTIONS: documented.replace("webauthn:\n", "webauthn:\n" + RP_NAME, 1)}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def u2f_page(browser: Any) -> Iterator[Any]:
    """A page whose browser has one U2F-only USB key plugged in (touched automatically)."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "u2f",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": False,
                "automaticPresenceSimulation": True,
            }
        },
    )
    yield page
    context.close()


def enrol(page: Any, server: RunningServer, username: str) -> None:
    page.goto(server.enrolment_link(username))
    page.click("#register")
    page.wait_for_url(server.url("/"))


def sign_in_by_username(page: Any, server: RunningServer, username: str) -> None:
    page.goto(server.url("/login"))
    page.fill("#username", username)  # the key stores no account: the IdP lists its id
    page.click("#signin")
    page.wait_for_url(server.url("/"))


def test_the_documented_u2f_setup_enrols_signs_in_and_reaches_the_sp(
    u2f_page: Any, make_idp_server: Any
) -> None:
    server = make_idp_server(replace=u2f_settings(attestation="direct"))
    enrol(u2f_page, server, "bob")
    (stored,) = server.runtime.passkeys.list_for_employee(server.employee("bob").id)
    assert (stored.attestation_format, stored.aaguid) == ("fido-u2f", ZERO_AAGUID)
    assert not stored.user_verified

    u2f_page.context.clear_cookies()
    sign_in_by_username(u2f_page, server, "bob")
    assert "bob" in u2f_page.locator("h1").inner_text().lower()

    # On to the SAML SP with that session: the assertion says what happened (no MFA claim).
    posted: list[str] = []
    u2f_page.on(
        "request",
        lambda r: posted.append(r.post_data or "") if r.url.endswith("/acs") else None,
    )
    u2f_page.goto(server.sp_url + "/login")
    u2f_page.wait_for_url(server.sp_url + "/")
    assert "bob@example.com" in u2f_page.locator("#who").inner_text()
    xml = base64.b64decode(parse_qs(posted[-1])["SAMLResponse"][0])
    class_ref = etree.fromstring(xml).findtext(
        ".//{urn:oasis:names:tc:SAML:2.0:assertion}AuthnContextClassRef"
    )
    assert class_ref == "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
    assert REFEDS_MFA.encode() not in xml and PRESENCE_ACR.encode() not in xml
    logins = server.runtime.audit.list(kind=AuditKind.LOGIN_SUCCESS, limit=10).items
    assert logins and logins[0].factor == "passkey"


def test_without_direct_attestation_the_format_recorded_is_none(
    u2f_page: Any, make_idp_server: Any
) -> None:
    server = make_idp_server(replace=u2f_settings(attestation="none"), with_sp=False)
    enrol(u2f_page, server, "bob")
    (stored,) = server.runtime.passkeys.list_for_employee(server.employee("bob").id)
    assert stored.attestation_format == "none"
    u2f_page.context.clear_cookies()
    sign_in_by_username(u2f_page, server, "bob")


def refused_enrolment(page: Any, server: RunningServer, username: str) -> str:
    page.goto(server.enrolment_link(username))
    page.click("#register")
    status = page.locator("#status.error")
    status.wait_for()
    # The browser's report reaches the server after the message is shown.
    page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".some(e => e.name.endsWith('/passkey/register/report'))"
    )
    text: str = status.inner_text()
    return text


def test_a_policy_that_verifies_users_refuses_a_u2f_key_at_enrolment(
    u2f_page: Any, make_idp_server: Any
) -> None:
    """The demo's default policy verifies users; the setting alone would only prefer it."""
    server = make_idp_server(
        replace={RP_NAME: RP_NAME + "  resident_key: preferred\n  user_verification: preferred\n"},
        with_sp=False,
    )
    message = refused_enrolment(u2f_page, server, "bob")
    assert "cannot verify you (no PIN or biometric)" in message
    assert "sign-in policy requires it" in message
    employee = server.employee("bob")
    assert server.runtime.passkeys.list_for_employee(employee.id) == ()
    (event,) = server.runtime.audit.list(
        kind=AuditKind.PASSKEY_REGISTRATION_FAILED, employee_id=employee.id, limit=10
    ).items
    assert event.details["dom_exception"] == "NotAllowedError"
    assert "user verification (PIN or biometric)" in event.reason
    assert "resident_key" not in event.reason


def test_a_required_resident_key_refuses_a_u2f_key_and_says_why(
    u2f_page: Any, make_idp_server: Any
) -> None:
    ((sections, documented),) = u2f_settings(attestation="none").items()
    assert "  resident_key: preferred " in documented
    # Everything as documented but the resident key, back at its default (required).
    settings = {
        sections: documented.replace("  resident_key: preferred", "  resident_key: required")
    }
    server = make_idp_server(replace=settings, with_sp=False)
    message = refused_enrolment(u2f_page, server, "bob")
    assert "store the passkey itself" in message
    assert "U2F-only" in message
    employee = server.employee("bob")
    (event,) = server.runtime.audit.list(
        kind=AuditKind.PASSKEY_REGISTRATION_FAILED, employee_id=employee.id, limit=10
    ).items
    assert "resident_key: required" in event.reason
    assert "user verification" not in event.reason

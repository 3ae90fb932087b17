"""Passkey enrolment, sign-in and SAML SSO in headless Chromium (Debian's package), driven by
Playwright through the DevTools virtual authenticator (WebAuthn.addVirtualAuthenticator): the
real browser WebAuthn stack and our real pages and script against the running IdP."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from idp.audit import AuditKind
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def add_authenticator(page: Any, *, user_verified: bool = True) -> tuple[Any, str]:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    result = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": user_verified,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, result["authenticatorId"]


def enrol(page: Any, server: RunningServer, username: str) -> None:
    before = len(server.runtime.passkeys.list_for_employee(server.employee(username).id))
    page.goto(server.enrolment_link(username))
    page.click("#register")
    page.wait_for_url(server.url("/"))
    assert page.locator("#passkeys li").count() == before + 1


def test_enrol_then_sign_in_to_the_saml_sp_with_the_passkey(
    page: Any, idp_server: RunningServer
) -> None:
    cdp, auth_id = add_authenticator(page)
    enrol(page, idp_server, "alice")
    creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})["credentials"]
    assert len(creds) == 1 and creds[0]["isResidentCredential"]
    stored = idp_server.runtime.passkeys.list_for_employee(idp_server.employee("alice").id)
    assert any(c.user_verified for c in stored)

    # A new browser session (no cookies) but the same authenticator: the SP sends us to the
    # IdP's sign-in page, whose conditional UI (passkey autofill) offers alice's discoverable
    # passkey; the virtual authenticator accepts it at once (automatic presence), so the
    # browser signs in without a username or a click and lands back at the SP as alice.
    page.context.clear_cookies()
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(idp_server.sp_url + "/login")
    page.wait_for_url(idp_server.sp_url + "/")
    assert any("/login?ticket=" in u for u in seen)
    assert any(u.endswith("/passkey/login/verify") for u in seen)
    assert "alice@example.com" in page.locator("#who").inner_text()
    assert page.locator("#attributes").count() == 1


def test_sign_in_refused_without_user_verification(page: Any, idp_server: RunningServer) -> None:
    cdp, auth_id = add_authenticator(page)
    enrol(page, idp_server, "bob")
    page.context.clear_cookies()
    cdp.send("WebAuthn.setUserVerified", {"authenticatorId": auth_id, "isUserVerified": False})
    seen = idp_server.runtime.audit.list(kind=AuditKind.LOGIN_FAILURE, limit=1).items
    page.goto(idp_server.url("/login"))
    page.click("#signin")
    status = page.locator("#status.error")
    status.wait_for()
    assert "must verify you (PIN or biometric)" in status.inner_text()
    assert not any(c["name"] == "hideez_idp_session" for c in page.context.cookies())
    # Chromium refuses before anything reaches the IdP; the page's report is audited.
    page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".some(e => e.name.endsWith('/passkey/login/report'))"
    )
    (latest,) = idp_server.runtime.audit.list(kind=AuditKind.LOGIN_FAILURE, limit=1).items
    assert (latest,) != seen
    assert latest.details["reported_by"] == "browser"
    assert "user verification (PIN or biometric)" in latest.reason


def test_error_page_shows_an_error_id_and_no_trace(page: Any, idp_server: RunningServer) -> None:
    page.goto(idp_server.url("/enrol/not-a-real-token"))
    assert page.locator("#error-id").inner_text()
    assert "Traceback" not in page.content()


def test_cross_site_post_authn_request_keeps_the_session(
    page: Any, idp_server: RunningServer
) -> None:
    """A real browser withholds our SameSite=Lax session cookie from an SP's cross-site POST;
    the IdP's same-site hop must still find the signed-in session (no second sign-in)."""
    import html

    from tests.e2e.saml_peer import signed_post_request

    add_authenticator(page)
    enrol(page, idp_server, "alice")
    fields, _ = signed_post_request(idp_server)
    inputs = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    # A page of another site (127.0.0.1 is not the same site as localhost) auto-posts the
    # AuthnRequest, as an SP would.
    page.goto(f"http://127.0.0.1:{idp_server.sp_port}/")
    seen: list[tuple[str, str]] = []
    page.on("request", lambda r: seen.append((r.method, r.url)))
    with page.expect_request(idp_server.sp_url + "/acs") as acs:
        page.set_content(
            f'<form id="f" method="post" action="{idp_server.url("/saml/login")}">'
            f"{inputs}</form><script>document.getElementById('f').submit()</script>"
        )
    # The IdP answered from the session: a Success response for alice, posted to the ACS. (The
    # demo SP then refuses it: this browser's SP session never sent that request.)
    answer = base64.b64decode(parse_qs(acs.value.post_data or "")["SAMLResponse"][0]).decode()
    assert "urn:oasis:names:tc:SAML:2.0:status:Success" in answer
    assert ">alice@example.com</saml:NameID>" in answer
    posts = [u for m, u in seen if m == "POST" and u.endswith("/saml/login")]
    assert len(posts) == 2  # the cross-site POST, then our same-site hop
    assert not any("/login?ticket=" in u for _, u in seen)  # no second sign-in

"""The MFA step in headless Chromium (Debian's package, DevTools virtual authenticator): the
passkey is enrolled on the Flask IdP's page, then the demo SP signs in through SATOSA and the
upstream IdP, and the shared sign-in page and script (served by SATOSA) do the second factor."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs

import pytest
from lxml import etree

from tests.e2e.satosa.client import SAML
from tests.e2e.satosa.proxy import PPT, REFEDS_MFA, Proxy
from tests.e2e.test_browser_passkey import add_authenticator, enrol
from tests.e2e.test_browser_passkey import browser as browser  # the module's Chromium
from tests.e2e.test_browser_passkey import page as page  # a fresh context per test

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.postgres, pytest.mark.redis]


def test_passkey_mfa_after_the_upstream_sign_in_reaches_the_sp_as_refeds_mfa(
    page: Any, proxy: Proxy
) -> None:
    add_authenticator(page)
    enrol(page, proxy.idp, "alice")
    page.context.clear_cookies()
    proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT
    posted: list[str] = []
    page.on(
        "request",
        lambda r: posted.append(r.post_data or "") if r.url == proxy.sp_url + "/acs" else None,
    )
    page.goto(proxy.sp_url + "/login")
    page.wait_for_url(proxy.url("/hideez/login?ticket=*"))
    # The page's passkey autofill (conditional UI) offers alice's passkey; the virtual
    # authenticator answers at once, and the browser goes on to the SP without a click.
    page.wait_for_url(proxy.sp_url + "/")
    assert "alice@example.com" in page.locator("#attributes").inner_text()
    response = base64.b64decode(parse_qs(posted[0])["SAMLResponse"][0])
    refs = etree.fromstring(response).xpath("//saml:AuthnContextClassRef/text()", namespaces=SAML)
    assert refs == [REFEDS_MFA]


def test_a_refused_passkey_leaves_the_browser_on_the_sign_in_page_with_the_reason(
    page: Any, proxy: Proxy
) -> None:
    cdp, auth_id = add_authenticator(page)
    enrol(page, proxy.idp, "bob")
    page.context.clear_cookies()
    cdp.send("WebAuthn.setUserVerified", {"authenticatorId": auth_id, "isUserVerified": False})
    proxy.upstream.user, proxy.upstream.class_ref = "bob", PPT
    page.goto(proxy.sp_url + "/login")
    page.wait_for_url(proxy.url("/hideez/login?ticket=*"))
    page.click("#signin")
    status = page.locator("#status.error")
    status.wait_for()
    assert status.inner_text()
    assert page.url.startswith(proxy.url("/hideez/login"))

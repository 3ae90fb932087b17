"""SAML → SAML through SATOSA with our MFA micro-service: python3-saml SP → SATOSA SAML frontend
→ SATOSA SAML backend → pysaml2 upstream IdP, then a passkey on the shared sign-in page."""

from __future__ import annotations

import pytest

from tests.e2e.satosa.client import SatosaClient, class_ref
from tests.e2e.satosa.proxy import PPT, REFEDS_MFA, Proxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def test_upstream_password_then_passkey_gives_the_sp_refeds_mfa(proxy: Proxy) -> None:
    client = SatosaClient(proxy)
    client.enrol("alice")
    proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT
    answer = client.sign_in()
    assert answer.status_code == 200, answer.text[:800]
    assert class_ref(answer) == REFEDS_MFA
    page = client.deliver(answer)
    assert "alice@example.com" in page.text

"""SAML → SAML through SATOSA with our MFA micro-service: python3-saml SP → SATOSA SAML frontend
→ SATOSA SAML backend → pysaml2 upstream IdP, then a passkey on the shared sign-in page."""

from __future__ import annotations

import secrets
import time

import pytest

from idp.audit import AuditKind
from idp.directory.model import Employee
from tests.e2e.satosa.client import SatosaClient, class_ref
from tests.e2e.satosa.proxy import PPT, REFEDS_MFA, Proxy

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


def test_upstream_password_then_passkey_gives_the_sp_refeds_mfa(
    proxy: Proxy, alice: SatosaClient
) -> None:
    proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT
    alice.http.cookies.clear()
    answer = alice.sign_in()
    assert answer.status_code == 200, answer.text[:800]
    assert class_ref(answer) == REFEDS_MFA
    page = alice.deliver(answer)  # python3-saml (strict) accepts it
    assert "alice@example.com" in page.text
    # DirectoryAttributes added the directory's values by subject.
    assert proxy.idp.employee("alice").id in page.text
    issued = proxy.runtime.audit.list(kind=AuditKind.SSO_ISSUED, limit=1).items[0]
    assert issued.details["protocol"] == "stepup"
    assert issued.relying_party == proxy.sp["sp"]["entityId"]


def test_upstream_mfa_is_accepted_without_a_second_prompt(
    proxy: Proxy, alice: SatosaClient
) -> None:
    proxy.upstream.user, proxy.upstream.class_ref = "alice", REFEDS_MFA
    alice.http.cookies.clear()
    answer = alice.start()
    # Straight to the SP: no redirect to our sign-in page; the upstream's context passes.
    assert answer.status_code == 200, answer.headers
    assert class_ref(answer) == REFEDS_MFA
    assert "alice@example.com" in alice.deliver(answer).text


def test_upstream_password_is_prompted_even_after_an_upstream_mfa_login(
    proxy: Proxy, alice: SatosaClient
) -> None:
    proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT
    alice.http.cookies.clear()
    response = alice.start()
    assert response.status_code == 303
    assert "/hideez/login?ticket=" in response.headers["Location"]


def test_the_second_factor_counts_for_the_upstream_sign_in_it_followed_and_no_later_one(
    proxy: Proxy, alice: SatosaClient
) -> None:
    """SSO through the proxy: while the upstream answers from the same sign-in (the same
    AuthnInstant), the factor done after it still counts; a newer upstream sign-in asks again."""
    first_sign_in = int(time.time()) - 30
    proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT
    proxy.upstream.authn_instant = first_sign_in
    try:
        alice.http.cookies.clear()
        assert class_ref(alice.sign_in()) == REFEDS_MFA
        reused = alice.start()
        assert reused.headers["Location"].startswith("/hideez/mfa/resume?k=")
        answer = alice.http.get(proxy.url(reused.headers["Location"]), timeout=10)
        assert class_ref(answer) == REFEDS_MFA
        # The upstream signed the user in again (its clock even a little ahead of ours).
        proxy.upstream.authn_instant = int(time.time()) + 2
        again = alice.start()
        assert "/hideez/login?ticket=" in again.headers["Location"]
    finally:
        proxy.upstream.authn_instant = None


def test_a_user_without_a_passkey_is_denied_with_the_reason(proxy: Proxy) -> None:
    add_employee(proxy, "carol")
    proxy.upstream.user, proxy.upstream.class_ref = "carol", PPT
    client = SatosaClient(proxy)
    response = client.start()
    assert response.status_code == 403
    assert "second factor" in response.text and "error-id" in response.text
    assert "SAMLResponse" not in response.text


def test_an_upstream_subject_that_is_no_employee_is_denied(proxy: Proxy) -> None:
    proxy.upstream.user, proxy.upstream.class_ref = "stranger", PPT
    response = SatosaClient(proxy).start()
    assert response.status_code == 403
    assert "stranger@elsewhere.org" in response.text
    assert "SAMLResponse" not in response.text


def add_employee(proxy: Proxy, username: str) -> Employee:
    existing = proxy.runtime.employees.get_by_username(username)
    if existing is not None:
        return existing
    return proxy.runtime.employees.add(
        Employee(
            id=secrets.token_hex(8),
            username=username,
            email=f"{username}@example.com",
            first_name=username.title(),
            last_name="Test",
        ),
        now=proxy.runtime.now(),
    )

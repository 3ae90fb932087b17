"""WsFedFrontend → SATOSA's SAML backend → the pysaml2 upstream IdP (+ our MFA step): the
SAML 1.1 token Exchange gets, checked by an independent verifier (signxml) with the IdP's
certificate only, carrying the upn and primarysid claims from the directory."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
import requests

from tests.e2e.satosa.client import SatosaClient
from tests.e2e.satosa.proxy import BACKEND, OWA, PPT, REFEDS_MFA, Proxy, form_of
from tests.idp.wsfed.verifier import verify_wresult

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"
PRIMARYSID = "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarysid"
OWA_CTX = "rm=0&id=passive&ru=%2fowa%2f"


def wsignin(proxy: Proxy, **extra: str) -> str:
    params = {"wa": "wsignin1.0", "wtrealm": OWA, "wctx": OWA_CTX, **extra}
    return proxy.url(f"/{BACKEND}/wsfed?" + urlencode(params))


def through_upstream(client: SatosaClient, start: requests.Response) -> requests.Response:
    assert start.status_code in (302, 303), start.text[:500]
    upstream = client.http.get(start.headers["Location"], timeout=10)
    action, fields = form_of(upstream.text)
    return client.http.post(action, data=fields, allow_redirects=False, timeout=10)


def test_exchange_gets_a_signed_saml11_token_after_mfa(proxy: Proxy) -> None:
    client = SatosaClient(proxy)
    client.enrol("alice")
    proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT
    start = client.http.get(wsignin(proxy), allow_redirects=False, timeout=10)
    ticket = client.ticket_of(through_upstream(client, start))
    answer = client.resume(client.passkey(ticket))
    action, fields = form_of(answer.text)
    assert action == OWA and fields["wa"] == "wsignin1.0" and fields["wctx"] == OWA_CTX
    token = verify_wresult(
        fields["wresult"],
        cert_pem=proxy.runtime.keys.current.cert_pem,
        realm=OWA,
        issuer=proxy.idp.base_url,
        now=dt.datetime.now(dt.UTC),
    )
    alice = proxy.idp.employee("alice")
    assert token.version == "1.1"
    assert token.claims[UPN] == ["alice@example.com"]
    assert token.claims[PRIMARYSID] == [alice.ad_object_sid]
    assert token.authn_method == REFEDS_MFA  # the MFA step's context, as WIF reads it


def test_a_realm_that_is_not_registered_is_refused_before_any_upstream_request(
    proxy: Proxy,
) -> None:
    http = requests.Session()
    before = http.get(wsignin(proxy, wtrealm="https://evil.example/owa/"), timeout=10)
    assert before.status_code == 400 and "error-id" in before.text
    assert "evil.example" in before.text


@pytest.mark.parametrize(
    "params",
    [
        {"wa": "wsignout1.0"},
        {"wa": "wsignin1.0"},
        {"wa": "nonsense", "wtrealm": OWA},
        {"wa": "wsignin1.0", "wtrealm": OWA, "wreply": "https://evil.example/"},
        {"wa": "wsignin1.0", "wtrealm": OWA, "wctx": "x" * 5000},
    ],
)
def test_malformed_wsfed_requests_get_clear_errors(proxy: Proxy, params: dict[str, str]) -> None:
    response = requests.get(proxy.url(f"/{BACKEND}/wsfed?" + urlencode(params)), timeout=10)
    assert 400 <= response.status_code < 500, response.status_code
    assert "error-id" in response.text and "Traceback" not in response.text


def test_the_answer_without_the_pending_request_is_refused(proxy: Proxy) -> None:
    """A browser whose pending WS-Fed request is gone (another browser's cookie, or replay)."""
    client = SatosaClient(proxy)
    client.enrol("alice")
    proxy.upstream.user, proxy.upstream.class_ref = "alice", REFEDS_MFA  # no MFA step
    start = client.http.get(wsignin(proxy), allow_redirects=False, timeout=10)
    # The flow cookie that binds the pending request is swapped for another browser's.
    client.http.cookies.set("hideez_satosa_flow", "x" * 32)
    answer = through_upstream(client, start)
    assert answer.status_code == 400 and "another browser" in answer.text
    assert "wresult" not in answer.text

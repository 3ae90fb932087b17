"""PasswordlessBackend + SATOSA's SAML frontend: no upstream IdP; the python3-saml SP signs in
with a passkey only, on the shared sign-in page SATOSA serves (HideezPages)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from idp.flows.parking import LoginTicket
from tests.e2e.satosa.client import SatosaClient, class_ref
from tests.e2e.satosa.proxy import PASSWORDLESS, REFEDS_MFA, Proxy, run_proxy
from tests.e2e.server import POSTGRES_REDIS
from tests.idp.factors.passkey_fakes import UP

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    directory: Path = tmp_path_factory.mktemp("satosa-passwordless")
    with run_proxy(directory, storage=POSTGRES_REDIS, passwordless=True) as running:
        yield running


def start(client: SatosaClient) -> requests.Response:
    sp = client.http.get(client.proxy.sp_url + "/login", allow_redirects=False, timeout=10)
    assert sp.headers["Location"].startswith(client.proxy.url(f"/{PASSWORDLESS}/sso/redirect"))
    return client.http.get(sp.headers["Location"], allow_redirects=False, timeout=10)


def test_a_passkey_alone_signs_in_to_the_sp(direct: Proxy) -> None:
    client = SatosaClient(direct)
    client.enrol("alice")
    ticket = client.ticket_of(start(client))
    verify = client.passkey(ticket)
    assert verify.json()["redirect"].startswith(f"/{PASSWORDLESS}/resume?k=")
    answer = client.http.get(client.url(verify.json()["redirect"]), timeout=10)
    assert class_ref(answer) == REFEDS_MFA  # a user-verified passkey, as the policy claims
    page = client.deliver(answer)  # python3-saml (strict) accepts it
    assert "alice@example.com" in page.text and "Alice Andersen" in page.text
    # The next SP login in this browser: the session counts, no prompt.
    again = start(client)
    assert again.headers["Location"].startswith(f"/{PASSWORDLESS}/resume?k=")


def test_a_failed_or_skipped_factor_never_reaches_the_sp(direct: Proxy) -> None:
    client = SatosaClient(direct)
    client.enrol("bob")
    ticket = client.ticket_of(start(client))
    assert client.passkey(ticket, flags=UP).status_code in (400, 401, 403)
    raw = direct.runtime.ephemeral.get("login-ticket:" + ticket)
    assert raw is not None
    resume = client.http.get(client.url(LoginTicket.from_json(raw).resume_url), timeout=10)
    assert resume.status_code == 403 and "SAMLResponse" not in resume.text
    nothing = requests.get(direct.url(f"/{PASSWORDLESS}/resume?k=x"), timeout=10)
    assert nothing.status_code == 400 and "error-id" in nothing.text

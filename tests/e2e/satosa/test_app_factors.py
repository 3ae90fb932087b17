"""The authenticator app and TOTP through SATOSA's own app: the reference authenticator's push
as the MFA micro-service's second factor (the SP gets REFEDS MFA), a denial that never reaches
the SP, and an ``oathtool`` code signing in through the passwordless backend."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from authenticator import Authenticator
from idp.directory.model import Employee
from tests.e2e.authenticator.helpers import APP_FACTORS, NO_UV, enrolled_app, new_person
from tests.e2e.authenticator.test_totp import oathtool, set_up_totp
from tests.e2e.satosa.client import SatosaClient, class_ref
from tests.e2e.satosa.proxy import PASSWORDLESS, PPT, REFEDS_MFA, Proxy, run_proxy
from tests.e2e.server import POSTGRES_REDIS

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

LIMITS = "limits: {login_attempts_per_minute: 100000}\n"


@pytest.fixture(scope="module")
def app_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """Upstream IdP + the MFA micro-service; the policy lists the passkey, the app and TOTP
    (and user verification: a push approved with the phone's biometrics gives it)."""
    directory: Path = tmp_path_factory.mktemp("satosa-app")
    with run_proxy(directory, storage=POSTGRES_REDIS, extra_config=LIMITS,
                   replace=APP_FACTORS) as running:  # fmt: skip
        # Carol (known to the upstream IdP) has no passkey; she gets the app only.
        running.idp.runtime.employees.add(
            Employee(id="emp-carol", username="carol", email="carol@example.com",
                     first_name="Carol", last_name="Clark"),
            now=running.idp.runtime.now(),
        )  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def code_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """The passwordless backend; the policy lists TOTP without user verification."""
    directory: Path = tmp_path_factory.mktemp("satosa-codes")
    with run_proxy(directory, storage=POSTGRES_REDIS, passwordless=True, extra_config=LIMITS,
                   replace={**APP_FACTORS, **NO_UV}) as running:  # fmt: skip
        yield running


@pytest.fixture(scope="module")
def carol_app(app_proxy: Proxy, tmp_path_factory: pytest.TempPathFactory) -> Authenticator:
    return enrolled_app(app_proxy.idp, "carol", tmp_path_factory.mktemp("carol-phone"))


def mfa_ticket(proxy: Proxy, client: SatosaClient, user: str) -> str:
    proxy.upstream.user, proxy.upstream.class_ref = user, PPT
    return client.ticket_of(client.start())


def push(client: SatosaClient, ticket: str, username: str, csrf: str) -> dict[str, object]:
    started = client.post_json("/push/login/start", {"ticket": ticket, "username": username},
                               csrf)  # fmt: skip
    assert started.status_code == 200, started.text
    shown: dict[str, object] = started.json()
    return shown


def test_the_login_page_offers_the_app_and_codes(
    app_proxy: Proxy, carol_app: Authenticator
) -> None:
    client = SatosaClient(app_proxy)
    ticket = mfa_ticket(app_proxy, client, "carol")
    page = client.http.get(client.url(f"/hideez/login?ticket={ticket}"), timeout=10).text
    assert 'id="app-login"' in page and 'data-start-url="/push/login/start"' in page
    assert 'data-url="/totp/login/verify" novalidate>' in page  # not hidden


def test_a_push_approved_on_the_phone_is_the_second_factor(
    app_proxy: Proxy, carol_app: Authenticator
) -> None:
    # Carol has no passkey, only the app: the MFA step does not deny her.
    app = carol_app
    client = SatosaClient(app_proxy)
    ticket = mfa_ticket(app_proxy, client, "carol")
    csrf = client.csrf(ticket)
    shown = push(client, ticket, "carol", csrf)
    assert app.approve(int(str(shown["number"]))) == "approved"
    poll = {"ticket": ticket, "transaction_id": shown["transaction_id"]}
    answer = client.resume(client.post_json("/push/login/poll", poll, csrf))
    assert answer.status_code == 200, answer.text[:500]
    assert class_ref(answer) == REFEDS_MFA
    assert "carol@example.com" in client.deliver(answer).text


def test_a_push_denied_on_the_phone_never_reaches_the_sp(app_proxy: Proxy, tmp_path: Path) -> None:
    app = enrolled_app(app_proxy.idp, "bob", tmp_path)
    client = SatosaClient(app_proxy)
    ticket = mfa_ticket(app_proxy, client, "bob")
    csrf = client.csrf(ticket)
    shown = push(client, ticket, "bob", csrf)
    assert app.deny() == "denied"
    poll = {"ticket": ticket, "transaction_id": shown["transaction_id"]}
    refused = client.post_json("/push/login/poll", poll, csrf)
    assert refused.status_code == 403 and refused.json()["error"] == "push_denied"
    # Straight to the resume URL without a factor: an error page, no SAML response.
    early = client.http.get(client.url("/hideez/mfa/resume?k=" + ticket), timeout=10)
    assert early.status_code == 400 and "SAMLResponse" not in early.text
    # Another browser cannot poll this challenge.
    stranger = SatosaClient(app_proxy)
    other_ticket = mfa_ticket(app_proxy, stranger, "bob")
    stolen = stranger.post_json("/push/login/poll", poll, stranger.csrf(other_ticket))
    assert stolen.status_code >= 400 and "redirect" not in stolen.text


def test_an_oathtool_code_signs_in_through_the_passwordless_backend(code_proxy: Proxy) -> None:
    username = new_person(code_proxy.idp)
    secret = set_up_totp(code_proxy.idp, username)
    client = SatosaClient(code_proxy)
    sp = client.http.get(code_proxy.sp_url + "/login", allow_redirects=False, timeout=10)
    ticket = client.ticket_of(
        client.http.get(sp.headers["Location"], allow_redirects=False, timeout=10)
    )
    csrf = client.csrf(ticket)
    body = {"ticket": ticket, "username": username}
    wrong = client.post_json("/totp/login/verify", {**body, "code": "12345x"}, csrf)
    assert wrong.status_code in (400, 401) and "error_id" in wrong.json()
    # The next period's code (setting TOTP up spent this one's).
    code = oathtool(secret, code_proxy.runtime.now() + dt.timedelta(seconds=30))
    done = client.post_json("/totp/login/verify", {**body, "code": code}, csrf)
    assert done.status_code == 200, done.text
    assert done.json()["redirect"].startswith(f"/{PASSWORDLESS}/resume?k=")
    answer = client.http.get(client.url(done.json()["redirect"]), timeout=10)
    assert f"{username}@example.com" in client.deliver(answer).text
    replay = client.post_json("/totp/login/verify", {**body, "code": code}, csrf)
    assert replay.status_code >= 400


def test_the_step_endpoints_refuse_requests_without_the_csrf_token(code_proxy: Proxy) -> None:
    for path in ("/push/login/start", "/push/login/poll", "/totp/login/verify"):
        response = requests.post(code_proxy.url(path), json={"ticket": "x"}, timeout=10)
        assert response.status_code == 400, path
        assert "CSRF" in response.json()["error_description"]

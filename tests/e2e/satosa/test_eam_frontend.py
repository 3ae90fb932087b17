"""EntraEamFrontend through SATOSA's own app, with the simulated Entra (``entra_sim``): the
hint signed by a loopback JWKS, our answer checked as Entra would against SATOSA's discovery
and keys; the second factor by passkey, by the reference authenticator's push and by an
``oathtool`` code; hostile hints and replays answered to Entra without an id_token."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from authenticator import Authenticator
from idp.flows.parking import LoginTicket
from tests.e2e.authenticator.helpers import APP_FACTORS, NO_UV, enrolled_app, new_person
from tests.e2e.authenticator.test_totp import oathtool, set_up_totp
from tests.e2e.entra_sim import (
    EAM_CLIENT_ID,
    ENTRA_REDIRECT,
    HINT_AUDIENCE,
    OTHER_TENANT,
    TENANT,
    EntraSim,
    parse_autopost,
    serve_jwks,
)
from tests.e2e.satosa.client import SatosaClient
from tests.e2e.satosa.proxy import EAM, Proxy, make_satosa, run_proxy
from tests.e2e.server import POSTGRES_REDIS, _Thread, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]

EAM_YAML = """
limits: {{login_attempts_per_minute: 100000}}
oidc:
  eam:
    client_ids: [{client}]
    tenants: [{tenant}]
    hint_audience: {audience}
    max_hint_age: 300
    jwks_refresh_interval: 0
    clouds:
      - name: global
        issuer_prefix: https://login.microsoftonline.com/
        jwks_url: {jwks}
        redirect_uri: {redirect}
"""


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Proxy, EntraSim]]:
    """SATOSA with the EAM frontend (and the passwordless backend SATOSA needs beside it); the
    EAM policy lists the passkey, the app and TOTP (TOTP alone: no user verification)."""
    directory: Path = tmp_path_factory.mktemp("satosa-eam")
    sim = EntraSim()
    with serve_jwks(sim) as jwks:
        extra = EAM_YAML.format(client=EAM_CLIENT_ID, tenant=TENANT, audience=HINT_AUDIENCE,
                                jwks=jwks, redirect=ENTRA_REDIRECT)  # fmt: skip
        with run_proxy(directory, storage=POSTGRES_REDIS, passwordless=True, eam=True,
                       extra_config=extra, replace={**APP_FACTORS, **NO_UV}) as proxy:  # fmt: skip
            yield proxy, sim


def linked(proxy: Proxy, username: str) -> str:
    """Link ``username`` to a new Entra object id in the tenant; returns the id."""
    oid = str(uuid.uuid4())
    rt = proxy.idp.runtime
    employee = rt.employees.get_by_username(username)
    assert employee is not None
    rt.employees.update(dataclasses.replace(employee, entra_object_id=oid, entra_tenant_id=TENANT))
    return oid


def authorize(client: SatosaClient, body: dict[str, str]) -> requests.Response:
    return client.http.post(client.url(f"/{EAM}/authorize"), data=body, allow_redirects=False,
                            timeout=10)  # fmt: skip


def resume(client: SatosaClient, done: requests.Response) -> requests.Response:
    assert done.status_code == 200, done.text
    redirect = done.json()["redirect"]
    assert redirect.startswith(f"/{EAM}/resume?k="), redirect
    return client.http.get(client.url(redirect), allow_redirects=False, timeout=10)


def expect_error(response: requests.Response, code: str) -> str:
    assert response.status_code == 200, response.text[:500]
    action, fields = parse_autopost(response.text)
    assert action == ENTRA_REDIRECT
    assert "id_token" not in fields, "nothing may be issued"
    assert fields["error"] == code, fields
    assert fields["state"] == "st-1"
    return fields["error_description"]


@pytest.fixture(scope="module")
def alice(entra: tuple[Proxy, EntraSim]) -> tuple[SatosaClient, str]:
    proxy, _ = entra
    client = SatosaClient(proxy)
    client.enrol("alice")
    return client, linked(proxy, "alice")


def test_satosa_is_its_own_provider_for_entra(entra: tuple[Proxy, EntraSim]) -> None:
    proxy, _ = entra
    discovery = requests.get(proxy.url("/.well-known/openid-configuration"), timeout=5)
    assert discovery.status_code == 200
    doc = discovery.json()
    assert doc["issuer"] == proxy.base and proxy.base != proxy.idp.base_url
    assert doc["authorization_endpoint"] == proxy.url(f"/{EAM}/authorize")
    assert doc["response_types_supported"] == ["id_token"]
    assert "form_post" in doc["response_modes_supported"] and "RS256" in doc[
        "id_token_signing_alg_values_supported"]  # fmt: skip
    keys = requests.get(doc["jwks_uri"], timeout=5).json()["keys"]
    assert any(k["kty"] == "RSA" for k in keys)
    assert requests.post(doc["jwks_uri"], data={"x": "1"}, timeout=5).status_code == 405


def test_a_passkey_answers_entra_through_satosa(
    entra: tuple[Proxy, EntraSim], alice: tuple[SatosaClient, str]
) -> None:
    proxy, sim = entra
    client, oid = alice
    request = sim.request(sim.hint(oid=oid))
    first = authorize(client, request)
    assert first.status_code == 303
    ticket = client.ticket_of(first)
    page = client.http.get(client.url(f"/hideez/login?ticket={ticket}"), timeout=10).text
    # The policy lists the app and TOTP: the page offers them (their endpoints are served).
    assert 'id="app-login"' in page and 'data-url="/totp/login/verify" novalidate>' in page
    verify = client.passkey(ticket)
    # The resume URL in another browser: refused there, and still the owner's.
    stolen = requests.get(client.url(verify.json()["redirect"]), timeout=10)
    assert stolen.status_code >= 400 and "id_token" not in stolen.text
    answer = resume(client, verify)
    action, fields = parse_autopost(answer.text)
    assert action == ENTRA_REDIRECT
    claims = sim.check_answer(proxy, fields, request=request, hint_sub="pairwise-" + oid[:8])
    assert claims["iss"] == proxy.base
    assert claims["amr"] == ["fido"] and claims["acr"] == "possessionorinherence"
    # Replays: the resume URL is spent, and the same request again needs a new factor.
    again = client.http.get(answer.url, allow_redirects=False, timeout=10)
    assert "id_token" not in again.text
    replayed = authorize(client, request)
    assert replayed.status_code == 303 and "/hideez/login?ticket=" in replayed.headers["Location"]


def test_push_on_the_phone_answers_entra(entra: tuple[Proxy, EntraSim], tmp_path: Path) -> None:
    proxy, sim = entra
    username = new_person(proxy.idp)
    oid = linked(proxy, username)
    app: Authenticator = enrolled_app(proxy.idp, username, tmp_path)
    client = SatosaClient(proxy)
    request = sim.request(sim.hint(oid=oid, preferred_username=f"{username}@example.com"))
    ticket = client.ticket_of(authorize(client, request))
    csrf = client.csrf(ticket)
    # The page sends the login hint (the linked employee's name) with the ticket.
    body = {"ticket": ticket, "username": username}
    started = client.post_json("/push/login/start", body, csrf)
    assert started.status_code == 200, started.text
    shown = started.json()
    pending = client.post_json(
        "/push/login/poll", {"ticket": ticket, "transaction_id": shown["transaction_id"]}, csrf
    )
    assert pending.json() == {"state": "pending"}
    assert app.approve(shown["number"]) == "approved"
    done = client.post_json(
        "/push/login/poll", {"ticket": ticket, "transaction_id": shown["transaction_id"]}, csrf
    )
    _, fields = parse_autopost(resume(client, done).text)
    claims = sim.check_answer(proxy, fields, request=request, hint_sub="pairwise-" + oid[:8])
    assert claims["amr"] == ["swk"]


def test_a_push_denied_on_the_phone_issues_nothing(
    entra: tuple[Proxy, EntraSim], tmp_path: Path
) -> None:
    proxy, sim = entra
    username = new_person(proxy.idp)
    oid = linked(proxy, username)
    app = enrolled_app(proxy.idp, username, tmp_path)
    client = SatosaClient(proxy)
    ticket = client.ticket_of(authorize(client, sim.request(sim.hint(oid=oid))))
    csrf = client.csrf(ticket)
    body = {"ticket": ticket, "username": username}
    shown = client.post_json("/push/login/start", body, csrf).json()
    assert app.deny() == "denied"
    poll = {"ticket": ticket, "transaction_id": shown["transaction_id"]}
    refused = client.post_json("/push/login/poll", poll, csrf)
    assert refused.status_code == 403 and refused.json()["error"] == "push_denied"
    cancel = client.http.get(client.url(f"/{EAM}/resume?k=x&cancel=1"), timeout=10)
    assert cancel.status_code == 400 and "id_token" not in cancel.text


def test_an_oathtool_code_answers_entra(entra: tuple[Proxy, EntraSim]) -> None:
    proxy, sim = entra
    username = new_person(proxy.idp)
    oid = linked(proxy, username)
    secret = set_up_totp(proxy.idp, username)
    client = SatosaClient(proxy)
    request = sim.request(sim.hint(oid=oid))
    ticket = client.ticket_of(authorize(client, request))
    csrf = client.csrf(ticket)
    body = {"ticket": ticket, "username": username}
    wrong = client.post_json("/totp/login/verify", {**body, "code": "000000"}, csrf)
    assert wrong.status_code in (400, 401) and "code" in wrong.json()["error_description"]
    # The code of the next period (the enrolment spent this one's).
    code = oathtool(secret, proxy.runtime.now() + dt.timedelta(seconds=30))
    done = client.post_json("/totp/login/verify", {**body, "code": code}, csrf)
    _, fields = parse_autopost(resume(client, done).text)
    claims = sim.check_answer(proxy, fields, request=request, hint_sub="pairwise-" + oid[:8])
    assert claims["amr"] == ["otp"]
    reused = client.post_json("/totp/login/verify", {**body, "code": code}, csrf)
    assert reused.status_code >= 400


def test_cancel_on_the_sign_in_page_is_posted_to_entra(
    entra: tuple[Proxy, EntraSim], alice: tuple[SatosaClient, str]
) -> None:
    _, sim = entra
    client, oid = alice
    first = authorize(client, sim.request(sim.hint(oid=oid)))
    location = first.headers["Location"]
    ticket = client.ticket_of(first)
    raw = entra[0].runtime.ephemeral.get("login-ticket:" + ticket)
    assert raw is not None and location
    cancel_url = LoginTicket.from_json(raw).cancel_url
    assert cancel_url is not None
    text = expect_error(client.http.get(client.url(cancel_url), timeout=10), "access_denied")
    assert "cancelled" in text


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"tid": OTHER_TENANT}, "invalid_request", "tenant"),
        ({"aud": "someone-else"}, "invalid_request", "audience"),
        ({"age": 301}, "invalid_request", "at most 300 s"),
        ({"oid": "not-linked-" + uuid.uuid4().hex}, "access_denied", "no employee is linked"),
    ],
    ids=["wrong-tenant", "wrong-audience", "expired", "unlinked"],
)
def test_hostile_hints_are_refused_to_entra(
    entra: tuple[Proxy, EntraSim],
    alice: tuple[SatosaClient, str],
    changes: dict[str, object],
    code: str,
    words: str,
) -> None:
    _, sim = entra
    client, oid = alice
    hint = sim.hint(**{"oid": oid, **changes})  # type: ignore[arg-type]
    assert words in expect_error(authorize(client, sim.request(hint)), code)


def test_a_tampered_hint_and_an_unknown_client(
    entra: tuple[Proxy, EntraSim], alice: tuple[SatosaClient, str]
) -> None:
    _, sim = entra
    client, oid = alice
    header, _, signature = sim.hint(oid=oid).split(".")
    other = sim.hint(oid=str(uuid.uuid4())).split(".")[1]
    request = sim.request(f"{header}.{other}.{signature}")
    assert "signature" in expect_error(authorize(client, request), "invalid_request")
    unknown = authorize(client, {**request, "client_id": "someone"})
    assert unknown.status_code == 400 and "error-id" in unknown.text
    assert "id_token" not in unknown.text and ENTRA_REDIRECT not in unknown.text
    by_get = client.http.get(client.url(f"/{EAM}/authorize"), params=request, timeout=10)
    assert by_get.status_code == 405 and "id_token" not in by_get.text


@pytest.fixture
def second_worker(entra: tuple[Proxy, EntraSim]) -> Iterator[str]:
    """Another SATOSA worker (its own runtime: a copy of the IdP config file) on the shared
    PostgreSQL and Redis, behind the same BASE."""
    from werkzeug.serving import make_server

    from idp.runtime import _SHARED

    proxy, _ = entra
    config_path = proxy.idp.config_path.with_name("idp-eam-worker2.yaml")
    shutil.copyfile(proxy.idp.config_path, config_path)
    config = copy.deepcopy(proxy.config)
    for section in ("FRONTEND_MODULES", "BACKEND_MODULES", "MICRO_SERVICES"):
        for plugin in config[section]:
            # ours name the IdP config by path (the SAML frontend's idp_config is pysaml2's)
            if isinstance(plugin.get("config", {}).get("idp_config"), str):
                plugin["config"]["idp_config"] = str(config_path)
    server = make_server("127.0.0.1", free_port(), make_satosa(config), threaded=True)
    thread = _Thread(server)
    thread.start()
    runtime = _SHARED[config_path.resolve()]
    assert runtime is not proxy.runtime
    try:
        yield f"http://localhost:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
        _SHARED.pop(config_path.resolve(), None)
        runtime.close()


def test_a_request_begun_on_one_worker_is_answered_by_the_other(
    entra: tuple[Proxy, EntraSim], alice: tuple[SatosaClient, str], second_worker: str
) -> None:
    proxy, sim = entra
    client, oid = alice
    request = sim.request(sim.hint(oid=oid))
    ticket = client.ticket_of(authorize(client, request))  # worker 1
    client.base = second_worker  # the balancer sends the rest to worker 2
    try:
        answer = resume(client, client.passkey(ticket))
    finally:
        client.base = proxy.base
    _, fields = parse_autopost(answer.text)
    claims = sim.check_answer(proxy, fields, request=request, hint_sub="pairwise-" + oid[:8])
    assert claims["iss"] == proxy.base and claims["amr"] == ["fido"]

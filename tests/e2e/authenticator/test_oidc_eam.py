"""Push approval for an OpenID Connect sign-in (requests-oauthlib + PyJWT as the relying
party) and for an Entra EAM sign-in (the simulated Entra checks the answer as Entra would)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from requests_oauthlib import OAuth2Session

from tests.e2e.authenticator.helpers import (
    Browserless,
    authenticator_idp,
    enrolled_app,
    follow_push_login,
)
from tests.e2e.entra_sim import (
    CLIENT_SECRET,
    ENTRA_REDIRECT,
    TENANT,
    EntraSim,
    oidc_section,
    parse_autopost,
    serve_jwks,
)
from tests.e2e.oidc.peer import REDIRECT, verify_id_token
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e
OID = str(uuid.uuid4())


@pytest.fixture(scope="module")
def op(
    tmp_path_factory: pytest.TempPathFactory, storage: str
) -> Iterator[tuple[RunningServer, EntraSim]]:
    directory = tmp_path_factory.mktemp("push-oidc")
    sim = EntraSim()
    with serve_jwks(sim) as jwks_url:
        extra = oidc_section(directory / "oidc", jwks_url=jwks_url)
        with authenticator_idp(
            directory / "idp", storage=storage, extra_config=extra, with_sp=False
        ) as server:
            alice = server.employee("alice")
            server.runtime.employees.update(
                dataclasses.replace(alice, entra_object_id=OID, entra_tenant_id=TENANT)
            )
            yield server, sim


@pytest.fixture(autouse=True)
def _insecure_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


def test_oidc_code_flow_approved_on_the_phone(
    op: tuple[RunningServer, EntraSim], tmp_path: Path
) -> None:
    server, _ = op
    app = enrolled_app(server, "alice", tmp_path)
    discovery = (
        Browserless(server)
        .http.get(server.url("/.well-known/openid-configuration"), timeout=5)
        .json()
    )
    browser = Browserless(server)
    rp = OAuth2Session("webapp", redirect_uri=REDIRECT, scope=["openid", "email"], pkce="S256")
    url, _ = rp.authorization_url(discovery["authorization_endpoint"], nonce="n-push")
    first = browser.http.get(url, allow_redirects=False, timeout=10)
    answer = follow_push_login(browser, app, first, "alice")
    assert answer.status_code == 302 and answer.headers["Location"].startswith(REDIRECT)
    token = rp.fetch_token(discovery["token_endpoint"],
                           authorization_response=answer.headers["Location"],
                           client_secret=CLIENT_SECRET)  # fmt: skip
    claims = verify_id_token(token["id_token"], discovery, "webapp")
    assert claims["sub"] == server.employee("alice").id and claims["nonce"] == "n-push"
    assert claims["amr"] == ["swk", "user"]
    assert claims["acr"] == "https://refeds.org/profile/mfa"


def test_eam_sign_in_approved_on_the_phone_answers_swk(
    op: tuple[RunningServer, EntraSim], tmp_path: Path
) -> None:
    server, sim = op
    app = enrolled_app(server, "alice", tmp_path)
    browser = Browserless(server)
    request = sim.request(sim.hint(oid=OID))
    first = browser.http.post(server.url("/oidc/authorize"), data=request,
                              allow_redirects=False, timeout=10)  # fmt: skip
    answer = follow_push_login(browser, app, first, "alice")
    action, fields = parse_autopost(answer.text)
    assert action == ENTRA_REDIRECT
    claims = sim.check_answer(server, fields, request=request, hint_sub="pairwise-" + OID[:8])
    assert claims["amr"] == ["swk"]


def test_eam_sign_in_denied_on_the_phone_is_not_answered(
    op: tuple[RunningServer, EntraSim], tmp_path: Path
) -> None:
    server, sim = op
    app = enrolled_app(server, "alice", tmp_path)
    browser = Browserless(server)
    first = browser.http.post(server.url("/oidc/authorize"), data=sim.request(sim.hint(oid=OID)),
                              allow_redirects=False, timeout=10)  # fmt: skip
    ticket = first.headers["Location"].split("ticket=", 1)[1]
    page = f"/login?ticket={ticket}"
    shown = browser.post("/push/login/start", {"ticket": ticket, "username": "alice"},
                         page=page).json()  # fmt: skip
    app.deny()
    refused = browser.post("/push/login/poll",
                           {"ticket": ticket, "transaction_id": shown["transaction_id"]},
                           page=page)  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"] == "push_denied"

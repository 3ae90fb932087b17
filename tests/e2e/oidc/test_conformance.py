"""Checklist mirroring the OpenID Foundation Basic OP and Config OP test plans (one test each).

Test ids in the names follow the OIDF conformance suite's module names.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import pytest
import requests

from tests.e2e.entra_sim import CLIENT_SECRET
from tests.e2e.helpers import PasskeyClient, signed_in_session
from tests.e2e.oidc.conftest import MfaOp
from tests.e2e.oidc.peer import (
    REDIRECT,
    authorize,
    code_from,
    exchange,
    pkce,
    verify_id_token,
)
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def user(server: RunningServer) -> PasskeyClient:
    return signed_in_session(server, "alice")


def flow(user: PasskeyClient, discovery: dict[str, Any], **extra: str) -> dict[str, Any]:
    verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": "webapp", "redirect_uri": REDIRECT,
              "scope": "openid", "state": "st", "nonce": "nn", "code_challenge": challenge,
              "code_challenge_method": "S256", **extra}  # fmt: skip
    answer = code_from(authorize(user, discovery, **params))
    token = exchange(discovery, answer["code"], verifier).json()
    return {
        "answer": answer,
        "token": token,
        "claims": verify_id_token(token["id_token"], discovery, "webapp"),
    }


# -- Config OP ---------------------------------------------------------------------------------
def test_oidcc_discovery_issuer_matches_url_prefix(server: RunningServer) -> None:
    response = requests.get(server.url("/.well-known/openid-configuration"), timeout=5)
    assert response.headers["Content-Length"] == str(len(response.content))
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["issuer"] == server.base_url


def test_oidcc_discovery_endpoint_verification(discovery: dict[str, Any]) -> None:
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ):
        assert discovery[name].startswith(discovery["issuer"] + "/")
    assert "code" in discovery["response_types_supported"]
    assert {"public"} <= set(discovery["subject_types_supported"])
    assert "RS256" in discovery["id_token_signing_alg_values_supported"]
    assert "openid" in discovery["scopes_supported"]


def test_oidcc_discovery_jwks_have_kid_x5c_and_no_private_or_symmetric(
    discovery: dict[str, Any],
) -> None:
    keys = requests.get(discovery["jwks_uri"], timeout=5).json()["keys"]
    assert keys
    for jwk in keys:
        assert jwk["kty"] in ("RSA", "EC") and jwk["kid"] and jwk["x5c"]
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk)
    assert len({k["kid"] for k in keys}) == len(keys)


# -- Basic OP ----------------------------------------------------------------------------------
def test_oidcc_server_code_flow(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    result = flow(user, discovery)
    assert result["token"]["token_type"] == "Bearer"
    assert {"iss", "sub", "aud", "exp", "iat"} <= set(result["claims"])


def test_oidcc_ensure_state_and_nonce_echoed(user: PasskeyClient, discovery: dict[str, Any]
                                             ) -> None:  # fmt: skip
    result = flow(user, discovery, state="s-xyz", nonce="n-xyz")
    assert result["answer"]["state"] == "s-xyz" and result["claims"]["nonce"] == "n-xyz"


def test_oidcc_scope_profile_email_phone_address(user: PasskeyClient, discovery: dict[str, Any]
                                                 ) -> None:  # fmt: skip
    result = flow(user, discovery, scope="openid profile email phone address")
    info = requests.get(
        discovery["userinfo_endpoint"],
        timeout=5,
        headers={"Authorization": f"Bearer {result['token']['access_token']}"},
    ).json()
    assert info["preferred_username"] == "alice" and info["email"] == "alice@example.com"
    assert info["sub"] == result["claims"]["sub"]


def test_oidcc_prompt_none_not_logged_in(server: RunningServer, discovery: dict[str, Any]) -> None:
    answer = code_from(authorize(PasskeyClient(server), discovery, response_type="code",
                                 client_id="webapp", redirect_uri=REDIRECT, scope="openid",
                                 prompt="none"))  # fmt: skip
    assert answer["error"] == "login_required"


def test_oidcc_prompt_none_logged_in(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    assert "code" in flow(user, discovery, prompt="none")["answer"]


def test_oidcc_prompt_login_forces_sign_in(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    response = authorize(
        user,
        discovery,
        response_type="code",
        client_id="webapp",
        redirect_uri=REDIRECT,
        scope="openid",
        prompt="login",
    )
    assert response.status_code == 303 and "/login?ticket=" in response.headers["Location"]


def test_oidcc_max_age_1_forces_sign_in(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    time.sleep(1.1)
    response = authorize(
        user,
        discovery,
        response_type="code",
        client_id="webapp",
        redirect_uri=REDIRECT,
        scope="openid",
        max_age="1",
    )
    assert response.status_code == 303 and "/login?ticket=" in response.headers["Location"]


def test_oidcc_max_age_10000_returns_auth_time(user: PasskeyClient, discovery: dict[str, Any]
                                               ) -> None:  # fmt: skip
    claims = flow(user, discovery, max_age="10000")["claims"]
    assert claims["auth_time"] <= claims["iat"]


def test_oidcc_unknown_parameters_ignored(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    assert "code" in flow(user, discovery, extra_param="foobar")["answer"]


def test_oidcc_id_token_hint(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    first = flow(user, discovery)
    again = flow(user, discovery, prompt="none", id_token_hint=first["token"]["id_token"])
    assert again["claims"]["sub"] == first["claims"]["sub"]


def test_oidcc_login_hint_accepted(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    assert "code" in flow(user, discovery, login_hint="alice")["answer"]


def test_oidcc_claims_essential_acr(mfa_op: MfaOp) -> None:
    user, discovery = mfa_op.alice, mfa_op.discovery
    claims_param = (
        '{"id_token":{"acr":{"essential":true,"values":["https://refeds.org/profile/mfa"]}}}'
    )
    assert flow(user, discovery, claims=claims_param)["claims"]["acr"] == (
        "https://refeds.org/profile/mfa"
    )


def test_oidcc_codereuse_revokes(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    verifier, challenge = pkce()
    answer = code_from(authorize(user, discovery, response_type="code", client_id="webapp",
                                 redirect_uri=REDIRECT, scope="openid", code_challenge=challenge,
                                 code_challenge_method="S256"))  # fmt: skip
    token = exchange(discovery, answer["code"], verifier).json()
    assert exchange(discovery, answer["code"], verifier).status_code == 400
    info = requests.get(
        discovery["userinfo_endpoint"],
        timeout=5,
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert info.status_code == 401


def test_oidcc_ensure_registered_redirect_uri(user: PasskeyClient, discovery: dict[str, Any]
                                              ) -> None:  # fmt: skip
    response = authorize(
        user,
        discovery,
        response_type="code",
        client_id="webapp",
        redirect_uri=REDIRECT + "/x",
        scope="openid",
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_oidcc_ensure_post_request_succeeds(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    response = user.http.post(
        discovery["authorization_endpoint"],
        allow_redirects=False,
        timeout=5,
        data={
            "response_type": "code",
            "client_id": "webapp",
            "redirect_uri": REDIRECT,
            "scope": "openid",
        },
    )
    assert "code" in code_from(response)


def test_oidcc_ensure_request_object_refused(user: PasskeyClient, discovery: dict[str, Any]
                                             ) -> None:  # fmt: skip
    answer = code_from(
        authorize(
            user,
            discovery,
            response_type="code",
            client_id="webapp",
            redirect_uri=REDIRECT,
            scope="openid",
            request="e30.e30.",
        )
    )
    assert answer["error"] == "request_not_supported"


def test_oidcc_client_secret_basic_and_post(user: PasskeyClient, discovery: dict[str, Any]
                                            ) -> None:  # fmt: skip
    verifier, challenge = pkce()
    answer = code_from(authorize(user, discovery, response_type="code", client_id="webapp",
                                 redirect_uri=REDIRECT, scope="openid", code_challenge=challenge,
                                 code_challenge_method="S256"))  # fmt: skip
    assert exchange(discovery, answer["code"], verifier).status_code == 200
    # client_secret_post (the "postapp" client is registered for it; Basic would be refused)
    cb = "https://rp.example.com/cb"
    posted = code_from(authorize(user, discovery, response_type="code", client_id="postapp",
                                 redirect_uri=cb, scope="openid"))  # fmt: skip
    form = {"grant_type": "authorization_code", "code": posted["code"], "redirect_uri": cb}
    as_basic = requests.post(discovery["token_endpoint"], data=form, timeout=5,
                             auth=("postapp", CLIENT_SECRET))  # fmt: skip
    assert as_basic.status_code == 401 and as_basic.json()["error"] == "invalid_client"
    posted = code_from(authorize(user, discovery, response_type="code", client_id="postapp",
                                 redirect_uri=cb, scope="openid"))  # fmt: skip
    form["code"] = posted["code"]
    as_post = requests.post(
        discovery["token_endpoint"],
        timeout=5,
        data={**form, "client_id": "postapp", "client_secret": CLIENT_SECRET},
    )
    assert as_post.status_code == 200 and as_post.json()["id_token"]


def test_oidcc_userinfo_get_post_header_post_body(user: PasskeyClient, discovery: dict[str, Any]
                                                  ) -> None:  # fmt: skip
    access = flow(user, discovery)["token"]["access_token"]
    url = discovery["userinfo_endpoint"]
    results = [
        requests.get(url, headers={"Authorization": f"Bearer {access}"}, timeout=5),
        requests.post(url, headers={"Authorization": f"Bearer {access}"}, timeout=5),
        requests.post(url, data={"access_token": access}, timeout=5),
    ]
    assert [r.status_code for r in results] == [200, 200, 200]


def test_oidcc_alg_none_never_used(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    token = flow(user, discovery)["token"]["id_token"]
    header = token.split(".")[0]
    assert b'"none"' not in base64.urlsafe_b64decode(header + "==")
    assert "none" not in discovery["id_token_signing_alg_values_supported"]


def test_oidcc_at_hash_matches(user: PasskeyClient, discovery: dict[str, Any]) -> None:
    result = flow(user, discovery)
    digest = hashlib.sha256(result["token"]["access_token"].encode()).digest()[:16]
    assert result["claims"]["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

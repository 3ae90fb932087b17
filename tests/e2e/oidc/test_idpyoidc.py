"""The idpyoidc relying party (a peer we did not write) completes the code flow with PKCE S256.

Discovery, static registration, the authorization redirect (followed by the passkey client's
requests session, as a browser would), the token exchange with ``client_secret_basic``,
idpyoidc's own id_token validation (signature from our JWKS, iss, aud, nonce, at_hash) and
userinfo. Facts from DESIGN.md: idpyoidc refuses client secrets shorter than 16 characters,
needs ``client_type: oidc`` for discovery, and writes key files into the working directory
unless given ``key_conf`` (here they go to ``tmp_path``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from idpyoidc.client.exception import OidcServiceError
from idpyoidc.client.rp_handler import RPHandler

from tests.e2e.entra_sim import CLIENT_SECRET
from tests.e2e.helpers import PasskeyClient
from tests.e2e.oidc.conftest import MfaOp
from tests.e2e.oidc.peer import REDIRECT
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e


def rp_handler(server: RunningServer, directory: Path) -> RPHandler:
    config = {
        "issuer": server.base_url,
        "client_type": "oidc",
        "client_id": "webapp",
        "client_secret": CLIENT_SECRET,
        "redirect_uris": [REDIRECT],
        # The refresh service only knows the methods listed here (the token service has its own).
        "client_authn_methods": ["client_secret_basic"],
        "preference": {
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        },
        "add_ons": {
            "pkce": {
                "function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
                "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"},
            }
        },
    }
    key_conf = {
        "private_path": str(directory / "private" / "jwks.json"),
        "public_path": str(directory / "static" / "jwks.json"),
        "key_defs": [{"type": "EC", "crv": "P-256", "use": ["sig"]}],
        "read_only": False,
    }
    return RPHandler(base_url="http://localhost:9", client_configs={"ours": config},
                     key_conf=key_conf, httpc_params={"timeout": 10})  # fmt: skip


def authorize(rph: RPHandler, browser: PasskeyClient) -> tuple[dict[str, Any], dict[str, str]]:
    """Begin at the RP, follow the redirect with the browser; the RP's session and our answer."""
    url = rph.begin(issuer_id="ours", req_args={"scope": ["openid", "profile", "email"]})
    assert isinstance(url, str), url
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    response = browser.http.get(url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?"), location
    return query, {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_idpyoidc_code_flow_with_pkce(mfa_op: MfaOp, tmp_path: Path) -> None:
    server, alice = mfa_op.server, mfa_op.alice
    rph = rp_handler(server, tmp_path)
    sent, answer = authorize(rph, alice)
    # What idpyoidc sent: discovery found our endpoint, PKCE S256 and a nonce were added.
    assert sent["client_id"] == "webapp" and sent["response_type"] == "code"
    assert sent["code_challenge_method"] == "S256" and len(sent["code_challenge"]) == 43
    assert sent["nonce"] and sent["state"]
    assert answer["state"] == sent["state"] and answer["iss"] == server.base_url
    client = rph.issuer2rp[server.base_url]
    assert client.get_context().provider_info["issuer"] == server.base_url

    result = rph.finalize(server.base_url, answer)
    assert result["state"] == sent["state"]
    claims = result["id_token"]  # verified by idpyoidc against our JWKS
    employee = server.employee("alice")
    assert claims["iss"] == server.base_url
    assert claims["aud"] == ["webapp"]
    assert claims["sub"] == employee.id
    assert claims["nonce"] == sent["nonce"]
    assert claims["acr"] == "https://refeds.org/profile/mfa"
    # a device-bound passkey (BE flag clear) unlocked by its user (UV flag)
    assert claims["amr"] == ["fido", "hwk", "user", "pin", "mfa"]
    assert claims["auth_time"] <= claims["iat"] < claims["exp"]
    assert "at_hash" in claims
    info = result["userinfo"]
    assert info["sub"] == employee.id
    assert info["email"] == "alice@example.com" and info["email_verified"] is True
    assert info["preferred_username"] == "alice"
    assert result["token"], "the access token reached the RP"
    # The key files went to tmp_path, not to the working directory.
    assert (tmp_path / "private" / "jwks.json").exists()


def test_idpyoidc_refresh_rotates_and_a_replayed_token_kills_the_family(
    server: RunningServer, alice: PasskeyClient, tmp_path: Path
) -> None:
    rph = rp_handler(server, tmp_path)
    sent, answer = authorize(rph, alice)
    rph.finalize(server.base_url, answer)
    first = rph.get_session_information(sent["state"])["refresh_token"]
    refreshed = rph.refresh_access_token(sent["state"])
    assert refreshed["refresh_token"] != first and refreshed["access_token"]
    # An attacker replays the first (spent) refresh token: the whole family is revoked ...
    token_endpoint = rph.issuer2rp[server.base_url].get_context().provider_info["token_endpoint"]
    replay = requests.post(
        token_endpoint,
        auth=("webapp", CLIENT_SECRET),
        timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": first},
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # ... so the RP's own, newer token no longer works either.
    with pytest.raises(OidcServiceError, match="invalid_grant"):
        rph.refresh_access_token(sent["state"])


def test_replaying_the_code_idpyoidc_redeemed_revokes_its_tokens(
    server: RunningServer, alice: PasskeyClient, tmp_path: Path
) -> None:
    rph = rp_handler(server, tmp_path)
    sent, answer = authorize(rph, alice)
    rph.finalize(server.base_url, answer)
    session = rph.get_session_information(sent["state"])
    endpoints = rph.issuer2rp[server.base_url].get_context().provider_info
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    assert requests.get(endpoints["userinfo_endpoint"], headers=bearer, timeout=10).ok
    replay = requests.post(
        endpoints["token_endpoint"], auth=("webapp", CLIENT_SECRET), timeout=10,
        data={"grant_type": "authorization_code", "code": answer["code"],
              "redirect_uri": REDIRECT, "code_verifier": session["code_verifier"]},
    )  # fmt: skip
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert "access_token" not in replay.json()
    after = requests.get(endpoints["userinfo_endpoint"], headers=bearer, timeout=10)
    assert after.status_code == 401, "tokens issued for a replayed code are revoked"
    with pytest.raises(OidcServiceError, match="invalid_grant"):
        rph.refresh_access_token(sent["state"])

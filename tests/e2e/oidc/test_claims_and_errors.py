"""Over HTTP: what the ``claims`` parameter may release (issue 16 §3.1) and the character set
of ``error_description`` in redirects and JSON errors (§3.7)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import requests

from tests.e2e.entra_sim import CLIENT_SECRET
from tests.e2e.helpers import PasskeyClient
from tests.e2e.oidc.peer import REDIRECT, authorize, code_from, exchange, pkce, verify_id_token

pytestmark = pytest.mark.e2e
ALLOWED = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
ASK_EMAIL_AND_GROUPS = json.dumps({"id_token": {"email": {"essential": True}, "groups": None}})


def _code(alice: PasskeyClient, discovery: dict[str, Any], **extra: str) -> tuple[str, str]:
    verifier, challenge = pkce()
    answer = code_from(authorize(alice, discovery, response_type="code", client_id="webapp",
                                 redirect_uri=REDIRECT, state="s", code_challenge=challenge,
                                 code_challenge_method="S256", **extra))  # fmt: skip
    return answer["code"], verifier


def test_claims_asked_by_name_are_granted_as_scopes_and_say_so(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    code, verifier = _code(alice, discovery, scope="openid", claims=ASK_EMAIL_AND_GROUPS)
    tokens = exchange(discovery, code, verifier).json()
    # What was released is what the token response says was granted.
    assert tokens["scope"].split() == ["openid", "email", "groups"]
    claims = verify_id_token(tokens["id_token"], discovery, "webapp")
    assert claims["email"] == "alice@example.com"
    assert "phone_number" not in claims and "preferred_username" not in claims


def test_a_refresh_narrowed_to_openid_releases_no_user_claim(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    code, verifier = _code(alice, discovery, scope="openid", claims=ASK_EMAIL_AND_GROUPS)
    first = exchange(discovery, code, verifier).json()
    narrowed = requests.post(discovery["token_endpoint"], timeout=5, auth=("webapp", CLIENT_SECRET),
                             data={"grant_type": "refresh_token", "scope": "openid",
                                   "refresh_token": first["refresh_token"]}).json()  # fmt: skip
    assert narrowed["scope"] == "openid"
    claims = verify_id_token(narrowed["id_token"], discovery, "webapp")
    assert not {"email", "email_verified", "groups"} & set(claims)
    bearer = {"Authorization": f"Bearer {narrowed['access_token']}"}
    info = requests.get(discovery["userinfo_endpoint"], timeout=5, headers=bearer).json()
    assert set(info) == {"sub"}


def test_the_consent_page_lists_the_claims_the_claims_parameter_asks_for(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    page = authorize(alice, discovery, response_type="code", client_id="consenting",
                     redirect_uri="https://rp.example.com/cb", scope="openid",
                     claims=ASK_EMAIL_AND_GROUPS, prompt="consent")  # fmt: skip
    assert page.status_code == 200 and "Allow" in page.text
    assert "email (email, email_verified)" in page.text and "groups (groups)" in page.text
    assert "your identity" not in page.text


def test_redirected_errors_carry_only_the_allowed_characters(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    answer = code_from(authorize(alice, discovery, response_type="code", client_id="webapp",
                                 redirect_uri=REDIRECT, scope="openid", state="s",
                                 claims='{"broken": "§\\"'))  # fmt: skip
    assert answer["error"] == "invalid_request"
    assert ALLOWED.fullmatch(answer["error_description"]), answer["error_description"]
    assert "section 5.5" in answer["error_description"]


def test_token_errors_carry_only_the_allowed_characters(discovery: dict[str, Any]) -> None:
    refused = requests.post(discovery["token_endpoint"], timeout=5, auth=("webapp", CLIENT_SECRET),
                            data={"grant_type": 'gr"ant§\\type'})  # fmt: skip
    assert refused.status_code == 400
    body = refused.json()
    assert body["error"] == "unsupported_grant_type"
    assert ALLOWED.fullmatch(body["error_description"]), body["error_description"]

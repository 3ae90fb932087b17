"""The relying-party side of the OIDC end-to-end tests: requests, PKCE, code exchange and
id_token checks with PyJWT against the OP's published keys."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from tests.e2e.entra_sim import CLIENT_SECRET
from tests.e2e.helpers import PasskeyClient

REDIRECT = "http://localhost:9/cb"  # registered for "webapp"; never fetched


def verify_id_token(token: str, discovery: dict[str, Any], audience: str) -> dict[str, Any]:
    keys = requests.get(discovery["jwks_uri"], timeout=5).json()["keys"]
    header = jwt.get_unverified_header(token)
    jwk = next(k for k in keys if k["kid"] == header["kid"])
    algorithm = RSAAlgorithm if jwk["kty"] == "RSA" else ECAlgorithm
    claims: dict[str, Any] = jwt.decode(
        token, algorithm.from_jwk(json.dumps(jwk)), algorithms=[header["alg"]],
        audience=audience, issuer=discovery["issuer"],
    )  # fmt: skip
    return claims


def authorize(
    browser: PasskeyClient, discovery: dict[str, Any], **params: str
) -> requests.Response:
    return browser.http.get(discovery["authorization_endpoint"], params=params,
                            allow_redirects=False, timeout=10)  # fmt: skip


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def code_from(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT) or location.startswith("https://"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(
    discovery: dict[str, Any], code: str, verifier: str | None = None, client_id: str = "webapp"
) -> requests.Response:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    if verifier:
        form["code_verifier"] = verifier
    return requests.post(discovery["token_endpoint"], data=form, timeout=5,
                         auth=(client_id, CLIENT_SECRET))  # fmt: skip


def signed_code(browser: PasskeyClient, discovery: dict[str, Any]) -> tuple[str, str]:
    verifier, challenge = pkce()
    answer = code_from(
        authorize(
            browser,
            discovery,
            response_type="code",
            client_id="webapp",
            redirect_uri=REDIRECT,
            scope="openid",
            state="s",
            code_challenge=challenge,
            code_challenge_method="S256",
        )
    )
    return answer["code"], verifier

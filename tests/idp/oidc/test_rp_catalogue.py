"""The OIDC relying-party pages (docs/rp/okta-oidc.md, generic-oidc.md): the client entries
they show load as written, and the requests those RPs send are accepted as the pages say."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from idp.config.oidc import load_clients
from idp.oidc import errors as e
from idp.oidc.authorize import ErrorTarget, parse_authorization_request
from idp.oidc.clients import CLIENT_ASSERTION_TYPE, ClientCredentials, authenticate_client
from idp.oidc.grants import s256
from idp.store.ephemeral.memory import MemoryStore

DOCS = Path(__file__).resolve().parents[3] / "docs" / "rp"
ISSUER = "https://idp.acme.example"
TOKEN_ENDPOINT = f"{ISSUER}/oidc/token"
OKTA_CALLBACK = "https://acme.okta.com/oauth2/v1/authorize/callback"


def _yaml_blocks(page: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


def test_okta_private_key_jwt_client_as_documented(tmp_path: Path) -> None:
    """Okta's private-key client authentication: its public JWK in the jwks file, an
    RS256 assertion with aud = our token endpoint, each jti once; Okta's authorize request
    (code flow, openid profile email, state, nonce, optional PKCE S256) is accepted."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = RSAKey.import_key(key.public_key(), {"kid": "okta-1"}).as_dict(private=False)
    (tmp_path / "okta-client-jwks.json").write_text(json.dumps({"keys": [public]}))
    path = tmp_path / "clients.yaml"
    path.write_text(_yaml_blocks("okta-oidc.md")[0])
    registry = load_clients(path, policies={"default": object()}, env={})
    client = registry.get("okta")
    assert client is not None and client.token_endpoint_auth_method == "private_key_jwt"
    assert client.redirect_uris == (OKTA_CALLBACK,)

    verifier = "v" * 50
    params = {
        "client_id": ["okta"],
        "redirect_uri": [OKTA_CALLBACK],
        "response_type": ["code"],
        "scope": ["openid profile email"],
        "state": ["okta-state"],
        "nonce": ["okta-nonce"],
        "code_challenge": [s256(verifier)],
        "code_challenge_method": ["S256"],
    }
    request = parse_authorization_request(
        params, client=client, target=ErrorTarget(OKTA_CALLBACK, "query", "okta-state"),
        issuer=ISSUER, own_keys=lambda kid: None, now=dt.datetime.now(dt.UTC),
    )  # fmt: skip
    assert request.scopes == ("openid", "profile", "email")
    assert request.state == "okta-state" and request.nonce == "okta-nonce"

    store, stamp = MemoryStore(), int(time.time())
    assertion = pyjwt.encode(
        {"iss": "okta", "sub": "okta", "aud": TOKEN_ENDPOINT, "exp": stamp + 60, "jti": "j-1"},
        key, algorithm="RS256", headers={"kid": "okta-1"},
    )  # fmt: skip

    def authenticate() -> object:
        return authenticate_client(
            credentials=ClientCredentials(
                client_assertion_type=CLIENT_ASSERTION_TYPE, client_assertion=assertion
            ),
            registry=registry,
            expected_audiences=(TOKEN_ENDPOINT, ISSUER),
            now=dt.datetime.fromtimestamp(stamp, dt.UTC),
            remember_jti=lambda k, ttl: store.add_if_absent(k, b"1", ttl=ttl),
        )

    assert authenticate() is client
    with pytest.raises(e.InvalidClientError, match="replay"):
        authenticate()


def test_okta_secret_variant_and_generic_client_load(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for name in ("oidc-okta", "oidc-wiki"):
        (secrets / name).write_text("S" * 48)
    okta = tmp_path / "okta.yaml"
    okta.write_text("clients:\n" + _yaml_blocks("okta-oidc.md")[1])
    client = load_clients(okta, policies={"default": object()}, env={}).get("okta")
    assert client is not None and client.token_endpoint_auth_method == "client_secret_post"
    # The page warns: the registered method is the only one accepted.
    with pytest.raises(e.InvalidClientError, match="registered for client_secret_post"):
        authenticate_client(
            credentials=ClientCredentials(authorization="Basic b2t0YTpTU1NT"),
            registry=load_clients(okta, policies={"default": object()}, env={}),
            expected_audiences=(),
            now=dt.datetime.now(dt.UTC),
            remember_jti=lambda k, ttl: True,
        )
    generic = tmp_path / "generic.yaml"
    generic.write_text(_yaml_blocks("generic-oidc.md")[0])
    wiki = load_clients(generic, policies={"default": object()}, env={}).get("wiki")
    assert wiki is not None and wiki.redirect_uris == ("https://wiki.acme.example/oidc/callback",)
    assert set(wiki.scopes) == {"openid", "profile", "email", "groups"}

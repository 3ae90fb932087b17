"""Unit tests of the sans-IO OIDC core: keys, JWT checks, grants, requests, clients, config."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from pathlib import Path

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from idp.config.oidc import load_clients
from idp.errors import ConfigError
from idp.keys import KeySet, generate_self_signed
from idp.oidc import errors as e
from idp.oidc.authorize import ErrorTarget, parse_authorization_request
from idp.oidc.clients import (
    CLIENT_ASSERTION_TYPE,
    Client,
    ClientCredentials,
    ClientRegistry,
    authenticate_client,
)
from idp.oidc.entra_jwks import EntraJwks
from idp.oidc.grants import Grant, GrantStore, s256
from idp.oidc.keys import keys_from_signing_keys, verify_jwt
from idp.store.ephemeral.memory import MemoryStore

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    d = tmp_path_factory.mktemp("k")
    cur = generate_self_signed(d / "a.key", d / "a.crt", common_name="a")
    nxt = generate_self_signed(d / "b.key", d / "b.crt", common_name="b")
    ec = generate_self_signed(d / "c.key", d / "c.crt", common_name="c", kind="ec")
    return keys_from_signing_keys(KeySet(cur, nxt), KeySet(ec)), cur


def test_jwks_publishes_next_key_without_private_or_symmetric_material(keys) -> None:  # type: ignore[no-untyped-def]
    oidc_keys, current = keys
    published = oidc_keys.jwks()["keys"]
    assert len(published) == 3
    assert {k["alg"] for k in published} == {"RS256", "ES256"}
    for jwk in published:
        assert jwk["kid"] and jwk["x5c"] and jwk["use"] == "sig"
        assert not {"d", "p", "q", "dp", "dq", "qi", "k"} & set(jwk)
    assert current.kid in {k["kid"] for k in published}


def test_signed_token_verifies_and_hostile_variants_fail(keys) -> None:  # type: ignore[no-untyped-def]
    oidc_keys, _ = keys
    token = oidc_keys.sign({"sub": "x"}, alg="RS256")
    assert verify_jwt(token, lookup=oidc_keys.lookup, algorithms=("RS256",)).claims == {"sub": "x"}
    h, p, s = token.split(".")
    forged = base64.urlsafe_b64encode(b'{"sub":"admin"}').rstrip(b"=").decode()
    with pytest.raises(e.JwtSignatureError):
        verify_jwt(f"{h}.{forged}.{s}", lookup=oidc_keys.lookup, algorithms=("RS256",))
    header = json.loads(base64.urlsafe_b64decode(h + "=="))
    for alg in ("none", "HS256"):
        bad = base64.urlsafe_b64encode(json.dumps({**header, "alg": alg}).encode()).decode()
        with pytest.raises(e.JwtAlgorithmError):
            verify_jwt(f"{bad.rstrip('=')}.{p}.{s}", lookup=oidc_keys.lookup,
                       algorithms=("RS256",))  # fmt: skip
    with pytest.raises(e.JwtUnknownKeyError):
        verify_jwt(token, lookup=lambda kid: None, algorithms=("RS256",))
    with pytest.raises(e.JwtMalformedError):
        verify_jwt("a.b", lookup=oidc_keys.lookup, algorithms=("RS256",))
    jku = base64.urlsafe_b64encode(json.dumps({**header, "jku": "https://x"}).encode()).decode()
    with pytest.raises(e.JwtMalformedError):
        verify_jwt(f"{jku.rstrip('=')}.{p}.{s}", lookup=oidc_keys.lookup, algorithms=("RS256",))


def _grant(**kw) -> Grant:  # type: ignore[no-untyped-def]
    values = dict(
        grant_id="g1",
        client_id="c",
        employee_id="e",
        session_id="s",
        scopes=("openid",),
        auth_time=0.0,
        acr="a",
        amr=("fido",),
        redirect_uri="https://rp/cb",
    )
    values.update(kw)
    return Grant(**values)  # type: ignore[arg-type]


class RecordingFamilies:
    """Refresh families for code tests: no refresh token is expected, revocations recorded.
    (The real SQL families are tested in ``test_store.py``.)"""

    def __init__(self) -> None:
        self.revoked: list[tuple[str, str]] = []

    def start(self, grant: Grant, *, token_hash: str, now: dt.datetime, ttl: int) -> None:
        raise AssertionError("no refresh token expected here")

    def rotate(self, **kw: object) -> Grant:
        raise AssertionError("no refresh token expected here")

    def revoke(self, grant_id: str, *, now: dt.datetime, reason: str) -> bool:
        self.revoked.append((grant_id, reason))
        return True


def test_code_is_single_use_and_replay_revokes_the_grant() -> None:
    families = RecordingFamilies()
    grants = GrantStore(MemoryStore(), families=families)
    code = grants.issue_code(_grant())
    grant = grants.redeem_code(code=code, client_id="c", redirect_uri="https://rp/cb",
                               code_verifier=None, now=NOW)  # fmt: skip
    access = grants.issue_access_token(grant)
    assert grants.access_token(access).grant_id == "g1"
    assert families.revoked == []
    with pytest.raises(e.InvalidGrantError, match="already used"):
        grants.redeem_code(code=code, client_id="c", redirect_uri="https://rp/cb",
                           code_verifier=None, now=NOW)  # fmt: skip
    with pytest.raises(e.InvalidTokenError, match="revoked"):
        grants.access_token(access)
    assert families.revoked == [("g1", "code_reused")], "the refresh family must go too"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"client_id": "other"}, "another client"),
        ({"redirect_uri": "https://rp/other"}, "redirect_uri"),
        ({"code_verifier": "v" * 43}, "does not match"),
        ({"code_verifier": None}, "missing"),
        ({"code_verifier": "short"}, "43-128"),
    ],
)
def test_code_redemption_checks(kw: dict, message: str) -> None:  # type: ignore[type-arg]
    grants = GrantStore(MemoryStore(), families=RecordingFamilies())
    code = grants.issue_code(_grant(code_challenge=s256("x" * 43)))
    args = {
        "code": code,
        "client_id": "c",
        "redirect_uri": "https://rp/cb",
        "code_verifier": "x" * 43,
        "now": NOW,
    }
    args.update(kw)
    with pytest.raises(e.InvalidGrantError, match=message):
        grants.redeem_code(**args)


def test_pkce_s256_rfc7636_appendix_b_vector() -> None:
    # RFC 7636 Appendix B
    assert s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == (
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    )


CLIENT = Client(client_id="c", name="c", redirect_uris=("https://rp/cb",), secret="s" * 32)
TARGET = ErrorTarget("https://rp/cb", "query", None)


def _parse(**params: str | list[str]):  # type: ignore[no-untyped-def]
    base: dict[str, list[str]] = {
        "client_id": ["c"],
        "redirect_uri": ["https://rp/cb"],
        "response_type": ["code"],
        "scope": ["openid"],
    }
    for k, v in params.items():
        base[k] = v if isinstance(v, list) else [v]
    return parse_authorization_request(base, client=CLIENT, target=TARGET, issuer="https://op",
                                       own_keys=lambda kid: None, now=NOW)  # fmt: skip


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"scope": "profile"}, e.InvalidScopeError),
        ({"response_type": "token"}, e.UnsupportedResponseTypeError),
        ({"prompt": "none login"}, e.InvalidRequestError),
        ({"state": ["a", "b"]}, e.InvalidRequestError),
        ({"request": "eyJ.x.y"}, e.RequestNotSupportedError),
        ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, e.InvalidRequestError),
        ({"max_age": "-1"}, e.InvalidRequestError),
        ({"claims": "{not json"}, e.InvalidRequestError),
        ({"login_hint": "x" * 300}, e.InvalidRequestError),
    ],
)
def test_authorization_request_refusals(params: dict, error: type) -> None:  # type: ignore[type-arg]
    with pytest.raises(error):
        _parse(**params)


def test_authorization_request_ignores_unknown_parameters_and_scopes() -> None:
    parsed = _parse(scope="openid bogus email", foo="bar")
    assert parsed.scopes == ("openid", "email")


def test_private_key_jwt_and_replay() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = RSAKey.import_key(key.public_key(), {"kid": "k1"})
    client = Client(
        client_id="pk",
        name="pk",
        redirect_uris=("https://rp/cb",),
        token_endpoint_auth_method="private_key_jwt",
        jwks={"k1": public},
    )
    registry, store = ClientRegistry({"pk": client}), MemoryStore()
    stamp = int(time.time())
    assertion = pyjwt.encode({"iss": "pk", "sub": "pk", "aud": "https://op/oidc/token",
                              "exp": stamp + 60, "jti": "j1"}, key, algorithm="RS256",
                             headers={"kid": "k1"})  # fmt: skip
    creds = ClientCredentials(client_assertion_type=CLIENT_ASSERTION_TYPE,
                              client_assertion=assertion)  # fmt: skip

    def remember(k: str, ttl: int) -> bool:
        return store.add_if_absent(k, b"1", ttl=ttl)

    now = dt.datetime.fromtimestamp(stamp, dt.UTC)
    found = authenticate_client(credentials=creds, registry=registry, now=now,
                                expected_audiences=("https://op/oidc/token",),
                                remember_jti=remember)  # fmt: skip
    assert found is client
    with pytest.raises(e.InvalidClientError, match="replay"):
        authenticate_client(
            credentials=creds,
            registry=registry,
            now=now,
            expected_audiences=("https://op/oidc/token",),
            remember_jti=remember,
        )


def test_two_auth_methods_at_once_refused() -> None:
    creds = ClientCredentials(authorization="Basic " + base64.b64encode(b"c:" + b"s" * 32).decode(),
                              client_id="c", client_secret="s" * 32)  # fmt: skip
    with pytest.raises(e.TokenRequestError, match="more than one"):
        authenticate_client(
            credentials=creds,
            registry=ClientRegistry({"c": CLIENT}),
            now=NOW,
            expected_audiences=(),
            remember_jti=lambda k, t: True,
        )


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("secret: {file: SECRET}\n    redirect_uris: [https://x/cb]", "at least 32"),
        ("public: true\n    secret: {file: LONG}\n    redirect_uris: [https://x/cb]", "secret"),
        ("secret: {file: LONG}\n    redirect_uris: [http://x.example.com/cb]", "plain http"),
        ("secret: {file: LONG}\n    redirect_uris: [https://x/cb]\n    colour: red", "unknown key"),
        ("secret: {file: LONG}\n    redirect_uris: [https://x/cb]\n    policy: nope", "no policy"),
        (
            "secret: literal-secret-in-yaml-literal-secret\n    redirect_uris: [https://x/cb]",
            "must not be written",
        ),
    ],
)
def test_clients_file_refusals(tmp_path: Path, entry: str, reason: str) -> None:
    (tmp_path / "short").write_text("too-short")
    (tmp_path / "long").write_text("L" * 40)
    entry = entry.replace("SECRET", str(tmp_path / "short")).replace("LONG", str(tmp_path / "long"))
    path = tmp_path / "clients.yaml"
    path.write_text(f"clients:\n  - client_id: app\n    {entry}\n")
    with pytest.raises(ConfigError, match=reason):
        load_clients(path, policies={"default": object()}, env={})


def test_entra_jwks_refetches_on_unknown_kid_at_most_every_interval() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    calls: list[str] = []

    def fetch(url: str) -> bytes:
        calls.append(url)
        return json.dumps({"keys": [key.as_dict(private=False)]}).encode()

    cache = EntraJwks(fetch=fetch, refresh_interval=300)
    assert cache.key(url="u", kid="k1", now=NOW) is not None
    assert cache.key(url="u", kid="nope", now=NOW + dt.timedelta(seconds=10)) is None
    assert len(calls) == 1, "no refetch inside the interval"
    assert cache.key(url="u", kid="nope", now=NOW + dt.timedelta(seconds=301)) is None
    assert len(calls) == 2


def test_entra_jwks_unreachable_is_temporarily_unavailable() -> None:
    def fetch(url: str) -> bytes:
        raise OSError("connection refused")

    with pytest.raises(e.TemporarilyUnavailableError):
        EntraJwks(fetch=fetch).key(url="u", kid="k", now=NOW)

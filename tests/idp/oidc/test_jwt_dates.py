"""Extreme and malformed NumericDates in JWTs (issue 16 §3.4): each is a 4xx naming the
claim, never an OverflowError (client assertions here; Entra's hints in test_eam_requests)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import RSAKey

from idp.oidc import errors as e
from idp.oidc.clients import (
    CLIENT_ASSERTION_TYPE,
    Client,
    ClientCredentials,
    ClientRegistry,
    authenticate_client,
)
from idp.oidc.keys import MAX_NUMERIC_DATE, numeric_date

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CLIENT = Client(client_id="pk", name="pk", redirect_uris=("https://rp/cb",),
                token_endpoint_auth_method="private_key_jwt",
                jwks={"k1": RSAKey.import_key(KEY.public_key(), {"kid": "k1"})})  # fmt: skip
AUDIENCE = "https://op/oidc/token"


def authenticate(**claims: Any) -> Client:
    stamp = int(time.time())
    body = {"iss": "pk", "sub": "pk", "aud": AUDIENCE, "exp": stamp + 60, "jti": str(claims)}
    body.update(claims)
    assertion = pyjwt.encode(body, KEY, algorithm="RS256", headers={"kid": "k1"})
    credentials = ClientCredentials(client_assertion_type=CLIENT_ASSERTION_TYPE,
                                    client_assertion=assertion)  # fmt: skip
    return authenticate_client(credentials=credentials, registry=ClientRegistry({"pk": CLIENT}),
                               expected_audiences=(AUDIENCE,),
                               now=dt.datetime.fromtimestamp(stamp, dt.UTC),
                               remember_jti=lambda key, ttl: True)  # fmt: skip


@pytest.mark.parametrize(
    ("claims", "text"),
    [
        ({"exp": 1e308}, "exp"),
        ({"exp": float("inf")}, "exp"),
        ({"exp": 10**40}, "exp"),
        ({"exp": "9999-12-31"}, "exp"),
        ({"exp": None}, "no exp"),
        ({"nbf": MAX_NUMERIC_DATE + 1}, "nbf"),
        ({"nbf": int(time.time()) + 3600}, "nbf is"),
        ({"iat": -1}, "iat"),
        ({"iat": int(time.time()) + 3600}, "iat is"),
        ({"iat": False}, "iat"),
    ],
)
def test_client_assertion_dates_are_checked(claims: dict[str, Any], text: str) -> None:
    with pytest.raises(e.InvalidClientError, match=text):
        authenticate(**claims)


def test_ordinary_client_assertion_dates_pass() -> None:
    now = int(time.time())
    assert authenticate(iat=now, nbf=now - 5, exp=now + 60.5) is CLIENT


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, 0), (1.9, 1), (MAX_NUMERIC_DATE, MAX_NUMERIC_DATE), (None, None)],
)
def test_numeric_date_accepts_the_calendar(value: object, expected: int | None) -> None:
    assert numeric_date({"x": value}, "x", what="t") == expected
    if expected is not None:
        dt.datetime.fromtimestamp(expected, dt.UTC)  # any accepted value converts


@pytest.mark.parametrize(
    "value",
    [float("nan"), -0.5, MAX_NUMERIC_DATE + 1, 10**5000, [], {}, "1"],
    ids=["nan", "negative", "year-10000", "5000-digits", "list", "object", "string"],
)
def test_numeric_date_refuses_the_rest(value: object) -> None:
    with pytest.raises(e.JwtClaimsError, match="t: x"):
        numeric_date({"x": value}, "x", what="t")

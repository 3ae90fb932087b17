"""Entra EAM requests found wanting with a simulated Entra (issue 16 §1, "Entra EAM"): the
cloud of the redirect URI, an unmeetable ``amr``, an oversized ``state``, a hint without a
user name, and extreme dates in the hint."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import pytest

from idp.directory.model import Employee
from idp.factors.kinds import FactorKind
from idp.oidc import errors as e
from idp.oidc.eam import (
    EamSettings,
    EntraHint,
    identify_eam_client,
    link_employee,
    offered_amr,
    parse_eam_request,
)
from idp.oidc.entra_jwks import EntraJwks
from tests.e2e.entra_sim import EAM_CLIENT_ID, HINT_AUDIENCE, TENANT, EntraSim

OID = str(uuid.uuid4())
US_REDIRECT = "https://login.microsoftonline.us/common/federation/externalauthprovider"


@pytest.fixture(scope="module")
def sim() -> EntraSim:
    return EntraSim()


@pytest.fixture(scope="module")
def jwks(sim: EntraSim) -> EntraJwks:
    # The simulator's own JWKS document, handed over without HTTP (the fetch seam).
    return EntraJwks(fetch=lambda url: json.dumps(sim.jwks()).encode())


SETTINGS = EamSettings(client_ids=(EAM_CLIENT_ID,), tenants=frozenset({TENANT}),
                       hint_audience=HINT_AUDIENCE)  # fmt: skip


def params(body: dict[str, str]) -> dict[str, list[str]]:
    return {k: [v] for k, v in body.items()}


def parse(body: dict[str, str], jwks: EntraJwks, settings: EamSettings = SETTINGS) -> Any:
    target = identify_eam_client(params(body), settings=settings)
    now = dt.datetime.now(dt.UTC)
    return parse_eam_request(params(body), target=target, settings=settings, jwks=jwks, now=now)


def us_hint(sim: EntraSim, **overrides: Any) -> str:
    return sim.hint(oid=OID, iss=f"https://login.microsoftonline.us/{TENANT}/v2.0", **overrides)


def test_the_redirect_uri_must_belong_to_the_cloud_of_the_hint(sim: EntraSim) -> None:
    body = sim.request(us_hint(sim))  # a .us hint, answered to login.microsoftonline.com
    with pytest.raises(e.InvalidRedirectUriError, match="usgov cloud") as caught:
        identify_eam_client(params(body), settings=SETTINGS)
    assert not caught.value.redirectable
    body = sim.request(sim.hint(oid=OID))
    body["redirect_uri"] = US_REDIRECT  # a .com hint, answered to login.microsoftonline.us
    with pytest.raises(e.InvalidRedirectUriError, match="global cloud"):
        identify_eam_client(params(body), settings=SETTINGS)


def test_a_hint_of_the_matching_cloud_is_checked_with_that_cloud(
    sim: EntraSim, jwks: EntraJwks
) -> None:
    body = sim.request(us_hint(sim))
    body["redirect_uri"] = US_REDIRECT
    target = identify_eam_client(params(body), settings=SETTINGS)
    assert (target.cloud, target.redirect_uri) == ("usgov", US_REDIRECT)
    assert parse(body, jwks).hint.cloud == "usgov"


def test_a_hint_too_broken_to_name_a_cloud_is_answered_to_the_redirect_uri(
    sim: EntraSim, jwks: EntraJwks
) -> None:
    body = sim.request("not-a-jwt")
    target = identify_eam_client(params(body), settings=SETTINGS)
    assert target.cloud == "global" and target.state == "st-1"
    with pytest.raises(e.InvalidRequestError, match="id_token_hint"):
        parse(body, jwks)


@pytest.mark.parametrize("state", ["s" * 2049, None])
def test_a_state_that_cannot_be_echoed_is_refused_to_entra(
    state: str | None, sim: EntraSim, jwks: EntraJwks
) -> None:
    body = sim.request(sim.hint(oid=OID))
    query = params(body)
    query["state"] = [state] if state is not None else ["a", "b"]
    target = identify_eam_client(query, settings=SETTINGS)  # not an error page
    assert target.state is None and target.redirect_uri == body["redirect_uri"]
    with pytest.raises(e.InvalidRequestError, match="state") as caught:
        parse_eam_request(query, target=target, settings=SETTINGS, jwks=jwks,
                          now=dt.datetime.now(dt.UTC))  # fmt: skip
    assert caught.value.redirectable


def test_an_amr_the_factors_cannot_produce_is_refused_before_any_factor_step(
    sim: EntraSim, jwks: EntraJwks
) -> None:
    body = sim.request(sim.hint(oid=OID))
    body["claims"] = json.dumps({"id_token": {"amr": {"essential": True,
                                                      "values": ["otp", "sms"]}}})  # fmt: skip
    with pytest.raises(e.InvalidRequestError, match="amr values \\(otp, sms\\)") as caught:
        parse(body, jwks)
    assert "fido, hwk, swk" in caught.value.description
    body["claims"] = json.dumps({"id_token": {"amr": {"values": ["otp", "hwk"]}}})
    assert parse(body, jwks).requested_amr == ("otp", "hwk")


def test_offered_amr_follows_the_policy_factors() -> None:
    assert offered_amr(frozenset({FactorKind.PASSKEY})) == ("fido", "hwk", "swk")
    both = offered_amr(frozenset({FactorKind.PASSKEY, FactorKind.TOTP}))
    assert both == ("fido", "hwk", "swk", "otp")
    assert offered_amr(frozenset({FactorKind.PASSWORD})) == (), "pwd is never a second factor"


def test_a_hint_without_user_name_says_so_under_username_linking() -> None:
    hint = EntraHint(sub="s", oid=OID, tid=TENANT, preferred_username=None, iat=0,
                     cloud="global")  # fmt: skip

    def nobody(*_: str) -> Employee | None:
        return None

    with pytest.raises(e.AccessDeniedError) as caught:
        link_employee(hint, linking="preferred_username", by_entra_id=nobody, by_username=nobody)
    assert "None" not in caught.value.description
    assert "no preferred_username" in caught.value.description


@pytest.mark.parametrize(
    ("claims", "text"),
    [
        ({"iat": 1e308}, "iat"),
        ({"iat": float("inf")}, "iat"),
        ({"iat": 10**30}, "iat"),
        ({"iat": -5}, "iat"),
        ({"iat": "yesterday"}, "iat"),
        ({"iat": True}, "iat"),
        ({"iat": None}, "iat is missing"),
        ({"nbf": 253_402_300_800}, "nbf"),
        ({"nbf": int(time.time()) + 3600}, r"nbf is \d+ s in the future"),
        ({"exp": "never"}, "exp"),
        ({"exp": 1e400}, "exp"),
    ],
)
def test_extreme_or_malformed_dates_in_the_hint_are_invalid_request(
    claims: dict[str, Any], text: str, sim: EntraSim, jwks: EntraJwks
) -> None:
    hint = sim.hint(oid=OID, **claims)
    with pytest.raises(e.InvalidRequestError, match=text):
        parse(sim.request(hint), jwks)

"""Defect (issue 16 §3.1): the ``claims`` parameter released claims beyond the consented scopes.

The consent page listed "your identity" and the token said ``scope: openid``, yet the id_token
and userinfo carried e-mail and groups. Now a claim named in ``claims`` adds its scope to the
request (shown on consent, listed in ``scope``), and the release follows the granted scopes only.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from idp.directory.model import Employee
from idp.oidc.authorize import ErrorTarget, parse_authorization_request
from idp.oidc.claims import consent_lines, release
from idp.oidc.clients import Client

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TARGET = ErrorTarget("https://rp/cb", "query", "st")
ALICE = Employee(
    id="emp-1", username="alice", email="alice@example.com", phone="+4915100000",
    first_name="Alice", last_name="Liddell", groups=("staff",),
)  # fmt: skip


def _parse(client: Client, scope: str, claims: dict[str, object]):  # type: ignore[no-untyped-def]
    params = {"client_id": [client.client_id], "redirect_uri": ["https://rp/cb"],
              "response_type": ["code"], "scope": [scope],
              "claims": [json.dumps(claims)]}  # fmt: skip
    return parse_authorization_request(params, client=client, target=TARGET, issuer="https://op",
                                       own_keys=lambda kid: None, now=NOW)  # fmt: skip


def _client(scopes: frozenset[str] | None = None) -> Client:
    if scopes is None:
        return Client(client_id="c", name="c", redirect_uris=("https://rp/cb",), secret="s" * 32)
    return Client(client_id="c", name="c", redirect_uris=("https://rp/cb",), secret="s" * 32,
                  scopes=scopes)  # fmt: skip


def test_claims_named_in_the_claims_parameter_join_the_requested_scopes() -> None:
    asked = {
        "id_token": {"email": {"essential": True}, "groups": None},
        "userinfo": {"phone_number": None, "acr": {"values": ["x"]}, "unknown_claim": None},
    }
    parsed = _parse(_client(), "openid", asked)
    # The consent page and the token response's scope both read these.
    assert parsed.scopes == ("openid", "email", "groups", "phone")
    assert consent_lines(parsed.scopes) == (
        "email (email, email_verified)", "groups (groups)", "phone (phone_number)",
    )  # fmt: skip


def test_a_claim_whose_scope_the_client_may_not_have_adds_nothing() -> None:
    client = _client(frozenset({"openid", "profile"}))
    parsed = _parse(client, "openid", {"userinfo": {"email": None, "preferred_username": None}})
    assert parsed.scopes == ("openid", "profile")


def test_release_follows_the_granted_scopes_only() -> None:
    # A grant for scope openid (narrowed by a refresh, or consented before the claims rule)
    # releases no user claim, whatever its stored request named.
    assert release(employee=ALICE, scopes=("openid",)) == {}
    assert release(employee=ALICE, scopes=("openid", "email")) == {
        "email": "alice@example.com", "email_verified": True,
    }  # fmt: skip
    everything = release(employee=ALICE, scopes=("openid", "profile", "phone", "groups"))
    assert "email" not in everything and everything["groups"] == ["staff"]


def test_consent_lines_skip_openid_and_name_scopes_without_claims() -> None:
    assert consent_lines(("openid",)) == ()
    assert consent_lines(("openid", "offline_access")) == ("offline_access",)


@pytest.mark.parametrize("member", ["id_token", "userinfo"])
def test_either_member_of_the_claims_parameter_counts(member: str) -> None:
    assert _parse(_client(), "openid", {member: {"email": None}}).scopes == ("openid", "email")

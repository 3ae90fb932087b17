"""Shared fixtures: keys made at test time, an IdP configuration, SPs, a replay cache."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from idp.config.saml import (
    AttributeRelease,
    Endpoint,
    IdpSamlSettings,
    NameIdRule,
    ServiceProvider,
    load_service_providers,
)
from idp.directory.model import Employee
from idp.factors.kinds import FactorKind, FactorUse
from idp.keys import KeySet, SigningKey
from idp.saml import constants as c
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.conftest import KeyMaker
from tests.idp.saml.saml_support import IDP_BASE, NOW, SP_ACS, SP_ENTITY, SP_SLO, MemoryReplayCache


@pytest.fixture(scope="session")
def idp_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("idp")


@pytest.fixture(scope="session")
def idp_next_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("next")


@pytest.fixture(scope="session")
def sp_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("sp")


@pytest.fixture(scope="session")
def other_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("other")


@pytest.fixture(scope="session")
def signer(idp_key: SigningKey) -> SamlSigner:
    return SamlSigner(KeySet(idp_key), algorithms=(("sha256", "sha256"), ("sha1", "sha1")))


@pytest.fixture(scope="session")
def settings() -> IdpSamlSettings:
    return IdpSamlSettings(entity_id=IDP_BASE, base_url=IDP_BASE, pairwise_salt="s" * 32)


@pytest.fixture(scope="session")
def sp(sp_key: SigningKey) -> ServiceProvider:
    return ServiceProvider(
        name="test-sp",
        entity_id=SP_ENTITY,
        profile="generic",
        acs=(
            Endpoint(c.BINDING_POST, SP_ACS, 0, True),
            Endpoint(c.BINDING_POST, "https://sp.example.com/acs2", 1),
        ),
        slo=(Endpoint(c.BINDING_REDIRECT, SP_SLO),),
        signing_certs=(sp_key.cert_pem,),
        want_authn_requests_signed=False,
        sign_response=True,
        sign_assertion=True,
        name_id=NameIdRule(c.NAMEID_PERSISTENT, "pairwise"),
        attributes=(
            AttributeRelease("email", "email"),
            AttributeRelease("full_name", "name"),
            AttributeRelease("groups", "groups"),
        ),
        allow_idp_initiated=True,
    )


@pytest.fixture(scope="session")
def sp_signed(sp: ServiceProvider) -> ServiceProvider:
    return replace(sp, want_authn_requests_signed=True)


@pytest.fixture
def replay_cache() -> MemoryReplayCache:
    return MemoryReplayCache()


@pytest.fixture(scope="session")
def employee() -> Employee:
    return Employee(
        id="emp-1",
        username="alice",
        email="alice@example.com",
        first_name="Alice",
        last_name="Liddell",
        groups=("engineering", "admins"),
        external_ids={"github": "alice-gh"},
    )


@pytest.fixture(scope="session")
def context() -> AuthContext:
    use = FactorUse(FactorKind.PASSKEY, "cred-1", NOW, True, ("hwk", "user"))
    return AuthContext("sess-1", "emp-1", NOW - dt.timedelta(seconds=5), (use,))


SHIPPED_SPS = Path(__file__).resolve().parents[3] / "config" / "relying_parties"


@pytest.fixture(scope="module")
def sps() -> dict[str, ServiceProvider]:
    """The shipped SP profiles (config/relying_parties), by name."""
    return {sp.name: sp for sp in load_service_providers(SHIPPED_SPS).values()}

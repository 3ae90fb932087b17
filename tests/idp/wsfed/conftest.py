"""Fixtures for the WS-Fed core: keys made once per session, Exchange and WIF relying parties."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.directory.model import Employee
from idp.factors.kinds import FactorKind, FactorUse
from idp.keys import KeySet, SigningKey
from idp.sessions import AuthContext
from idp.wsfed import constants as c
from idp.wsfed.model import ClaimRule, NameIdentifierRule, RelyingParty, TokenType, WsFedSettings
from idp.wsfed.runtime import WsFedRuntime, build_wsfed
from tests.conftest import KeyMaker

NOW = dt.datetime(2025, 3, 4, 10, 0, 0, 123000, tzinfo=dt.UTC)
OWA = "https://mail.example.com/owa/"
ECP = "https://mail.example.com/ecp"
WIF = "urn:contoso:expenses"
WIF_REPLY = "https://expenses.example.com/signin"


@pytest.fixture(scope="session")
def rsa_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("idp")


@pytest.fixture(scope="session")
def other_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("other")


@pytest.fixture(scope="session")
def ec_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("ec", kind="ec")


EXCHANGE_CLAIMS = (
    ClaimRule(c.CLAIM_UPN, "upn", required=True),
    ClaimRule(c.CLAIM_PRIMARYSID, "primarysid", required=True),
    ClaimRule(c.CLAIM_NAME, "name"),
    ClaimRule(c.CLAIM_EMAIL, "email"),
    ClaimRule(c.CLAIM_GROUP, "groups"),
)


def owa_rp(**changes: object) -> RelyingParty:
    values: dict[str, object] = {
        "name": "owa",
        "realm": OWA,
        "reply_urls": (OWA,),
        "token_type": TokenType.SAML11,
        "claims": EXCHANGE_CLAIMS,
    }
    values.update(changes)
    return RelyingParty(**values)  # type: ignore[arg-type]


def make_settings(*rps: RelyingParty, **changes: object) -> WsFedSettings:
    values: dict[str, object] = {
        "issuer": "https://idp.example.com",
        "base_url": "https://idp.example.com",
        "relying_parties": rps
        or (
            owa_rp(),
            owa_rp(name="ecp", realm=ECP, reply_urls=(ECP,)),
            RelyingParty(
                name="expenses",
                realm=WIF,
                reply_urls=(WIF_REPLY, "https://expenses.example.com/alt"),
                token_type=TokenType.SAML20,
                claims=(
                    ClaimRule(c.CLAIM_UPN, "upn", required=True),
                    ClaimRule(c.CLAIM_ROLE, "groups"),
                    ClaimRule(c.CLAIM_AMR, "amr"),
                ),
                name_identifier=NameIdentifierRule("email", c.NAMEID_EMAIL),
                signout_url="https://expenses.example.com/signout?x=1",
            ),
        ),
    }
    values.update(changes)
    return WsFedSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings() -> WsFedSettings:
    return make_settings()


@pytest.fixture
def wsfed(settings: WsFedSettings, rsa_key: SigningKey) -> WsFedRuntime:
    return build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW)


@pytest.fixture
def alice() -> Employee:
    return Employee(
        id="emp-1",
        username="alice",
        email="alice@example.com",
        first_name="Alice",
        last_name="Liddell",
        ad_object_sid="S-1-5-21-3623811015-3361044348-30300820-1013",
        external_ids={"upn": "alice@corp.example.com"},
        groups=("Staff", "VPN Users"),
    )


@pytest.fixture
def context() -> AuthContext:
    use = FactorUse(
        kind=FactorKind.PASSKEY,
        credential_id="cred-1",
        at=NOW - dt.timedelta(minutes=2),
        user_verified=True,
        amr=("hwk", "user"),
    )
    return AuthContext(
        session_id="session-secret-value",
        employee_id="emp-1",
        auth_time=NOW - dt.timedelta(minutes=2),
        factors=(use,),
    )

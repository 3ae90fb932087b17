"""What relying parties are told about a passkey sign-in: ``amr`` names user verification only
when the UV flag was set, and ``acr`` / SAML AuthnContext never claim more than happened —
through :func:`idp.policy.evaluate` and on into the OIDC id_token and SAML assertion builders."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from lxml import etree

from idp.config.saml import AttributeRelease, Endpoint, IdpSamlSettings, NameIdRule, ServiceProvider
from idp.directory.model import Employee
from idp.factors.kinds import FactorKind
from idp.factors.passkey import factor_use
from idp.factors.registry import PasskeyCredential
from idp.keys import KeySet
from idp.oidc.tokens import id_token_claims
from idp.policy import (
    PASSWORD_PROTECTED,
    PRESENCE_ACR,
    REFEDS_MFA,
    REFEDS_SFA,
    UNSPECIFIED,
    NeedsLogin,
    Policy,
    Requirement,
    Satisfied,
    Shortfall,
    evaluate,
)
from idp.saml import constants as c
from idp.saml.responses import build_response
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.conftest import KeyMaker

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
KEY = PasskeyCredential(
    credential_id="Y3JlZC0x", employee_id="emp-1", public_key=b"k", sign_count=0,
    aaguid="00000000-0000-0000-0000-000000000000", transports=("usb",), backup_eligible=False,
    backed_up=False, user_verified=False, attestation_format="fido-u2f", name="U2F key",
    created_at=NOW,
)  # fmt: skip
U2F_POLICY = Policy(
    name="u2f", factors=frozenset({FactorKind.PASSKEY}), require_user_verification=False
)


def signed_in(*, user_verified: bool, credential: PasskeyCredential = KEY) -> AuthContext:
    use = factor_use(credential, at=NOW, user_verified=user_verified)
    return AuthContext("sess-1", "emp-1", NOW, (use,))


def decide(policy: Policy, context: AuthContext | None, **kw: object) -> Satisfied | NeedsLogin:
    requirement = Requirement(relying_party="rp", policy=policy, **kw)  # type: ignore[arg-type]
    decision = evaluate(requirement=requirement, context=context, now=NOW)
    assert isinstance(decision, Satisfied | NeedsLogin), decision
    return decision


def satisfied(policy: Policy, context: AuthContext, **kw: object) -> Satisfied:
    decision = decide(policy, context, **kw)
    assert isinstance(decision, Satisfied), decision
    return decision


def test_amr_names_user_verification_only_when_the_uv_flag_was_set() -> None:
    assert factor_use(KEY, at=NOW, user_verified=False).amr == ("hwk", "user")
    assert factor_use(KEY, at=NOW, user_verified=True).amr == ("fido", "hwk", "user", "pin", "mfa")
    synced = replace(KEY, backup_eligible=True)
    assert factor_use(synced, at=NOW, user_verified=False).amr == ("swk", "user")
    assert factor_use(synced, at=NOW, user_verified=True).amr == (
        "fido",
        "swk",
        "user",
        "pin",
        "mfa",
    )


def test_a_touch_and_a_verified_passkey_get_different_acr_and_amr() -> None:
    touch = satisfied(U2F_POLICY, signed_in(user_verified=False))
    verified = satisfied(U2F_POLICY, signed_in(user_verified=True))
    assert touch.acr == PRESENCE_ACR and verified.acr == U2F_POLICY.acr
    assert touch.amr == ("hwk", "user")
    assert verified.amr == ("fido", "hwk", "user", "pin", "mfa")
    # The policy's class ref claims nothing (unspecified): both may carry it.
    assert touch.authn_context_class_ref == verified.authn_context_class_ref == UNSPECIFIED


@pytest.mark.parametrize(
    ("class_ref", "for_a_touch"),
    [
        (UNSPECIFIED, UNSPECIFIED),
        (PASSWORD_PROTECTED, PASSWORD_PROTECTED),  # one factor: what some SPs insist on
        (REFEDS_SFA, REFEDS_SFA),
        ("urn:example:ac:classes:Strong", REFEDS_SFA),  # unknown strength: not claimed
    ],
)
def test_a_touch_never_carries_a_class_ref_that_may_claim_more(
    class_ref: str, for_a_touch: str
) -> None:
    policy = replace(U2F_POLICY, authn_context_class_ref=class_ref)
    assert satisfied(policy, signed_in(user_verified=False)).authn_context_class_ref == for_a_touch
    assert satisfied(policy, signed_in(user_verified=True)).authn_context_class_ref == class_ref


def test_a_policy_that_claims_refeds_mfa_asks_a_touch_for_verification() -> None:
    policy = replace(U2F_POLICY, authn_context_class_ref=REFEDS_MFA)
    assert policy.verifies_user and not U2F_POLICY.verifies_user
    before = decide(policy, None)
    assert isinstance(before, NeedsLogin) and before.require_user_verification
    after = decide(policy, signed_in(user_verified=False))
    assert isinstance(after, NeedsLogin)
    assert after.reason is Shortfall.NO_USER_VERIFICATION and after.require_user_verification


def test_an_essential_request_for_more_than_a_touch_asks_for_verification() -> None:
    asked = {"requested_contexts": (U2F_POLICY.acr,), "essential": True}
    before = decide(U2F_POLICY, None, **asked)
    assert isinstance(before, NeedsLogin) and before.require_user_verification
    touch = decide(U2F_POLICY, signed_in(user_verified=False), **asked)
    assert isinstance(touch, NeedsLogin) and touch.reason is Shortfall.NO_USER_VERIFICATION
    assert satisfied(U2F_POLICY, signed_in(user_verified=True), **asked).acr == U2F_POLICY.acr


def test_a_voluntary_request_for_more_gets_what_happened() -> None:
    asked = {"requested_contexts": (U2F_POLICY.acr,), "essential": False}
    touch = satisfied(U2F_POLICY, signed_in(user_verified=False), **asked)
    assert (touch.acr, touch.authn_context_class_ref) == (PRESENCE_ACR, REFEDS_SFA)


def test_the_presence_acr_can_be_asked_for_where_a_policy_admits_touches() -> None:
    assert PRESENCE_ACR in U2F_POLICY.claimable_contexts()
    assert (
        PRESENCE_ACR not in replace(U2F_POLICY, require_user_verification=True).claimable_contexts()
    )
    asked = {"requested_contexts": (PRESENCE_ACR,), "essential": True}
    for uv in (False, True):  # claiming less than happened is honest too
        assert satisfied(U2F_POLICY, signed_in(user_verified=uv), **asked).acr == PRESENCE_ACR


def test_the_oidc_id_token_tells_a_touch_from_a_verified_passkey() -> None:
    def claims(uv: bool) -> dict[str, object]:
        decision = satisfied(U2F_POLICY, signed_in(user_verified=uv))
        return id_token_claims(
            issuer="https://idp.example.com", subject="sub-1", client_id="rp", now=0,
            lifetime=300, auth_time=0, acr=decision.acr, amr=decision.amr,
        )  # fmt: skip

    touch, verified = claims(False), claims(True)
    assert (touch["acr"], touch["amr"]) == (PRESENCE_ACR, ["hwk", "user"])
    assert (verified["acr"], verified["amr"]) == (
        U2F_POLICY.acr,
        ["fido", "hwk", "user", "pin", "mfa"],
    )


SAML = "{urn:oasis:names:tc:SAML:2.0:assertion}"


def test_the_saml_assertion_tells_a_touch_from_a_verified_passkey(test_keys: KeyMaker) -> None:
    settings = IdpSamlSettings(
        entity_id="https://idp.example.com", base_url="https://idp.example.com",
        pairwise_salt="s" * 32,
    )  # fmt: skip
    sp = ServiceProvider(
        name="sp", entity_id="https://sp.example.com", profile="generic",
        acs=(Endpoint(c.BINDING_POST, "https://sp.example.com/acs", 0, True),), slo=(),
        signing_certs=(), want_authn_requests_signed=False, sign_response=True,
        sign_assertion=True, name_id=NameIdRule(c.NAMEID_PERSISTENT, "pairwise"),
        attributes=(AttributeRelease("amr", "amr"),), allow_idp_initiated=True,
    )  # fmt: skip
    signer = SamlSigner(KeySet(test_keys("idp")), algorithms=(("sha256", "sha256"),))
    employee = Employee(
        id="emp-1", username="bob", email="bob@example.com", first_name="Bob", last_name="Brown"
    )
    policy = replace(U2F_POLICY, authn_context_class_ref="urn:example:ac:classes:Strong")

    def assertion(uv: bool) -> tuple[str, list[str]]:
        decision = satisfied(policy, signed_in(user_verified=uv))
        response = build_response(
            settings=settings, sp=sp, request=None, subject=employee, context=decision.context,
            authn_context_class_ref=decision.authn_context_class_ref, session_index="s-1",
            session_not_on_or_after=NOW + dt.timedelta(hours=8), signer=signer, now=NOW,
        )  # fmt: skip
        root = etree.fromstring(response.xml)
        ref = root.findtext(f".//{SAML}AuthnContextClassRef")
        amr = [
            v.text or ""
            for v in root.iterfind(f".//{SAML}Attribute[@Name='amr']/{SAML}AttributeValue")
        ]
        return ref or "", amr

    assert assertion(False) == (REFEDS_SFA, ["hwk", "user"])
    assert assertion(True) == (
        "urn:example:ac:classes:Strong",
        ["fido", "hwk", "user", "pin", "mfa"],
    )

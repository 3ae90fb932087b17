"""Policy evaluation: which sessions satisfy a relying party, and what is asserted."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.factors.kinds import FactorKind, FactorUse
from idp.policy import (
    PASSWORD_PROTECTED,
    REFEDS_MFA,
    Comparison,
    NeedsLogin,
    Policy,
    Requirement,
    Satisfied,
    Shortfall,
    Unsatisfiable,
    evaluate,
    unverified_factor_suffices,
)
from idp.sessions import AuthContext

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
POLICY = Policy(
    name="default",
    factors=frozenset({FactorKind.PASSKEY}),
    refeds_mfa=True,
    authn_context_class_ref=REFEDS_MFA,
    acr="phr",
    max_auth_age=3600,
)


def ctx(
    *,
    minutes_ago: int = 1,
    kind: FactorKind = FactorKind.PASSKEY,
    uv: bool = True,
    amr: tuple[str, ...] = ("fido", "hwk"),
) -> AuthContext:
    at = NOW - dt.timedelta(minutes=minutes_ago)
    return AuthContext(
        session_id="s", employee_id="e", auth_time=at, factors=(FactorUse(kind, "c", at, uv, amr),)
    )


def req(**kw: object) -> Requirement:
    return Requirement(relying_party="sp", policy=POLICY, **kw)  # type: ignore[arg-type]


def test_fresh_verified_passkey_satisfies_and_reports_how() -> None:
    d = evaluate(requirement=req(), context=ctx(), now=NOW)
    assert isinstance(d, Satisfied)
    assert d.authn_context_class_ref == REFEDS_MFA
    assert d.acr == "phr"
    assert d.amr == ("fido", "hwk")


@pytest.mark.parametrize(
    ("context", "requirement", "reason"),
    [
        (None, req(), Shortfall.NO_SESSION),
        (ctx(minutes_ago=61), req(), Shortfall.TOO_OLD),
        (ctx(minutes_ago=10), req(max_age=300), Shortfall.TOO_OLD),
        (ctx(kind=FactorKind.TOTP, amr=("otp",)), req(), Shortfall.WRONG_FACTOR),
        (ctx(uv=False), req(), Shortfall.NO_USER_VERIFICATION),
        (
            ctx(minutes_ago=5),
            req(fresh_after=NOW - dt.timedelta(minutes=1)),
            Shortfall.FRESH_LOGIN_REQUIRED,
        ),
    ],
)
def test_shortfalls_ask_for_a_login(
    context: AuthContext | None, requirement: Requirement, reason: Shortfall
) -> None:
    d = evaluate(requirement=requirement, context=context, now=NOW)
    assert isinstance(d, NeedsLogin)
    assert d.reason is reason
    assert d.factors == frozenset({FactorKind.PASSKEY})
    assert d.require_user_verification


def test_requested_context_that_policy_cannot_claim_is_unsatisfiable() -> None:
    d = evaluate(
        requirement=req(requested_contexts=("urn:example:smartcard",)), context=ctx(), now=NOW
    )
    assert isinstance(d, Unsatisfiable)
    assert REFEDS_MFA in d.available


def test_non_essential_request_falls_back_to_the_policy_context() -> None:
    d = evaluate(
        requirement=req(requested_contexts=("urn:x",), essential=False), context=ctx(), now=NOW
    )
    assert isinstance(d, Satisfied)
    assert d.authn_context_class_ref == REFEDS_MFA


def test_requested_value_is_echoed_as_acr() -> None:
    d = evaluate(requirement=req(requested_contexts=(REFEDS_MFA,)), context=ctx(), now=NOW)
    assert isinstance(d, Satisfied)
    assert d.acr == REFEDS_MFA


def test_minimum_comparison_accepts_a_stronger_context() -> None:
    d = evaluate(
        requirement=req(requested_contexts=(PASSWORD_PROTECTED,), comparison=Comparison.MINIMUM),
        context=ctx(),
        now=NOW,
    )
    assert isinstance(d, Satisfied)
    assert d.authn_context_class_ref == REFEDS_MFA


def test_maximum_comparison_refuses_when_only_stronger_is_claimable() -> None:
    d = evaluate(
        requirement=req(requested_contexts=(PASSWORD_PROTECTED,), comparison=Comparison.MAXIMUM),
        context=ctx(),
        now=NOW,
    )
    assert isinstance(d, Unsatisfiable)


def test_multiple_factor_kinds_add_mfa_to_amr() -> None:
    at = NOW - dt.timedelta(minutes=1)
    context = AuthContext(
        "s",
        "e",
        at,
        (
            FactorUse(FactorKind.PASSKEY, "c", at, True, ("hwk",)),
            FactorUse(FactorKind.TOTP, "t", at, False, ("otp",)),
        ),
    )
    assert context.amr == ("hwk", "otp", "mfa")


NO_UV_POLICY = Policy(
    name="relaxed",
    factors=frozenset({FactorKind.PASSKEY}),
    require_user_verification=False,
    refeds_mfa=True,
    authn_context_class_ref=PASSWORD_PROTECTED,
    acr="urn:hideez:acr:passkey",
)


def test_refeds_mfa_is_never_claimed_for_a_passkey_without_user_verification() -> None:
    # REFEDS MFA profile §1: two distinct factors; a passkey without UV is possession only.
    asked = Requirement(relying_party="sp", policy=NO_UV_POLICY, requested_contexts=(REFEDS_MFA,))
    d = evaluate(requirement=asked, context=ctx(uv=False), now=NOW)
    assert isinstance(d, NeedsLogin)
    assert d.reason is Shortfall.NO_USER_VERIFICATION
    assert d.require_user_verification  # the sign-in page asks for UV this time
    first = evaluate(requirement=asked, context=None, now=NOW)
    assert isinstance(first, NeedsLogin) and first.require_user_verification
    d = evaluate(requirement=asked, context=ctx(uv=True), now=NOW)
    assert isinstance(d, Satisfied) and d.authn_context_class_ref == REFEDS_MFA


def test_a_policy_whose_default_context_is_mfa_needs_uv_even_if_it_does_not_require_it() -> None:
    policy = Policy(
        name="p",
        factors=frozenset({FactorKind.PASSKEY}),
        require_user_verification=False,
        authn_context_class_ref=REFEDS_MFA,
    )
    d = evaluate(requirement=Requirement("sp", policy), context=ctx(uv=False), now=NOW)
    assert isinstance(d, NeedsLogin) and d.reason is Shortfall.NO_USER_VERIFICATION


def test_without_an_mfa_claim_a_relaxed_policy_accepts_a_passkey_without_uv() -> None:
    plain = Requirement(relying_party="sp", policy=NO_UV_POLICY)
    d = evaluate(requirement=plain, context=ctx(uv=False), now=NOW)
    assert isinstance(d, Satisfied)
    assert d.authn_context_class_ref == PASSWORD_PROTECTED


def test_two_factor_kinds_count_as_mfa_without_uv() -> None:
    at = NOW - dt.timedelta(minutes=1)
    context = AuthContext(
        "s",
        "e",
        at,
        (
            FactorUse(FactorKind.PASSWORD, "p", at, False, ("pwd",)),
            FactorUse(FactorKind.PASSKEY, "c", at, False, ("hwk",)),
        ),
    )
    asked = Requirement(relying_party="sp", policy=NO_UV_POLICY, requested_contexts=(REFEDS_MFA,))
    d = evaluate(requirement=asked, context=context, now=NOW)
    assert isinstance(d, Satisfied) and d.authn_context_class_ref == REFEDS_MFA


def test_an_exact_request_for_unspecified_is_always_met() -> None:
    """It promises nothing (Citrix Cloud sends it by default), so no policy need list it."""
    unspecified = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
    d = evaluate(requirement=req(requested_contexts=(unspecified,)), context=ctx(), now=NOW)
    assert isinstance(d, Satisfied) and d.authn_context_class_ref == unspecified
    other = evaluate(requirement=req(requested_contexts=("urn:example:strong",)), context=ctx(),
                     now=NOW)  # fmt: skip
    assert isinstance(other, Unsatisfiable)


TOTP_USE = FactorUse(FactorKind.TOTP, "totp:e", NOW - dt.timedelta(minutes=1), False, ("otp",))
PASSWORD_USE = FactorUse(
    FactorKind.PASSWORD, "password:e", NOW - dt.timedelta(minutes=1), False, ("pwd",)
)


def code_policy(*, uv: bool, mfa: bool) -> Policy:
    return Policy(
        name="codes",
        factors=frozenset({FactorKind.PASSKEY, FactorKind.TOTP}),
        require_user_verification=uv,
        authn_context_class_ref=REFEDS_MFA if mfa else PASSWORD_PROTECTED,
        acr=REFEDS_MFA if mfa else "urn:hideez:acr:code",
    )


def test_a_totp_code_never_verifies_the_user_and_the_refusal_says_why() -> None:
    context = AuthContext("s", "e", TOTP_USE.at, (TOTP_USE,))
    d = evaluate(requirement=Requirement("sp", code_policy(uv=True, mfa=False)), context=context,
                 now=NOW)  # fmt: skip
    assert isinstance(d, NeedsLogin) and d.reason is Shortfall.NO_USER_VERIFICATION
    assert d.unverified == (FactorKind.TOTP,)
    assert d.message is not None
    assert "one-time code shows that you have your phone" in d.message
    assert "requires a sign-in that verifies you" in d.message
    # Other shortfalls have nothing of the kind to say.
    assert evaluate(requirement=req(), context=None, now=NOW).message is None  # type: ignore[union-attr]


@pytest.mark.parametrize("uv", [True, False])
@pytest.mark.parametrize("mfa", [True, False])
@pytest.mark.parametrize("asked", [(), (REFEDS_MFA,)])
@pytest.mark.parametrize("after_password", [True, False])
def test_the_steps_rule_for_an_unverified_factor_agrees_with_evaluate(
    uv: bool, mfa: bool, asked: tuple[str, ...], after_password: bool
) -> None:
    """The TOTP and push steps refuse up front exactly the codes the policy would refuse
    afterwards (from what the login ticket knows: its UV flag and the policy's own)."""
    policy = code_policy(uv=uv, mfa=mfa)
    requirement = Requirement("sp", policy, requested_contexts=asked)
    first = evaluate(requirement=requirement, context=None, now=NOW)
    if isinstance(first, Unsatisfiable):
        return
    assert isinstance(first, NeedsLogin)
    uses = (PASSWORD_USE, TOTP_USE) if after_password else (TOTP_USE,)
    after = evaluate(requirement=requirement, context=AuthContext("s", "e", TOTP_USE.at, uses),
                     now=NOW)  # fmt: skip
    assert unverified_factor_suffices(
        ticket_requires_uv=first.require_user_verification,
        policy_requires_uv=policy.require_user_verification,
        after_password=after_password,
    ) == isinstance(after, Satisfied)

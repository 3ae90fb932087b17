"""Per-relying-party requirements: which factors satisfy a sign-in and how it is described.

A :class:`Policy` comes from YAML (``policies:``); each relying party names one. A protocol
turns its request into a :class:`Requirement` (ForceAuthn / ``prompt=login`` / ``wfresh=0``,
``max_age``, requested contexts, passive) and :func:`evaluate` decides, without IO, whether the
current session satisfies it and what to assert: SAML AuthnContextClassRef, OIDC/EAM
``acr``/``amr``, REFEDS MFA.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from idp.factors.kinds import FactorKind, FactorUse
from idp.sessions import AuthContext

REFEDS_MFA = "https://refeds.org/profile/mfa"
REFEDS_SFA = "https://refeds.org/profile/sfa"
PASSWORD_PROTECTED = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
#: the acr of a sign-in that proved possession of a key but verified nobody (a U2F touch, a
#: passkey used without PIN or biometric), when the policy's own acr would claim more
PRESENCE_ACR = "urn:hideez:acr:presence"


@dataclass(frozen=True)
class Policy:
    """What a relying party requires, and how a satisfied sign-in is expressed."""

    name: str
    factors: frozenset[FactorKind]
    require_user_verification: bool = True
    max_auth_age: int = 8 * 3600
    refeds_mfa: bool = False
    authn_context_class_ref: str = UNSPECIFIED
    acr: str = "urn:hideez:acr:passkey"
    #: further SAML class refs / OIDC acr values this policy may claim when an RP asks for them
    also_satisfies: tuple[str, ...] = ()

    @property
    def verifies_user(self) -> bool:
        """Whether its sign-ins need user verification as it answers by default: it says so,
        or it claims REFEDS MFA, which one factor reaches only with UV (see :func:`evaluate`).
        Enrolment applies this, so that no key is enrolled that sign-in would then refuse."""
        return self.require_user_verification or REFEDS_MFA in (
            self.authn_context_class_ref,
            self.acr,
        )

    def claimable_contexts(self) -> tuple[str, ...]:
        ordered = [self.authn_context_class_ref, self.acr, *self.also_satisfies]
        if self.refeds_mfa:
            ordered.insert(0, REFEDS_MFA)
        if not self.require_user_verification:
            ordered.append(PRESENCE_ACR)  # what its sign-ins without UV are called
        return tuple(dict.fromkeys(ordered))


class Comparison(StrEnum):
    """SAML RequestedAuthnContext comparison (SAML core §3.3.2.2.1); OIDC uses ``exact``."""

    EXACT = "exact"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"
    BETTER = "better"


@dataclass(frozen=True)
class Requirement:
    """One protocol request's demands on the session."""

    relying_party: str
    policy: Policy
    #: a sign-in older than this does not count (ForceAuthn, prompt=login, wfresh=0)
    fresh_after: dt.datetime | None = None
    max_age: int | None = None
    passive: bool = False
    requested_contexts: tuple[str, ...] = ()
    comparison: Comparison = Comparison.EXACT
    essential: bool = True
    login_hint: str | None = None
    #: the relying party's name as employees know it, for the sign-in page
    display_name: str | None = None


@dataclass(frozen=True)
class Satisfied:
    context: AuthContext
    authn_context_class_ref: str
    acr: str
    amr: tuple[str, ...]


class Shortfall(StrEnum):
    NO_SESSION = "no_session"
    TOO_OLD = "too_old"
    WRONG_FACTOR = "wrong_factor"
    NO_USER_VERIFICATION = "no_user_verification"
    FRESH_LOGIN_REQUIRED = "fresh_login_required"


#: Why a factor that verified nobody is not enough where user verification is required, in
#: the words the sign-in page shows. A TOTP code is possession only, by decision: whoever holds
#: the phone (or a copy of the secret) reads the code, nothing checks who they are, so TOTP
#: records ``user_verified=False`` and ``amr`` ``otp`` only, never ``user`` (issue 9: push →
#: ``swk`` + ``user`` where the app verified its user, TOTP → ``otp``). It satisfies a policy
#: that lists ``totp`` without ``user_verification``, and, after the password in the
#: two-factor mode, the policies such a pair satisfies (REFEDS MFA without ``user_verification``).
UNVERIFIED_FACTOR = {
    FactorKind.TOTP: (
        "a one-time code shows that you have your phone, not who is holding it, so it does "
        "not verify you"
    ),
    FactorKind.AUTHENTICATOR_APP: (
        "the Hideez app approved without checking your fingerprint, face or PIN first"
    ),
    FactorKind.PASSKEY: "your passkey or security key was used without its PIN or biometric",
}
NEEDS_VERIFICATION = (
    "this application requires a sign-in that verifies you: a passkey with its PIN or "
    "biometric, or the Hideez app after its fingerprint, face or PIN check"
)


def unverified_refusal(kind: FactorKind) -> str:
    """The sentence that says why ``kind``, used without user verification, was not enough."""
    why = UNVERIFIED_FACTOR.get(kind, f"the {kind.value} factor did not verify you")
    return f"{why}; {NEEDS_VERIFICATION}"


def unverified_factor_suffices(
    *, ticket_requires_uv: bool, policy_requires_uv: bool, after_password: bool
) -> bool:
    """Whether a factor that verified nobody (a TOTP code, a push approved without the app's
    check) can finish a sign-in, as :func:`evaluate` will then judge it: never when the policy
    requires user verification; otherwise when the password came first (two factors), or when
    the sign-in may be described as one factor (the ticket does not ask for UV)."""
    if policy_requires_uv:
        return False
    return after_password or not ticket_requires_uv


@dataclass(frozen=True)
class NeedsLogin:
    """The session does not satisfy the requirement; a (new) factor ceremony is needed."""

    reason: Shortfall
    factors: frozenset[FactorKind]
    require_user_verification: bool
    #: the session's factors the policy lists but that verified nobody (NO_USER_VERIFICATION)
    unverified: tuple[FactorKind, ...] = ()

    @property
    def message(self) -> str | None:
        """Why the current sign-in is not enough, for the sign-in page (None: nothing to say)."""
        if self.reason is Shortfall.NO_USER_VERIFICATION and self.unverified:
            return unverified_refusal(self.unverified[-1])
        return None


@dataclass(frozen=True)
class Unsatisfiable:
    """The RP asked for contexts this policy can never claim (SAML NoAuthnContext)."""

    requested: tuple[str, ...]
    available: tuple[str, ...]


Decision = Satisfied | NeedsLogin | Unsatisfiable

_RANK: Mapping[str, int] = {UNSPECIFIED: 0, PASSWORD_PROTECTED: 1, REFEDS_SFA: 1, REFEDS_MFA: 3}


def choose_context(requirement: Requirement) -> str | Unsatisfiable:
    """The context class to claim, honouring what the RP requested (if anything)."""
    policy = requirement.policy
    claimable = policy.claimable_contexts()
    if not requirement.requested_contexts:
        return policy.authn_context_class_ref
    requested = requirement.requested_contexts
    if requirement.comparison is Comparison.EXACT:
        for ref in requested:
            # "unspecified" promises nothing, so any sign-in may claim it (Citrix Cloud asks).
            if ref in claimable or ref == UNSPECIFIED:
                return ref
    else:
        for ref in claimable:
            if any(_compare(ref, asked, requirement.comparison) for asked in requested):
                return ref
    if not requirement.essential:
        return policy.authn_context_class_ref
    return Unsatisfiable(requested=requested, available=claimable)


def _compare(ours: str, asked: str, comparison: Comparison) -> bool:
    # Unknown class refs only match themselves; known ones are ordered by strength.
    if ours == asked:
        return comparison is not Comparison.BETTER
    if ours not in _RANK or asked not in _RANK:
        return False
    if comparison is Comparison.MINIMUM:
        return _RANK[ours] >= _RANK[asked]
    if comparison is Comparison.BETTER:
        return _RANK[ours] > _RANK[asked]
    return _RANK[ours] <= _RANK[asked]


def evaluate(
    *, requirement: Requirement, context: AuthContext | None, now: dt.datetime
) -> Decision:
    """Decide whether ``context`` satisfies ``requirement`` at ``now``.

    What is claimed never exceeds what happened: a sign-in without user verification (one
    factor, presence only) is described by a context of one factor at most — the policy's own
    when it claims no more, else :data:`REFEDS_SFA` / :data:`PRESENCE_ACR` — and a relying
    party that insists on more gets a sign-in with user verification asked for.
    """
    policy = requirement.policy
    chosen = choose_context(requirement)
    if isinstance(chosen, Unsatisfiable):
        return chosen
    # An RP that asked for a specific value gets that value back as acr too.
    acr = chosen if requirement.requested_contexts else policy.acr
    # REFEDS MFA must not be asserted for one factor: a passkey only counts as two (possession
    # + inherence/knowledge) with user verification, whatever the policy's own UV setting.
    claims_mfa = REFEDS_MFA in (chosen, acr)
    presence_claim = _presence_claim(requirement, chosen, acr)
    need = NeedsLogin(
        reason=Shortfall.NO_SESSION,
        factors=policy.factors,
        require_user_verification=(
            policy.require_user_verification or claims_mfa or presence_claim is None
        ),
    )
    if context is None:
        return need
    age = (now - context.auth_time).total_seconds()
    limit = policy.max_auth_age
    if requirement.max_age is not None:
        limit = min(limit, requirement.max_age)
    if requirement.fresh_after is not None and context.auth_time < requirement.fresh_after:
        return _with(need, Shortfall.FRESH_LOGIN_REQUIRED)
    if age > limit:
        return _with(need, Shortfall.TOO_OLD)
    usable = [u for u in context.factors if u.kind in policy.factors]
    if not usable:
        return _with(need, Shortfall.WRONG_FACTOR)
    unverified = tuple(u.kind for u in usable if not u.user_verified)
    if policy.require_user_verification and not any(u.user_verified for u in usable):
        return _with(need, Shortfall.NO_USER_VERIFICATION, unverified)
    if not _multi_factor(context, usable):
        if claims_mfa or presence_claim is None:
            return _with(need, Shortfall.NO_USER_VERIFICATION, unverified)
        chosen, acr = presence_claim
    return Satisfied(context=context, authn_context_class_ref=chosen, acr=acr, amr=context.amr)


def _one_factor_at_most(context_ref: str) -> bool:
    return context_ref == PRESENCE_ACR or _RANK.get(context_ref, _RANK[REFEDS_MFA]) <= 1


def _presence_claim(requirement: Requirement, chosen: str, acr: str) -> tuple[str, str] | None:
    """(class ref, acr) for a sign-in without user verification; None when the relying party
    insists (essential request) on a context that such a sign-in cannot honestly carry.

    A context we cannot rank (the policy's own ``acr``, an SP's class ref) may mean anything,
    so it is not claimed for a presence-only sign-in.
    """
    if _one_factor_at_most(chosen) and _one_factor_at_most(acr):
        return chosen, acr
    if requirement.requested_contexts and requirement.essential:
        return None
    return (
        chosen if _one_factor_at_most(chosen) else REFEDS_SFA,
        acr if _one_factor_at_most(acr) else PRESENCE_ACR,
    )


def _multi_factor(context: AuthContext, usable: list[FactorUse]) -> bool:
    return any(u.user_verified for u in usable) or len({u.kind for u in context.factors}) > 1


def _with(
    need: NeedsLogin, reason: Shortfall, unverified: tuple[FactorKind, ...] = ()
) -> NeedsLogin:
    return NeedsLogin(reason, need.factors, need.require_user_verification, unverified)


@dataclass(frozen=True)
class PolicySet:
    policies: Mapping[str, Policy] = field(default_factory=dict)
    default: str = "default"

    def get(self, name: str | None) -> Policy:
        return self.policies[name or self.default]

"""Which claims a token carries: the shared attribute vocabulary of :mod:`idp.subject`.

A claim rule's ``source`` is any source of that vocabulary (``upn``, ``primarysid``,
``email``, ``groups``, ``external_id:NAME``, ``windows_account:DOMAIN``, ``member_of:GROUP``,
...); the same name means the same in SAML attribute release.
"""

from __future__ import annotations

from dataclasses import dataclass

from idp import subject as vocabulary
from idp.directory.model import Employee
from idp.sessions import AuthContext
from idp.subject import Subject, as_subject
from idp.wsfed import constants as c
from idp.wsfed.errors import ClaimUnavailable
from idp.wsfed.model import ClaimRule, RelyingParty

SOURCES = vocabulary.SOURCES
check_source = vocabulary.check_source


def source_values(
    source: str, *, employee: Subject | Employee, context: AuthContext
) -> tuple[str, ...]:
    """The values of one source; empty when the subject has none."""
    subject = as_subject(employee)
    values = vocabulary.values_of(source, subject=subject, context=context)
    if vocabulary.unsafe_for_xml(values):
        raise ClaimUnavailable(
            f"the {source!r} value of employee {subject.username!r} holds a control "
            "character that a token cannot carry; ask the directory administrator to fix it"
        )
    return values


@dataclass(frozen=True)
class Claim:
    rule: ClaimRule
    values: tuple[str, ...]


def release(
    rp: RelyingParty, *, employee: Subject | Employee, context: AuthContext
) -> tuple[Claim, ...]:
    """The claims ``rp`` gets; a required claim without a value stops the sign-in.

    Exchange cannot map a token without ``primarysid`` to a mailbox, so issuing one would only
    move the failure to a worse error page on the Exchange side.
    """
    claims = []
    for rule in rp.claims:
        values = source_values(rule.source, employee=employee, context=context)
        if not values:
            if rule.required:
                raise ClaimUnavailable(
                    f"{rp.name} requires the claim {rule.claim_type} (source {rule.source!r}), "
                    f"but employee {employee.username!r} has no value for it; ask the "
                    "directory administrator to fill it in"
                )
            continue
        claims.append(Claim(rule, values))
    return tuple(claims)


def offered_claim_types(rps: tuple[RelyingParty, ...]) -> tuple[str, ...]:
    """Every claim type some relying party receives, in first-seen order (for metadata)."""
    seen: dict[str, None] = {}
    for rp in rps:
        for rule in rp.claims:
            seen.setdefault(rule.claim_type, None)
    return tuple(seen)


def display_name(claim_type: str) -> str:
    return c.CLAIM_DISPLAY_NAMES.get(claim_type) or claim_type.rpartition("/")[2] or claim_type

"""Which claims a token carries: claim sources and their values for one employee.

Claim sources (the ``source`` of a claim rule in YAML):

- ``upn`` — ``Employee.external_ids["upn"]`` (the AD userPrincipalName the directory sync
  stores), else the email address;
- ``primarysid`` — ``Employee.ad_object_sid`` (the AD objectSid, ``S-1-5-21-…``);
- ``email``, ``username``, ``name`` (full name), ``given_name``, ``surname``, ``phone``,
  ``employee_id``, ``groups`` (one value per group) — from the employee record;
- ``ad_object_guid``, ``entra_object_id`` — the directory ids;
- ``amr`` — the authentication methods of this sign-in (RFC 8176 values);
- ``external_id:NAME`` — ``Employee.external_ids[NAME]``;
- ``windows_account:DOMAIN`` — ``DOMAIN\\username`` (the windowsaccountname claim).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from idp.directory.model import Employee
from idp.sessions import AuthContext
from idp.wsfed import constants as c
from idp.wsfed.errors import ClaimUnavailable
from idp.wsfed.model import ClaimRule, RelyingParty

_Getter = Callable[[Employee, AuthContext], tuple[str, ...]]


def _one(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


_SIMPLE: Mapping[str, _Getter] = MappingProxyType(
    {
        "upn": lambda e, _: _one(e.external_ids.get("upn") or e.email),
        "primarysid": lambda e, _: _one(e.ad_object_sid),
        "email": lambda e, _: _one(e.email),
        "username": lambda e, _: _one(e.username),
        "name": lambda e, _: _one(e.full_name),
        "given_name": lambda e, _: _one(e.first_name),
        "surname": lambda e, _: _one(e.last_name),
        "phone": lambda e, _: _one(e.phone),
        "employee_id": lambda e, _: _one(e.id),
        "groups": lambda e, _: tuple(g for g in e.groups if g),
        "ad_object_guid": lambda e, _: _one(e.ad_object_guid),
        "entra_object_id": lambda e, _: _one(e.entra_object_id),
        "amr": lambda _, ctx: ctx.amr,
    }
)
SOURCES = tuple(_SIMPLE)
# XML 1.0 §2.2 Char: lxml refuses anything else, so such a value cannot go into a token.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_PREFIXES = ("external_id:", "windows_account:")
_NETBIOS = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,14}")


def check_source(value: Any) -> None:
    """Raise ValueError for a claim source we do not know (the config parser calls this)."""
    if not isinstance(value, str):
        raise ValueError(f"expected a claim source name, got {value!r}")
    if value in _SIMPLE:
        return
    kind, sep, arg = value.partition(":")
    if sep and f"{kind}:" in _PREFIXES and arg:
        if kind == "windows_account" and not _NETBIOS.fullmatch(arg):
            raise ValueError(f"{arg!r} is not a NetBIOS domain name")
        return
    raise ValueError(
        f"unknown claim source {value!r}; expected one of {', '.join(SOURCES)} "
        f"or a prefix {', '.join(_PREFIXES)}"
    )


def source_values(source: str, *, employee: Employee, context: AuthContext) -> tuple[str, ...]:
    """The values of one source for ``employee``; empty when the employee has none."""
    values = _raw_values(source, employee=employee, context=context)
    if any(_NOT_XML.search(value) for value in values):
        raise ClaimUnavailable(
            f"the {source!r} value of employee {employee.username!r} holds a control "
            "character that a token cannot carry; ask the directory administrator to fix it"
        )
    return values


def _raw_values(source: str, *, employee: Employee, context: AuthContext) -> tuple[str, ...]:
    getter = _SIMPLE.get(source)
    if getter is not None:
        return getter(employee, context)
    kind, _, arg = source.partition(":")
    if kind == "external_id":
        return _one(employee.external_ids.get(arg))
    if kind == "windows_account":
        return (f"{arg}\\{employee.username}",)
    raise ValueError(f"unknown claim source {source!r}")  # config refuses these at start


@dataclass(frozen=True)
class Claim:
    rule: ClaimRule
    values: tuple[str, ...]


def release(rp: RelyingParty, *, employee: Employee, context: AuthContext) -> tuple[Claim, ...]:
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

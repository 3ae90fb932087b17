"""Scopes → standard claims (OIDC Core §5.4) and the ``claims`` request parameter (§5.5).

What a relying party gets is decided by scopes alone. A user claim asked for by name in the
``claims`` parameter adds its scope to the request (:func:`scopes_with_claims`), so it is shown
on the consent page, remembered with the consent and listed in the token response's ``scope``
like any requested scope; :func:`release` then never goes beyond the granted scopes, whatever
the stored ``claims`` request names.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from idp.directory.model import Employee
from idp.oidc.errors import InvalidRequestError

#: the claims each scope releases; ``address`` is accepted but the directory holds no address
SCOPE_CLAIMS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "profile": ("name", "given_name", "family_name", "preferred_username"),
        "email": ("email", "email_verified"),
        "phone": ("phone_number",),
        "address": ("address",),
        "groups": ("groups",),
    }
)
CLAIM_SCOPE: Mapping[str, str] = MappingProxyType(
    {claim: scope for scope, claims in SCOPE_CLAIMS.items() for claim in claims}
)
SUPPORTED_CLAIMS = (
    "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid",
    *CLAIM_SCOPE,
)  # fmt: skip
MAX_CLAIMS_PARAMETER = 4096


@dataclass(frozen=True)
class ClaimRequest:
    """One entry of the ``claims`` parameter (OIDC Core §5.5.1)."""

    essential: bool = False
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class RequestedClaims:
    id_token: Mapping[str, ClaimRequest] = field(default_factory=dict)
    userinfo: Mapping[str, ClaimRequest] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            member: {n: {"essential": r.essential, "values": list(r.values)} for n, r in m.items()}
            for member, m in (("id_token", self.id_token), ("userinfo", self.userinfo))
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RequestedClaims:
        def member(name: str) -> dict[str, ClaimRequest]:
            return {
                n: ClaimRequest(bool(r["essential"]), tuple(r["values"]))
                for n, r in data.get(name, {}).items()
            }

        return cls(id_token=member("id_token"), userinfo=member("userinfo"))


def parse_claims_parameter(raw: str | None) -> RequestedClaims:
    """Parse the ``claims`` JSON; unknown claim names are kept (and later ignored)."""
    if raw is None:
        return RequestedClaims()
    if len(raw) > MAX_CLAIMS_PARAMETER:
        raise InvalidRequestError(f"claims is longer than {MAX_CLAIMS_PARAMETER} characters")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the stack
        raise InvalidRequestError("claims is not valid JSON (OIDC Core §5.5)") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("claims must be a JSON object with id_token/userinfo members")
    return RequestedClaims(
        id_token=_member(data.get("id_token"), "id_token"),
        userinfo=_member(data.get("userinfo"), "userinfo"),
    )


def _member(value: Any, name: str) -> dict[str, ClaimRequest]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 64:
        raise InvalidRequestError(f"claims.{name} must be an object of at most 64 claims")
    result: dict[str, ClaimRequest] = {}
    for claim, spec in value.items():
        if spec is None:
            result[claim] = ClaimRequest()
            continue
        if not isinstance(spec, dict):
            raise InvalidRequestError(f"claims.{name}.{claim} must be null or an object")
        raw_values = spec.get("values")
        if raw_values is None:
            raw_values = []
        if not isinstance(raw_values, list):
            # list("abc") would quietly become three one-letter values.
            raise InvalidRequestError(f"claims.{name}.{claim}.values must be a JSON array")
        values: list[Any] = list(raw_values)
        if "value" in spec:
            values.insert(0, spec["value"])
        if not all(isinstance(v, str) for v in values):
            raise InvalidRequestError(f"claims.{name}.{claim} values must be strings")
        essential = spec.get("essential", False)
        if not isinstance(essential, bool):
            raise InvalidRequestError(f"claims.{name}.{claim}.essential must be true or false")
        result[claim] = ClaimRequest(essential=essential, values=tuple(values))
    return result


def employee_claims(employee: Employee) -> dict[str, Any]:
    """Every standard claim the directory can answer for ``employee``."""
    claims: dict[str, Any] = {
        "name": employee.full_name or employee.username,
        "given_name": employee.first_name,
        "family_name": employee.last_name,
        "preferred_username": employee.username,
        "email": employee.email,
        "email_verified": True,  # directory-managed addresses, not self-asserted
        "phone_number": employee.phone,
        "groups": list(employee.groups),
    }
    return {k: v for k, v in claims.items() if v not in (None, "")}


def scopes_with_claims(
    scopes: tuple[str, ...], requested: RequestedClaims, *, allowed: frozenset[str]
) -> tuple[str, ...]:
    """``scopes`` plus the scope of each user claim ``requested`` names, if ``allowed``.

    A claim the client may not have (its scope is not among ``allowed``) and names that are
    not user claims (``acr``, ``auth_time``, unknown ones) add nothing (§5.5: the OP may
    decline to release a requested claim).
    """
    names = [*requested.id_token, *requested.userinfo]
    implied = [CLAIM_SCOPE[n] for n in names if CLAIM_SCOPE.get(n) in allowed]
    return tuple(dict.fromkeys((*scopes, *implied)))


def consent_lines(scopes: Iterable[str]) -> tuple[str, ...]:
    """What the consent page lists for ``scopes``: each scope with the claims it releases."""
    lines = []
    for scope in scopes:
        if scope == "openid":
            continue
        claims = SCOPE_CLAIMS.get(scope)
        lines.append(f"{scope} ({', '.join(claims)})" if claims else scope)
    return tuple(lines)


def release(*, employee: Employee, scopes: Iterable[str]) -> dict[str, Any]:
    """The claims the granted ``scopes`` release, and nothing else."""
    names = {c for s in scopes for c in SCOPE_CLAIMS.get(s, ())}
    available = employee_claims(employee)
    return {n: available[n] for n in sorted(names) if n in available}

"""What we release to an SP: the NameID value and the attribute values, from our sources.

Attribute sources:

- ``username``, ``email``, ``first_name``, ``last_name``, ``full_name``, ``employee_id``,
  ``phone``, ``groups`` — from the :class:`~idp.directory.model.Employee`;
- ``external_id:NAME`` — ``Employee.external_ids[NAME]`` (also ``ad_object_guid``,
  ``entra_object_id`` by those names);
- ``member_of:GROUP`` — ``"true"``/``"false"``;
- ``extra:NAME`` — values the caller passes per response (e.g. GitHub ``public_keys``);
- ``session_not_on_or_after`` — the session end as an xs:dateTime;
- ``amr`` — the authentication methods of the sign-in (RFC 8176 values).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from idp.directory.model import Employee
from idp.saml.errors import BuildError
from idp.sessions import AuthContext

if TYPE_CHECKING:
    from idp.config.saml import NameIdRule

_SIMPLE = (
    "username",
    "email",
    "first_name",
    "last_name",
    "full_name",
    "employee_id",
    "phone",
    "groups",
    "session_not_on_or_after",
    "amr",
)
_PREFIXES = ("external_id:", "member_of:", "extra:")


def check_source(value: Any) -> None:
    """Raise ValueError for an attribute source we do not know (used by the config parser)."""
    if not isinstance(value, str) or not (
        value in _SIMPLE or any(value.startswith(p) and len(value) > len(p) for p in _PREFIXES)
    ):
        raise ValueError(
            f"unknown attribute source {value!r}; expected one of {', '.join(_SIMPLE)} "
            f"or a prefix {', '.join(_PREFIXES)}"
        )


def pairwise_id(*, salt: str, employee_id: str, sp_entity_id: str) -> str:
    """Persistent pairwise NameID: HMAC-SHA256(salt, employee id ∥ SP entity id), base64url.

    Stable per (employee, SP) and unlinkable across SPs without the salt (core §8.3.7).
    """
    message = f"{employee_id}\x00{sp_entity_id}".encode()
    digest = hmac.new(salt.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def name_id_value(*, rule: NameIdRule, subject: Employee, salt: str, sp_entity_id: str) -> str:
    if rule.source == "pairwise":
        return pairwise_id(salt=salt, employee_id=subject.id, sp_entity_id=sp_entity_id)
    if rule.source == "email":
        return subject.email
    if rule.source == "username":
        return subject.username
    if rule.source == "transient":
        return "_" + secrets.token_hex(16)
    value = _external_id(subject, rule.external_id or "")
    if not value:
        raise BuildError(f"employee {subject.id} has no external id {rule.external_id!r}")
    return value


def attribute_values(
    source: str,
    *,
    subject: Employee,
    context: AuthContext,
    session_not_on_or_after: dt.datetime,
    extra: Mapping[str, Sequence[str]],
) -> tuple[str, ...]:
    """The values of one source; empty when the employee has none."""
    simple: dict[str, tuple[str, ...]] = {
        "username": (subject.username,),
        "email": (subject.email,),
        "first_name": (subject.first_name,),
        "last_name": (subject.last_name,),
        "full_name": (subject.full_name,),
        "employee_id": (subject.id,),
        "phone": (subject.phone,) if subject.phone else (),
        "groups": subject.groups,
        "amr": context.amr,
    }
    if source in simple:
        return tuple(v for v in simple[source] if v)
    if source == "session_not_on_or_after":
        return (instant(session_not_on_or_after),)
    kind, _, name = source.partition(":")
    if kind == "external_id":
        value = _external_id(subject, name)
        return (value,) if value else ()
    if kind == "member_of":
        return ("true" if name in subject.groups else "false",)
    if kind == "extra":
        return tuple(extra.get(name, ()))
    raise BuildError(f"unknown attribute source {source!r}")


def instant(moment: dt.datetime) -> str:
    """xs:dateTime in UTC without fractions, as SAML core §1.3.3 recommends."""
    if moment.tzinfo is None:
        raise BuildError("naive datetime; SAML instants must be timezone-aware")
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _external_id(subject: Employee, name: str) -> str | None:
    builtin = {
        "ad_object_guid": subject.ad_object_guid,
        "ad_object_sid": subject.ad_object_sid,
        "entra_object_id": subject.entra_object_id,
    }
    if name in builtin:
        return builtin[name]
    return subject.external_ids.get(name)

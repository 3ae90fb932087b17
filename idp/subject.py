"""The subject an answer is built from, and the one attribute vocabulary of every protocol.

SAML attribute release, WS-Fed claims and OpenID Connect claims all read a :class:`Subject`
through :func:`values_of`, so a source name (``email``, ``external_id:ad_object_guid``,
``member_of:Admins``) means the same in every protocol. A subject comes from a directory
:class:`~idp.directory.model.Employee` (:func:`subject_from_employee`) or, in a proxy such as
SATOSA, from what an upstream identity provider asserted (:func:`subject_from_attributes`) —
no employee record needed.

Sources:

- ``username``, ``email``, ``first_name`` (alias ``given_name``), ``last_name`` (alias
  ``surname``), ``full_name`` (alias ``name``), ``employee_id``, ``phone``, ``groups``;
- ``department`` — the name of the employee's department in the org structure;
- ``upn`` — ``external_id:upn`` (the AD userPrincipalName), else the email address;
- ``primarysid`` (alias ``ad_object_sid``), ``ad_object_guid``, ``entra_object_id``;
- ``amr`` — the authentication methods of this sign-in (RFC 8176 values);
- ``external_id:NAME`` — an external id (``ad_object_guid``, ``ad_object_sid``,
  ``entra_object_id``, ``entra_tenant_id`` by those names too);
- ``member_of:GROUP`` — ``"true"`` / ``"false"``;
- ``windows_account:DOMAIN`` — ``DOMAIN\\username``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from idp.directory.model import Employee
from idp.sessions import AuthContext


@dataclass(frozen=True)
class Subject:
    """Who an answer is about: a stable id and the attributes the vocabulary reads."""

    id: str
    username: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str | None = None
    groups: tuple[str, ...] = ()
    external_ids: Mapping[str, str] = field(default_factory=dict)
    department: str = ""

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def ad_object_guid(self) -> str | None:
        return self.external_ids.get("ad_object_guid")

    @property
    def ad_object_sid(self) -> str | None:
        return self.external_ids.get("ad_object_sid")

    @property
    def entra_object_id(self) -> str | None:
        return self.external_ids.get("entra_object_id")


def subject_from_employee(employee: Employee) -> Subject:
    ids = dict(employee.external_ids)
    for name in ("ad_object_guid", "ad_object_sid", "entra_object_id", "entra_tenant_id"):
        value = getattr(employee, name)
        if value:
            ids[name] = value
    return Subject(
        id=employee.id,
        username=employee.username,
        email=employee.email,
        first_name=employee.first_name,
        last_name=employee.last_name,
        phone=employee.phone,
        groups=employee.groups,
        external_ids=MappingProxyType(ids),
        department=employee.department or "",
    )


def subject_from_attributes(
    *, subject_id: str, attributes: Mapping[str, list[str]], mapping: Mapping[str, str]
) -> Subject:
    """A subject from upstream attributes (e.g. SATOSA's ``InternalData.attributes``).

    ``mapping`` names, per subject field (``username``, ``email``, ``first_name``,
    ``last_name``, ``phone``, ``department``, ``groups``, or ``external_id:NAME``), the
    upstream attribute it comes from; the first value counts, except for ``groups``.
    """

    def first(name: str) -> str:
        values = attributes.get(mapping.get(name, ""), [])
        return str(values[0]) if values else ""

    ids = {
        target.partition(":")[2]: first(target)
        for target in mapping
        if target.startswith("external_id:") and first(target)
    }
    groups = tuple(str(g) for g in attributes.get(mapping.get("groups", ""), []))
    return Subject(
        id=subject_id,
        username=first("username") or subject_id,
        email=first("email"),
        first_name=first("first_name"),
        last_name=first("last_name"),
        phone=first("phone") or None,
        groups=groups,
        external_ids=MappingProxyType(ids),
        department=first("department"),
    )


# -- the vocabulary --------------------------------------------------------------------------

_Getter = Callable[[Subject, AuthContext], tuple[str, ...]]


def _one(value: str | None) -> tuple[str, ...]:
    return (value,) if value else ()


_SIMPLE: Mapping[str, _Getter] = MappingProxyType(
    {
        "username": lambda s, _: _one(s.username),
        "email": lambda s, _: _one(s.email),
        "first_name": lambda s, _: _one(s.first_name),
        "given_name": lambda s, _: _one(s.first_name),
        "last_name": lambda s, _: _one(s.last_name),
        "surname": lambda s, _: _one(s.last_name),
        "full_name": lambda s, _: _one(s.full_name),
        "name": lambda s, _: _one(s.full_name),
        "employee_id": lambda s, _: _one(s.id),
        "phone": lambda s, _: _one(s.phone),
        "groups": lambda s, _: tuple(g for g in s.groups if g),
        "department": lambda s, _: _one(s.department),
        "upn": lambda s, _: _one(s.external_ids.get("upn") or s.email),
        "primarysid": lambda s, _: _one(s.ad_object_sid),
        "ad_object_sid": lambda s, _: _one(s.ad_object_sid),
        "ad_object_guid": lambda s, _: _one(s.ad_object_guid),
        "entra_object_id": lambda s, _: _one(s.entra_object_id),
        "amr": lambda _, ctx: ctx.amr,
    }
)
SOURCES = tuple(_SIMPLE)
PREFIXES = ("external_id:", "member_of:", "windows_account:")
_NETBIOS = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,14}")
# XML 1.0 §2.2 Char: lxml refuses anything else, so such a value cannot go into a token.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def check_source(value: Any) -> None:
    """Raise ValueError for a source the vocabulary does not know (config parsers call this)."""
    if not isinstance(value, str):
        raise ValueError(f"expected an attribute source name, got {value!r}")
    if value in _SIMPLE:
        return
    kind, sep, arg = value.partition(":")
    if sep and f"{kind}:" in PREFIXES and arg:
        if kind == "windows_account" and not _NETBIOS.fullmatch(arg):
            raise ValueError(f"{arg!r} is not a NetBIOS domain name")
        return
    raise ValueError(
        f"unknown attribute source {value!r}; expected one of {', '.join(SOURCES)} "
        f"or a prefix {', '.join(PREFIXES)}"
    )


def values_of(source: str, *, subject: Subject, context: AuthContext) -> tuple[str, ...]:
    """The values of one source; empty when the subject has none."""
    getter = _SIMPLE.get(source)
    if getter is not None:
        return getter(subject, context)
    kind, _, arg = source.partition(":")
    if kind == "external_id":
        return _one(subject.external_ids.get(arg))
    if kind == "member_of":
        return ("true" if arg in subject.groups else "false",)
    if kind == "windows_account":
        return (f"{arg}\\{subject.username}",)
    raise ValueError(f"unknown attribute source {source!r}")  # config refuses these at start


def unsafe_for_xml(values: tuple[str, ...]) -> bool:
    """True when a value holds a character an XML token cannot carry."""
    return any(_NOT_XML.search(value) for value in values)


def as_subject(who: Subject | Employee) -> Subject:
    """Builders accept either; the directory's record becomes a subject on the way in."""
    return subject_from_employee(who) if isinstance(who, Employee) else who

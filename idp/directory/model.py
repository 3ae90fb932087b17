"""The directory: employees and how they are organised."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum


class SsoMode(StrEnum):
    """How an employee signs in: a strong factor alone, or a password and then a factor."""

    DISABLED = "disabled"
    PASSWORDLESS = "passwordless"
    TWO_FACTOR = "two_factor"


@dataclass(frozen=True)
class Company:
    id: str
    name: str


@dataclass(frozen=True)
class Department:
    id: str
    name: str
    company_id: str


@dataclass(frozen=True)
class Position:
    id: str
    name: str


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    description: str = ""
    email: str | None = None


@dataclass(frozen=True)
class Employee:
    """A person who signs in. ``id`` is ours and never changes or gets reused."""

    id: str
    username: str
    email: str
    first_name: str
    last_name: str
    enabled: bool = True
    sso_mode: SsoMode = SsoMode.PASSWORDLESS
    phone: str | None = None
    company_id: str | None = None
    department_id: str | None = None
    #: the name of ``department_id`` in the org structure, read with the employee (never
    #: written through it: the department's own record is the source)
    department: str | None = None
    position_id: str | None = None
    ad_object_guid: str | None = None
    ad_object_sid: str | None = None
    entra_object_id: str | None = None
    entra_tenant_id: str | None = None
    external_ids: dict[str, str] = field(default_factory=dict)
    groups: tuple[str, ...] = ()
    created_at: dt.datetime | None = None

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def can_sign_in(self) -> bool:
        return self.enabled and self.sso_mode is not SsoMode.DISABLED

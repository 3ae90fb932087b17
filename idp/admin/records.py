"""What the admin tables hold, as the store hands it out: admin accounts and API keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from idp.admin.access import Permission, Role


@dataclass(frozen=True)
class AdminUser:
    """An employee who administers the IdP; they sign in to the console as that employee."""

    id: str
    employee_id: str
    role: Role
    created_at: dt.datetime
    created_by: str


@dataclass(frozen=True)
class ApiKey:
    """An API key's stored half: never the secret, only its SHA-256."""

    id: str
    admin_id: str
    name: str
    secret_hash: str
    scopes: frozenset[Permission]
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None = None
    last_used_at: dt.datetime | None = None

    def usable_at(self, now: dt.datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class KeyHolder:
    """An API key with the admin account and employee it acts for (read in one query)."""

    key: ApiKey
    admin: AdminUser
    username: str
    employee_enabled: bool

"""Admin accounts and API keys: who may administer, and the keys scripts use.

An admin account is an employee plus a role, so an admin signs in to the console the way the
employee signs in anywhere (a passkey through :mod:`idp.flows`). An API key is
``hik_<id>_<secret>``: the id finds the row, only the secret's SHA-256 is stored (the secret
has 256 bits of entropy, so a slow hash would add nothing), and the key acts with its
admin's role narrowed to its scopes, until it expires or is revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets

from pydantic import Field

from idp.admin.access import ROLE_PERMISSIONS, Actor, Permission, Role, requires
from idp.admin.models import Input, Output, field_error
from idp.admin.records import AdminUser, ApiKey
from idp.audit import AuditKind, Outcome
from idp.errors import Conflict, NotFound, Unauthorized
from idp.runtime import Runtime
from idp.store.sql.repositories.admins import AdminRepository, ApiKeyRepository

KEY_PREFIX = "hik_"
_KEY = re.compile(r"hik_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
MAX_KEY_DAYS = 366
#: how stale ``last_used_at`` may get before a request writes it again (one write a minute)
_USE_RECORD_INTERVAL = dt.timedelta(minutes=1)


class InvalidApiKey(Unauthorized):
    """The API key is malformed, unknown, expired or revoked (which one is logged, not said)."""

    error = "invalid_api_key"


class AdminAccountNotFound(NotFound):
    error = "admin_not_found"


class LastAdmin(Conflict):
    error = "last_admin"


class AdminOut(Output):
    id: str
    employee_id: str
    username: str
    role: Role
    created_at: dt.datetime
    created_by: str


class AdminCreate(Input):
    username: str = Field(max_length=128, description="the employee who becomes an admin")
    role: Role


class AdminUpdate(Input):
    role: Role


class ApiKeyOut(Output):
    id: str
    admin_id: str
    name: str
    scopes: list[Permission]
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None

    @classmethod
    def of(cls, k: ApiKey) -> ApiKeyOut:
        return cls(
            id=k.id,
            admin_id=k.admin_id,
            name=k.name,
            scopes=sorted(k.scopes),
            created_at=k.created_at,
            expires_at=k.expires_at,
            revoked_at=k.revoked_at,
            last_used_at=k.last_used_at,
        )


class ApiKeyCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    scopes: list[Permission] = Field(min_length=1, max_length=len(Permission))
    expires_in_days: int = Field(default=90, ge=1, le=MAX_KEY_DAYS)
    admin_id: str | None = Field(
        default=None, max_length=64, description="whose key (default: the caller's own)"
    )


class ApiKeyCreated(Output):
    key: ApiKeyOut
    secret: str = Field(
        description="the whole key, shown this once (empty in an idempotent replay); "
        "send it as a Bearer token"
    )

    def redacted(self) -> ApiKeyCreated:
        return self.model_copy(update={"secret": ""})


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AccountAdmin:
    def __init__(self, runtime: Runtime, admins: AdminRepository, keys: ApiKeyRepository) -> None:
        self._rt = runtime
        self._admins = admins
        self._keys = keys

    def _out(self, admin: AdminUser) -> AdminOut:
        employee = self._rt.employees.get(admin.employee_id)
        return AdminOut(
            id=admin.id,
            employee_id=admin.employee_id,
            username=employee.username if employee else "?",
            role=admin.role,
            created_at=admin.created_at,
            created_by=admin.created_by,
        )

    def _admin(self, admin_id: str) -> AdminUser:
        admin = self._admins.get(admin_id)
        if admin is None:
            raise AdminAccountNotFound(f"no admin account {admin_id!r}")
        return admin

    def actor_for_employee(self, employee_id: str, *, auth_time: dt.datetime) -> Actor | None:
        """The console's actor for a signed-in employee, or None if they are no admin."""
        admin = self._admins.for_employee(employee_id)
        employee = self._rt.employees.get(employee_id)
        if admin is None or employee is None or not employee.enabled:
            return None
        return Actor(
            name=f"admin:{employee.username}",
            role=admin.role,
            admin_id=admin.id,
            employee_id=employee_id,
            auth_time=auth_time,
        )

    def authenticate_key(self, presented: str) -> Actor:
        """The actor an API key acts as; one clear refusal whatever is wrong with it."""
        match = _KEY.fullmatch(presented)
        found = self._keys.holder(match.group(1)) if match else None
        now = self._rt.now()
        if (
            match is None
            or found is None
            or not hmac.compare_digest(found.key.secret_hash, _digest(match.group(2)))
        ):
            raise InvalidApiKey("the API key is not valid")
        key = found.key
        if not key.usable_at(now):
            state = "revoked" if key.revoked_at else "expired"
            raise InvalidApiKey(f"the API key {key.id} is {state}")
        if not found.employee_enabled:
            raise InvalidApiKey(f"the API key {key.id} belongs to a disabled employee")
        if key.last_used_at is None or now - key.last_used_at > _USE_RECORD_INTERVAL:
            self._keys.record_use(key.id, now=now)
        return Actor(
            name=f"admin:{found.username}",
            role=found.admin.role,
            admin_id=found.admin.id,
            employee_id=found.admin.employee_id,
            scopes=key.scopes,
        )

    @requires(Permission.ADMINS_READ)
    def list_admins(self, actor: Actor) -> list[AdminOut]:
        return [self._out(a) for a in self._admins.list()]

    @requires(Permission.ADMINS_READ)
    def get_admin(self, actor: Actor, admin_id: str) -> AdminOut:
        return self._out(self._admin(admin_id))

    @requires(Permission.ADMINS_WRITE)
    def create_admin(self, actor: Actor, body: AdminCreate) -> AdminOut:
        employee = self._rt.employees.get_by_username(body.username)
        if employee is None:
            raise field_error("username", f"no employee with username {body.username!r}")
        admin = self._admins.add(
            AdminUser(
                id=secrets.token_hex(8),
                employee_id=employee.id,
                role=body.role,
                created_at=self._rt.now(),
                created_by=actor.name,
            )
        )
        self._audit(
            actor,
            employee.id,
            {"action": "admin_created", "role": body.role.value, "username": employee.username},
        )
        return self._out(admin)

    @requires(Permission.ADMINS_WRITE)
    def set_role(self, actor: Actor, admin_id: str, body: AdminUpdate) -> AdminOut:
        admin = self._admin(admin_id)
        if admin.role is Role.ADMIN and body.role is not Role.ADMIN:
            self._keep_one_admin()
        updated = self._admins.set_role(admin_id, body.role)
        self._audit(actor, admin.employee_id, {"action": "admin_role", "role": body.role.value})
        return self._out(updated)

    @requires(Permission.ADMINS_WRITE)
    def remove_admin(self, actor: Actor, admin_id: str) -> None:
        admin = self._admin(admin_id)
        if admin.role is Role.ADMIN:
            self._keep_one_admin()
        self._admins.delete(admin_id)
        self._audit(actor, admin.employee_id, {"action": "admin_removed"})

    def _keep_one_admin(self) -> None:
        if self._admins.count_with_role(Role.ADMIN) <= 1:
            raise LastAdmin("this is the last account with the admin role; make another first")

    @requires(Permission.ADMINS_READ)
    def list_keys(self, actor: Actor) -> list[ApiKeyOut]:
        return [ApiKeyOut.of(k) for k in self._keys.list()]

    @requires(Permission.API_KEYS_WRITE)
    def create_key(self, actor: Actor, body: ApiKeyCreate) -> ApiKeyCreated:
        """A key for the caller (or, with ``admins:write``, another admin) whose scopes lie
        within both the caller's permissions and the owner's role."""
        owner_id = body.admin_id or actor.admin_id
        if owner_id is None:
            raise field_error("admin_id", "the CLI has no admin account: name the key's owner")
        if owner_id != actor.admin_id and not actor.may(Permission.ADMINS_WRITE):
            raise field_error("admin_id", "only an admin may create keys for someone else")
        owner = self._admins.get(owner_id)
        if owner is None:
            raise field_error("admin_id", f"no admin account {owner_id[:64]!r}")
        if not body.name.strip() or not body.name.isprintable():
            raise field_error("name", "expected printable characters, not only spaces")
        beyond = set(body.scopes) - (actor.permissions() & ROLE_PERMISSIONS[owner.role])
        if beyond:
            names = ", ".join(sorted(beyond))
            raise field_error("scopes", f"beyond what the key's owner and you may do: {names}")
        now = self._rt.now()
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        key = self._keys.add(
            ApiKey(
                id=key_id,
                admin_id=owner.id,
                name=body.name.strip(),
                secret_hash=_digest(secret),
                scopes=frozenset(body.scopes),
                created_at=now,
                expires_at=now + dt.timedelta(days=body.expires_in_days),
            )
        )
        self._audit(
            actor,
            owner.employee_id,
            {
                "action": "api_key_created",
                "key_id": key_id,
                "scopes": ",".join(sorted(body.scopes)),
            },
        )
        return ApiKeyCreated(key=ApiKeyOut.of(key), secret=f"{KEY_PREFIX}{key_id}_{secret}")

    @requires(Permission.API_KEYS_WRITE)
    def revoke_key(self, actor: Actor, key_id: str) -> ApiKeyOut:
        key = self._keys.get(key_id)
        if key is None:
            raise AdminAccountNotFound(f"no API key {key_id!r}")
        if key.admin_id != actor.admin_id and not actor.may(Permission.ADMINS_WRITE):
            raise AdminAccountNotFound(f"no API key {key_id!r} of yours")
        revoked = self._keys.revoke(key_id, now=self._rt.now())
        owner = self._admins.get(key.admin_id)
        self._audit(
            actor,
            owner.employee_id if owner else None,
            {"action": "api_key_revoked", "key_id": key_id},
        )
        return ApiKeyOut.of(revoked)

    def _audit(self, actor: Actor, employee_id: str | None, details: dict[str, str]) -> None:
        self._rt.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE,
            at=self._rt.now(),
            actor=actor.name,
            employee_id=employee_id,
            outcome=Outcome.SUCCESS,
            details=details,
        )

"""Admin accounts and their API keys."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from idp.admin.access import Permission, Role
from idp.admin.records import AdminUser, ApiKey, KeyHolder
from idp.store.errors import DuplicateRecord, RecordNotFound
from idp.store.sql.database import Database
from idp.store.sql.models import AdminUserRow, ApiKeyRow, EmployeeRow
from idp.store.sql.repositories.common import conflicts_as, require_aware


class DuplicateAdmin(DuplicateRecord):
    """The employee already has an admin account."""


class AdminNotFound(RecordNotFound):
    pass


def _admin(row: AdminUserRow) -> AdminUser:
    return AdminUser(
        id=row.id,
        employee_id=row.employee_id,
        role=Role(row.role),
        created_at=row.created_at,
        created_by=row.created_by,
    )


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        admin_id=row.admin_id,
        name=row.name,
        secret_hash=row.secret_hash,
        scopes=frozenset(Permission(s) for s in row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


class AdminRepository:
    """Each method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, admin: AdminUser) -> AdminUser:
        require_aware(admin.created_at, "created_at")
        with conflicts_as(DuplicateAdmin, "admin account"), self._db.transaction(write=True) as s:
            if s.get(EmployeeRow, admin.employee_id) is None:
                raise AdminNotFound(f"no employee {admin.employee_id!r}")
            taken = s.scalar(
                select(AdminUserRow.id).where(AdminUserRow.employee_id == admin.employee_id)
            )
            if taken is not None:
                raise DuplicateAdmin("this employee already has an admin account")
            s.add(
                AdminUserRow(
                    id=admin.id,
                    employee_id=admin.employee_id,
                    role=admin.role.value,
                    created_at=admin.created_at,
                    created_by=admin.created_by,
                )
            )
        return admin

    def get(self, admin_id: str) -> AdminUser | None:
        with self._db.transaction() as s:
            row = s.get(AdminUserRow, admin_id)
            return None if row is None else _admin(row)

    def for_employee(self, employee_id: str) -> AdminUser | None:
        with self._db.transaction() as s:
            row = s.scalars(
                select(AdminUserRow).where(AdminUserRow.employee_id == employee_id)
            ).first()
            return None if row is None else _admin(row)

    def list(self) -> tuple[AdminUser, ...]:
        with self._db.transaction() as s:
            rows = s.scalars(select(AdminUserRow).order_by(AdminUserRow.created_at))
            return tuple(_admin(r) for r in rows)

    def set_role(self, admin_id: str, role: Role) -> AdminUser:
        with self._db.transaction(write=True) as s:
            row = s.get(AdminUserRow, admin_id, with_for_update=True)
            if row is None:
                raise AdminNotFound(f"no admin account {admin_id!r}")
            row.role = role.value
            s.flush()
            return _admin(row)

    def delete(self, admin_id: str) -> None:
        """Remove the admin account and its API keys (the employee stays)."""
        with self._db.transaction(write=True) as s:
            row = s.get(AdminUserRow, admin_id)
            if row is None:
                raise AdminNotFound(f"no admin account {admin_id!r}")
            s.delete(row)

    def count_with_role(self, role: Role) -> int:
        with self._db.transaction() as s:
            return len(list(s.scalars(select(AdminUserRow.id).where(AdminUserRow.role == role))))


class ApiKeyRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, key: ApiKey) -> ApiKey:
        with self._db.transaction(write=True) as s:
            if s.get(AdminUserRow, key.admin_id) is None:
                raise AdminNotFound(f"no admin account {key.admin_id!r}")
            s.add(
                ApiKeyRow(
                    id=key.id,
                    admin_id=key.admin_id,
                    name=key.name,
                    secret_hash=key.secret_hash,
                    scopes=sorted(key.scopes),
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                )
            )
        return key

    def get(self, key_id: str) -> ApiKey | None:
        with self._db.transaction() as s:
            row = s.get(ApiKeyRow, key_id)
            return None if row is None else _key(row)

    def holder(self, key_id: str) -> KeyHolder | None:
        """The key, its admin account and their employee's username and state: what every
        API request needs to know about its caller, in one round trip."""
        query = (
            select(ApiKeyRow, AdminUserRow, EmployeeRow.username, EmployeeRow.enabled)
            .join(AdminUserRow, AdminUserRow.id == ApiKeyRow.admin_id)
            .join(EmployeeRow, EmployeeRow.id == AdminUserRow.employee_id)
            .where(ApiKeyRow.id == key_id)
        )
        with self._db.transaction() as s:
            found = s.execute(query).first()
            if found is None:
                return None
            key, admin, username, enabled = found
            return KeyHolder(_key(key), _admin(admin), username, enabled)

    def list(self, *, admin_id: str | None = None) -> tuple[ApiKey, ...]:
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at)
        if admin_id is not None:
            query = query.where(ApiKeyRow.admin_id == admin_id)
        with self._db.transaction() as s:
            return tuple(_key(r) for r in s.scalars(query))

    def revoke(self, key_id: str, *, now: dt.datetime) -> ApiKey:
        """Idempotent: a key revoked before keeps its first revocation time."""
        with self._db.transaction(write=True) as s:
            row = s.get(ApiKeyRow, key_id, with_for_update=True)
            if row is None:
                raise AdminNotFound(f"no API key {key_id!r}")
            if row.revoked_at is None:
                row.revoked_at = require_aware(now, "now")
            s.flush()
            return _key(row)

    def record_use(self, key_id: str, *, now: dt.datetime) -> None:
        with self._db.transaction(write=True) as s:
            s.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=now))

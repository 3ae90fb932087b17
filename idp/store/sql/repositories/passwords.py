"""Employees' password hashes and their failure counters (the two-factor SSO mode)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete

from idp.factors.password import StoredPassword
from idp.factors.password_signin import FailureTally
from idp.store.sql.database import Database
from idp.store.sql.models import EmployeePasswordRow, EmployeeRow
from idp.store.sql.repositories.common import require_aware
from idp.store.sql.repositories.employees import EmployeeNotFound


def _from_row(row: EmployeePasswordRow) -> StoredPassword:
    return StoredPassword(
        employee_id=row.employee_id,
        hash=row.hash,
        set_at=row.set_at,
        failed_count=row.failed_count,
        locked_until=row.locked_until,
    )


class PasswordRepository:
    """Implements :class:`idp.factors.password_signin.PasswordStore`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, employee_id: str) -> StoredPassword | None:
        with self._db.transaction() as s:
            row = s.get(EmployeePasswordRow, employee_id)
            return None if row is None else _from_row(row)

    def set(self, employee_id: str, *, password_hash: str, now: dt.datetime) -> bool:
        """Store a new hash (clearing failures and any lock); True if it replaced one."""
        require_aware(now, "now")
        if not password_hash.startswith("$argon2"):
            raise ValueError("expected an argon2 PHC string, not a password")
        with self._db.transaction(write=True) as s:
            if s.get(EmployeeRow, employee_id) is None:
                raise EmployeeNotFound(f"no employee {employee_id!r}")
            row = s.get(EmployeePasswordRow, employee_id, with_for_update=True)
            replaced = row is not None
            if row is None:
                row = EmployeePasswordRow(employee_id=employee_id)
                s.add(row)
            row.hash, row.set_at, row.failed_count, row.locked_until = password_hash, now, 0, None
            return replaced

    def record_failure(
        self, employee_id: str, *, now: dt.datetime, max_failures: int, lock_for: dt.timedelta
    ) -> FailureTally | None:
        """Count one failure; the one that reaches ``max_failures`` locks for ``lock_for``.

        Called before the password is checked (a right one is then cleared by
        :meth:`record_success`), under a row lock, so concurrent attempts are counted one by
        one. Nothing is counted while the account is locked; a lock that has run out is
        dropped. None when the employee has no password.
        """
        require_aware(now, "now")
        if max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {max_failures}")
        with self._db.transaction(write=True) as s:
            row = s.get(EmployeePasswordRow, employee_id, with_for_update=True)
            if row is None:
                return None
            if row.locked_until is not None and now < row.locked_until:
                return FailureTally(counted=False, stored=_from_row(row))
            row.failed_count, row.locked_until = row.failed_count + 1, None
            if row.failed_count >= max_failures:
                # The lock starts a fresh count: after it, the full number of attempts again.
                row.failed_count, row.locked_until = 0, now + lock_for
            return FailureTally(counted=True, stored=_from_row(row))

    def record_success(
        self, employee_id: str, *, verified_hash: str, rehashed: str | None = None
    ) -> None:
        """Clear the failures (and a lock set by this very attempt); store ``rehashed``.

        The new hash replaces only the one just verified: a password set meanwhile stays.
        """
        with self._db.transaction(write=True) as s:
            row = s.get(EmployeePasswordRow, employee_id, with_for_update=True)
            if row is None:
                return
            row.failed_count, row.locked_until = 0, None
            if rehashed is not None and row.hash == verified_hash:
                row.hash = rehashed

    def unlock(self, employee_id: str) -> bool:
        """An admin lifts a lock before it runs out (and clears the count); True if locked."""
        with self._db.transaction(write=True) as s:
            row = s.get(EmployeePasswordRow, employee_id, with_for_update=True)
            if row is None:
                return False
            was_locked = row.locked_until is not None
            row.failed_count, row.locked_until = 0, None
            return was_locked

    def clear(self, employee_id: str) -> bool:
        """Remove the employee's password (e.g. the SSO mode left two_factor); True if one was."""
        with self._db.transaction(write=True) as s:
            result = s.execute(
                delete(EmployeePasswordRow).where(EmployeePasswordRow.employee_id == employee_id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

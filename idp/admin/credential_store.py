"""The admin accounts' own sign-in credentials: a password, a TOTP secret, recovery codes.

One row per admin account (``admin_id`` is the key; it goes with the account). The TOTP
secret is stored sealed by the secrets envelope; recovery codes only as tagged argon2id
hashes. The counting of wrong attempts is one conditional update per attempt, made *before*
the password is checked, so parallel guesses on several instances cannot slip past the limit;
a TOTP step and a recovery code are each spent by one conditional update, so of two requests
with the same code exactly one succeeds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, or_, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from idp.store.sql.models import ID, AdminUserRow, Base, UtcDateTime
from idp.store.sql.repositories.admins import AdminNotFound
from idp.store.sql.repositories.common import require_aware

if TYPE_CHECKING:
    from idp.store.sql.database import Database


class AdminCredentialRow(Base):
    __tablename__ = "admin_credentials"
    admin_id: Mapped[str] = mapped_column(
        ID, ForeignKey("admin_users.id", ondelete="CASCADE"), primary_key=True
    )
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_set_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    failed_count: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_enabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    #: the recovery codes not used yet, as tag$argon2id records (idp.admin.signin.recovery_record)
    recovery_codes: Mapped[list[str]] = mapped_column(JSON)


@dataclass(frozen=True)
class AdminCredentials:
    admin_id: str
    password_hash: str | None = None
    password_set_at: dt.datetime | None = None
    failed_count: int = 0
    locked_until: dt.datetime | None = None
    totp_secret: bytes | None = None
    totp_enabled_at: dt.datetime | None = None
    totp_last_step: int | None = None
    recovery_codes: tuple[str, ...] = field(default=())

    def locked_at(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret is not None


@dataclass(frozen=True)
class Attempt:
    """What :meth:`AdminCredentialRepository.count_attempt` did: ``counted`` False when the
    account was locked already (nothing changed); ``locked_now`` when this attempt locked it."""

    counted: bool
    locked_now: bool
    credentials: AdminCredentials


def _of(row: AdminCredentialRow) -> AdminCredentials:
    return AdminCredentials(
        admin_id=row.admin_id,
        password_hash=row.password_hash,
        password_set_at=row.password_set_at,
        failed_count=row.failed_count,
        locked_until=row.locked_until,
        totp_secret=row.totp_secret,
        totp_enabled_at=row.totp_enabled_at,
        totp_last_step=row.totp_last_step,
        recovery_codes=tuple(row.recovery_codes),
    )


class AdminCredentialRepository:
    """Each method is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, admin_id: str) -> AdminCredentials | None:
        with self._db.transaction() as s:
            row = s.get(AdminCredentialRow, admin_id)
            return None if row is None else _of(row)

    @staticmethod
    def _row(s: Session, admin_id: str) -> AdminCredentialRow:
        """The account's row, made empty on first use (under a row lock)."""
        row = s.get(AdminCredentialRow, admin_id, with_for_update=True)
        if row is None:
            if s.get(AdminUserRow, admin_id) is None:
                raise AdminNotFound(f"no admin account {admin_id!r}")
            row = AdminCredentialRow(admin_id=admin_id, failed_count=0, recovery_codes=[])
            s.add(row)
        return row

    def set_password(self, admin_id: str, *, password_hash: str, now: dt.datetime) -> bool:
        """Store a new password hash (clearing any lock); True if one was replaced."""
        require_aware(now, "now")
        with self._db.transaction(write=True) as s:
            row = self._row(s, admin_id)
            replaced = row.password_hash is not None
            row.password_hash, row.password_set_at = password_hash, now
            row.failed_count, row.locked_until = 0, None
            return replaced

    def set_totp(self, admin_id: str, *, sealed: bytes | None, codes: list[str],
                 now: dt.datetime) -> None:  # fmt: skip
        """Enable (``sealed`` set) or disable TOTP; the recovery codes go with it either way."""
        require_aware(now, "now")
        with self._db.transaction(write=True) as s:
            row = self._row(s, admin_id)
            row.totp_secret = sealed
            row.totp_enabled_at = now if sealed is not None else None
            row.totp_last_step = None
            row.recovery_codes = codes

    def set_recovery_codes(self, admin_id: str, codes: list[str]) -> None:
        with self._db.transaction(write=True) as s:
            self._row(s, admin_id).recovery_codes = codes

    def count_attempt(
        self, admin_id: str, *, now: dt.datetime, max_failures: int, lock_for: dt.timedelta
    ) -> Attempt | None:
        """Count one attempt as failed before it is checked (None: no credentials row); the
        one that reaches ``max_failures`` locks for ``lock_for`` and starts a fresh count. A
        lock that has run out is dropped; nothing is counted while one holds."""
        require_aware(now, "now")
        with self._db.transaction(write=True) as s:
            row = s.get(AdminCredentialRow, admin_id, with_for_update=True)
            if row is None:
                return None
            if row.locked_until is not None and now < row.locked_until:
                return Attempt(counted=False, locked_now=False, credentials=_of(row))
            row.failed_count, row.locked_until = row.failed_count + 1, None
            locked_now = row.failed_count >= max_failures
            if locked_now:
                row.failed_count, row.locked_until = 0, now + lock_for
            return Attempt(counted=True, locked_now=locked_now, credentials=_of(row))

    def record_success(self, admin_id: str, *, rehashed: str | None = None) -> None:
        with self._db.transaction(write=True) as s:
            values: dict[str, object] = {"failed_count": 0, "locked_until": None}
            if rehashed is not None:
                values["password_hash"] = rehashed
            s.execute(
                update(AdminCredentialRow)
                .where(AdminCredentialRow.admin_id == admin_id)
                .values(**values)
            )

    def unlock(self, admin_id: str) -> bool:
        """Lift a lock (and forget the failures); True if the account was locked."""
        with self._db.transaction(write=True) as s:
            row = s.get(AdminCredentialRow, admin_id, with_for_update=True)
            if row is None:
                return False
            was = row.locked_until is not None
            row.failed_count, row.locked_until = 0, None
            return was

    def spend_step(self, admin_id: str, step: int) -> bool:
        """Record ``step`` as used; False if it (or a later one) was used already."""
        col = AdminCredentialRow
        with self._db.transaction(write=True) as s:
            result = s.execute(
                update(col)
                .where(
                    col.admin_id == admin_id,
                    or_(col.totp_last_step.is_(None), col.totp_last_step < step),
                )
                .values(totp_last_step=step)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def spend_recovery_code(self, admin_id: str, digest: str) -> int | None:
        """Remove one recovery code; how many are left, or None if it was not there."""
        with self._db.transaction(write=True) as s:
            row = s.get(AdminCredentialRow, admin_id, with_for_update=True)
            if row is None or digest not in row.recovery_codes:
                return None
            row.recovery_codes = [c for c in row.recovery_codes if c != digest]
            return len(row.recovery_codes)

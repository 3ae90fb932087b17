"""The relational tables of the authenticator factor and their repositories.

One app per employee (``employee_id`` is unique): re-enrolment replaces the row in one
transaction. A TOTP code is spent by one conditional ``UPDATE … WHERE last_used_step <
:step``, so of two instances checking the same code at once exactly one succeeds.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column

from idp.factors.authenticator.errors import DeviceIdTaken
from idp.factors.authenticator.model import Device, DeviceStatus, TotpCredential
from idp.store.sql.models import ID, NAME, Base, EmployeeRow, UtcDateTime
from idp.store.sql.repositories.common import require_aware
from idp.store.sql.repositories.employees import EmployeeNotFound

if TYPE_CHECKING:
    from idp.store.sql.database import Database


class AuthenticatorDeviceRow(Base):
    __tablename__ = "authenticator_devices"
    device_id: Mapped[str] = mapped_column(ID, primary_key=True)
    employee_id: Mapped[str] = mapped_column(
        ID, ForeignKey("employees.id", ondelete="CASCADE"), unique=True
    )
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    display_name: Mapped[str] = mapped_column(NAME)
    platform: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    push_provider: Mapped[str | None] = mapped_column(String(8))
    push_token: Mapped[str | None] = mapped_column(Text)
    push_unregistered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    reported_count: Mapped[int] = mapped_column(Integer)


class TotpCredentialRow(Base):
    __tablename__ = "totp_credentials"
    employee_id: Mapped[str] = mapped_column(
        ID, ForeignKey("employees.id", ondelete="CASCADE"), primary_key=True
    )
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    algorithm: Mapped[str] = mapped_column(String(16))
    digits: Mapped[int] = mapped_column(Integer)
    period: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    confirmed: Mapped[bool] = mapped_column(Boolean)
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


def _device(row: AuthenticatorDeviceRow) -> Device:
    return Device(
        device_id=row.device_id,
        employee_id=row.employee_id,
        public_key=bytes(row.public_key),
        display_name=row.display_name,
        platform=row.platform,
        status=DeviceStatus(row.status),
        created_at=row.created_at,
        push_provider=row.push_provider,
        push_token=row.push_token,
        push_unregistered_at=row.push_unregistered_at,
        last_seen_at=row.last_seen_at,
        reported_count=row.reported_count,
    )


class DeviceRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, device_id: str) -> Device | None:
        with self._db.transaction() as s:
            row = s.get(AuthenticatorDeviceRow, device_id)
            return None if row is None else _device(row)

    def for_employee(self, employee_id: str) -> Device | None:
        query = select(AuthenticatorDeviceRow).where(
            AuthenticatorDeviceRow.employee_id == employee_id
        )
        with self._db.transaction() as s:
            row = s.scalars(query).first()
            return None if row is None else _device(row)

    def replace_for_employee(self, device: Device) -> Device | None:
        """Store ``device`` as the employee's app; return the one it replaced, if any."""
        require_aware(device.created_at, "created_at")
        col = AuthenticatorDeviceRow
        with self._db.transaction(write=True) as s:
            if s.get(EmployeeRow, device.employee_id) is None:
                raise EmployeeNotFound(f"no employee {device.employee_id!r}")
            taken = s.get(col, device.device_id)
            if taken is not None and taken.employee_id != device.employee_id:
                # Never let one enrolment push another person's app out.
                raise DeviceIdTaken("this device id is in use by another app; make a new one")
            old = s.scalars(select(col).where(col.employee_id == device.employee_id)).first()
            replaced = None if old is None else _device(old)
            s.execute(
                delete(col).where(
                    or_(col.employee_id == device.employee_id, col.device_id == device.device_id)
                )
            )
            s.flush()
            s.add(
                col(
                    device_id=device.device_id,
                    employee_id=device.employee_id,
                    public_key=device.public_key,
                    display_name=device.display_name,
                    platform=device.platform,
                    status=device.status.value,
                    push_provider=device.push_provider,
                    push_token=device.push_token,
                    push_unregistered_at=None,
                    created_at=device.created_at,
                    last_seen_at=None,
                    reported_count=0,
                )
            )
            return replaced

    def set_status(self, device_id: str, status: DeviceStatus) -> bool:
        return self._update(device_id, status=status.value)

    def mark_unregistered(self, device_id: str, *, at: dt.datetime) -> bool:
        return self._update(device_id, push_unregistered_at=at)

    def touch(self, device_id: str, *, at: dt.datetime) -> bool:
        return self._update(device_id, last_seen_at=at)

    def record_report(self, device_id: str) -> None:
        """Count one "this wasn't me" answer (what the admin sees)."""
        col = AuthenticatorDeviceRow
        with self._db.transaction(write=True) as s:
            s.execute(
                update(col)
                .where(col.device_id == device_id)
                .values(reported_count=col.reported_count + 1)
            )

    def delete(self, device_id: str) -> bool:
        with self._db.transaction(write=True) as s:
            result = s.execute(
                delete(AuthenticatorDeviceRow).where(AuthenticatorDeviceRow.device_id == device_id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def list(self, *, limit: int = 100) -> tuple[Device, ...]:
        query = select(AuthenticatorDeviceRow).order_by(AuthenticatorDeviceRow.created_at)
        with self._db.transaction() as s:
            return tuple(_device(r) for r in s.scalars(query.limit(limit)))

    def total_reports(self) -> int:
        with self._db.transaction() as s:
            total = s.scalar(select(func.sum(AuthenticatorDeviceRow.reported_count)))
            return int(total or 0)

    def _update(self, device_id: str, **values: object) -> bool:
        col = AuthenticatorDeviceRow
        with self._db.transaction(write=True) as s:
            result = s.execute(update(col).where(col.device_id == device_id).values(**values))
            return bool(result.rowcount)  # type: ignore[attr-defined]


def _totp(row: TotpCredentialRow) -> TotpCredential:
    return TotpCredential(
        employee_id=row.employee_id,
        secret_encrypted=bytes(row.secret_encrypted),
        algorithm=row.algorithm,
        digits=row.digits,
        period=row.period,
        created_at=row.created_at,
        confirmed=row.confirmed,
        last_used_step=row.last_used_step,
    )


class TotpRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, employee_id: str) -> TotpCredential | None:
        with self._db.transaction() as s:
            row = s.get(TotpCredentialRow, employee_id)
            return None if row is None else _totp(row)

    def put(self, credential: TotpCredential) -> bool:
        """Store the employee's TOTP credential; True if it replaced one."""
        require_aware(credential.created_at, "created_at")
        with self._db.transaction(write=True) as s:
            if s.get(EmployeeRow, credential.employee_id) is None:
                raise EmployeeNotFound(f"no employee {credential.employee_id!r}")
            row = s.get(TotpCredentialRow, credential.employee_id, with_for_update=True)
            replaced = row is not None
            if row is None:
                row = TotpCredentialRow(employee_id=credential.employee_id)
                s.add(row)
            row.secret_encrypted = credential.secret_encrypted
            row.algorithm, row.digits, row.period = (
                credential.algorithm,
                credential.digits,
                credential.period,
            )
            row.created_at, row.confirmed = credential.created_at, credential.confirmed
            row.last_used_step = credential.last_used_step
            return replaced

    def spend_step(self, employee_id: str, step: int) -> bool:
        """Record ``step`` as used; False if it (or a later one) was used already."""
        col = TotpCredentialRow
        with self._db.transaction(write=True) as s:
            result = s.execute(
                update(col)
                .where(
                    col.employee_id == employee_id,
                    or_(col.last_used_step.is_(None), col.last_used_step < step),
                )
                .values(last_used_step=step)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def delete(self, employee_id: str) -> bool:
        with self._db.transaction(write=True) as s:
            result = s.execute(
                delete(TotpCredentialRow).where(TotpCredentialRow.employee_id == employee_id)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

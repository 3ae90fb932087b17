"""Whether an authenticator app may unlock PCs ("PC logon enabled for this device").

An administrator switches it per device (``hideez-idp device pc-logon enable|disable``); a
device nobody switched follows ``workstations.pc_login.default_enabled``. The row goes with
the device (re-enrolment makes a new device, which starts from the default again).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Boolean, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from idp.store.sql.database import Database
from idp.store.sql.models import ID, NAME, Base, UtcDateTime
from idp.store.sql.repositories.common import require_aware


class DevicePcLogonRow(Base):
    __tablename__ = "device_pc_logon"
    device_id: Mapped[str] = mapped_column(
        ID,
        ForeignKey("authenticator_devices.device_id", ondelete="CASCADE"),
        primary_key=True,
    )
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str] = mapped_column(NAME)
    changed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class PcLogonSetting:
    enabled: bool
    #: False when nobody switched it for this device: ``enabled`` is then the default
    explicit: bool
    changed_by: str | None = None
    changed_at: dt.datetime | None = None


class PcLogonRepository:
    def __init__(self, db: Database, *, default_enabled: bool) -> None:
        self._db = db
        self.default_enabled = default_enabled

    def get(self, device_id: str) -> PcLogonSetting:
        with self._db.transaction() as s:
            row = s.get(DevicePcLogonRow, device_id)
            if row is None:
                return PcLogonSetting(self.default_enabled, explicit=False)
            return PcLogonSetting(row.enabled, True, row.changed_by, row.changed_at)

    def set(self, device_id: str, *, enabled: bool, by: str, now: dt.datetime) -> PcLogonSetting:
        require_aware(now, "now")
        with self._db.transaction(write=True) as s:
            row = s.get(DevicePcLogonRow, device_id, with_for_update=True)
            if row is None:
                row = DevicePcLogonRow(device_id=device_id)
                s.add(row)
            row.enabled, row.changed_by, row.changed_at = enabled, by, now
            return PcLogonSetting(enabled, True, by, now)

"""Revoked offline-code grants, stored, so a workstation offline at the time learns them too.

Whatever ends an authenticator app's access to PCs — PC logon switched off for it, the app
disabled or removed, its employee disabled, deleted or withdrawn by directory sync (every path
that signs the employee out everywhere) — revokes the app's offline-code grants here: one row
per device (the latest revocation wins) and an ``offline_revoke`` command to every connected
workstation at once. A workstation that connects later gets the revocations of the last
``workstations.pc_login.offline_hours`` in its welcome (older ones concern grants that have
expired anyway). Each carries ``revoked_at``: a workstation keeps only grants issued after
it, so a grant the app earned after PC logon was switched on again survives the replay.

``hideez-idp purge`` deletes revocations older than the longest ``offline_hours`` the
configuration allows (:data:`~idp.config.workstations.MAX_OFFLINE_HOURS`): every grant they
concern has expired by then, whatever ``offline_hours`` was when it was issued.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Mapped, mapped_column

from idp.config.workstations import MAX_OFFLINE_HOURS
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql.database import Database
from idp.store.sql.models import ID, NAME, Base, UtcDateTime
from idp.store.sql.repositories.common import require_aware
from idp.workstations import commands

if TYPE_CHECKING:
    from idp.runtime import Runtime


class OfflineRevocationRow(Base):
    """No foreign key: the revocation must outlive the device it names."""

    __tablename__ = "offline_revocations"
    device_id: Mapped[str] = mapped_column(ID, primary_key=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(NAME)


@dataclass(frozen=True)
class Revocation:
    device_id: str
    revoked_at: dt.datetime
    reason: str

    def command(self) -> commands.Command:
        at = self.revoked_at.astimezone(dt.UTC).isoformat(timespec="seconds")
        return commands.Command(
            commands.CommandKind.OFFLINE_REVOKE, {"device_id": self.device_id, "revoked_at": at}
        )


class OfflineRevocations:
    def __init__(self, db: Database, store: EphemeralStore) -> None:
        self._db = db
        self._store = store

    def revoke(self, *, device_id: str, reason: str, now: dt.datetime) -> Revocation:
        """Store the revocation, then tell every connected workstation."""
        require_aware(now, "now")
        now = now.replace(microsecond=0)  # what the command carries, to the second
        with self._db.transaction(write=True) as s:
            row = s.get(OfflineRevocationRow, device_id, with_for_update=True)
            if row is None:
                row = OfflineRevocationRow(device_id=device_id)
                s.add(row)
            row.revoked_at, row.reason = now, reason[:255]
        revocation = Revocation(device_id, now, reason[:255])
        commands.publish(self._store, commands.ALL, revocation.command())
        return revocation

    def since(self, moment: dt.datetime) -> tuple[Revocation, ...]:
        """Revocations made after ``moment``, oldest first."""
        with self._db.transaction() as s:
            rows = s.scalars(
                select(OfflineRevocationRow)
                .where(OfflineRevocationRow.revoked_at > moment)
                .order_by(OfflineRevocationRow.revoked_at, OfflineRevocationRow.device_id)
            )
            return tuple(Revocation(r.device_id, r.revoked_at, r.reason) for r in rows)

    def purge_expired(self, *, now: dt.datetime) -> int:
        """Delete the revocations no grant can outlive any more; how many went."""
        require_aware(now, "now")
        oldest = now - dt.timedelta(hours=MAX_OFFLINE_HOURS)
        with self._db.transaction(write=True) as s:
            gone = s.execute(
                delete(OfflineRevocationRow).where(OfflineRevocationRow.revoked_at < oldest)
            )
            return int(gone.rowcount)  # type: ignore[attr-defined]


def revoke_for_employee(
    runtime: Runtime, employee_id: str, *, reason: str, now: dt.datetime
) -> Revocation | None:
    """Revoke the offline grants of the employee's app (None: they have no app)."""
    device = runtime.authenticator.devices.for_employee(employee_id)
    if device is None:
        return None
    revocations = OfflineRevocations(runtime.db, runtime.ephemeral)
    return revocations.revoke(device_id=device.device_id, reason=reason, now=now)

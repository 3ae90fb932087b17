"""The server's proximity data: settings per workstation × key, RFID tags, and the policy
(:class:`~idp.workstations.proximity.ProximityPolicy`) a workstation is sent in its
``settings`` command. Each method is one transaction and returns frozen values."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import delete, func, select

from idp.errors import Conflict, NotFound
from idp.store.sql.database import Database
from idp.store.sql.repositories.common import require_aware
from idp.workstations.model import ProximitySettings, Workstation
from idp.workstations.proximity import (
    MAX_KEYS,
    MAX_TAGS,
    Calibration,
    ProximityPolicy,
    key_serial,
    rfid_tag,
)
from idp.workstations.proximity_tables import KeyProximityRow, RfidTagRow


class KeySettingsNotFound(NotFound):
    """No per-key proximity settings exist for that key at that workstation."""

    error = "key_settings_not_found"


class RfidTagNotFound(NotFound):
    error = "rfid_tag_not_found"


class RfidTagTaken(Conflict):
    """The tag is assigned to another key: remove it there first."""

    error = "rfid_tag_taken"


class TooManyProximityEntries(Conflict):
    """More keys or tags than one settings command can carry."""

    error = "too_many_proximity_entries"


@dataclass(frozen=True)
class KeySettings:
    workstation_id: str
    key_serial: str
    settings: ProximitySettings
    updated_at: dt.datetime
    updated_by: str


@dataclass(frozen=True)
class RfidTag:
    tag: str
    key_serial: str
    assigned_at: dt.datetime
    assigned_by: str


def _key(row: KeyProximityRow) -> KeySettings:
    settings = ProximitySettings(row.lock_proximity, row.unlock_proximity, row.lock_timeout)
    return KeySettings(row.workstation_id, row.key_serial, settings, row.updated_at, row.updated_by)


class ProximityRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def set_key(
        self,
        *,
        workstation_id: str,
        serial: str,
        settings: ProximitySettings,
        by: str,
        now: dt.datetime,
    ) -> KeySettings:
        require_aware(now, "now")
        serial = key_serial(serial)
        with self._db.transaction(write=True) as s:
            row = s.get(KeyProximityRow, (workstation_id, serial), with_for_update=True)
            if row is None:
                count = s.scalar(
                    select(func.count()).where(KeyProximityRow.workstation_id == workstation_id)
                )
                if (count or 0) >= MAX_KEYS:
                    raise TooManyProximityEntries(
                        f"{workstation_id} has settings for {MAX_KEYS} keys already (the most)"
                    )
                row = KeyProximityRow(workstation_id=workstation_id, key_serial=serial)
                s.add(row)
            row.lock_proximity = settings.lock_proximity
            row.unlock_proximity = settings.unlock_proximity
            row.lock_timeout = settings.lock_timeout
            row.updated_at, row.updated_by = now, by
            s.flush()
            return _key(row)

    def keys(self, workstation_id: str) -> tuple[KeySettings, ...]:
        with self._db.transaction() as s:
            rows = s.scalars(
                select(KeyProximityRow)
                .where(KeyProximityRow.workstation_id == workstation_id)
                .order_by(KeyProximityRow.key_serial)
            )
            return tuple(_key(r) for r in rows)

    def reset_key(self, *, workstation_id: str, serial: str) -> None:
        """Drop the key's own settings: the workstation's apply to it again."""
        serial = key_serial(serial)
        with self._db.transaction(write=True) as s:
            gone = s.execute(
                delete(KeyProximityRow).where(
                    KeyProximityRow.workstation_id == workstation_id,
                    KeyProximityRow.key_serial == serial,
                )
            )
            if not gone.rowcount:  # type: ignore[attr-defined]
                raise KeySettingsNotFound(
                    f"{serial} has no settings of its own at {workstation_id}"
                )

    # -- RFID tags ------------------------------------------------------------------------------

    def assign_tag(self, *, tag: str, serial: str, by: str, now: dt.datetime) -> RfidTag:
        """Map ``tag`` to key ``serial``; assigning it to the key it has already is a no-op."""
        require_aware(now, "now")
        tag, serial = rfid_tag(tag), key_serial(serial)
        with self._db.transaction(write=True) as s:
            row = s.get(RfidTagRow, tag, with_for_update=True)
            if row is not None and row.key_serial != serial:
                raise RfidTagTaken(f"tag {tag} is assigned to {row.key_serial}: remove it first")
            if row is None:
                if (s.scalar(select(func.count()).select_from(RfidTagRow)) or 0) >= MAX_TAGS:
                    raise TooManyProximityEntries(f"{MAX_TAGS} tags are assigned (the most)")
                row = RfidTagRow(tag=tag, key_serial=serial, assigned_at=now, assigned_by=by)
                s.add(row)
            s.flush()
            return RfidTag(row.tag, row.key_serial, row.assigned_at, row.assigned_by)

    def remove_tag(self, tag: str) -> RfidTag:
        tag = rfid_tag(tag)
        with self._db.transaction(write=True) as s:
            row = s.get(RfidTagRow, tag, with_for_update=True)
            if row is None:
                raise RfidTagNotFound(f"no tag {tag} is assigned")
            removed = RfidTag(row.tag, row.key_serial, row.assigned_at, row.assigned_by)
            s.delete(row)
            return removed

    def tags(self) -> tuple[RfidTag, ...]:
        with self._db.transaction() as s:
            rows = s.scalars(select(RfidTagRow).order_by(RfidTagRow.key_serial, RfidTagRow.tag))
            return tuple(RfidTag(r.tag, r.key_serial, r.assigned_at, r.assigned_by) for r in rows)

    # -- what a workstation is sent -------------------------------------------------------------

    def policy_for(self, workstation: Workstation, calibration: Calibration) -> ProximityPolicy:
        keys = self.keys(workstation.id)
        return ProximityPolicy(
            defaults=workstation.settings,
            keys=MappingProxyType({k.key_serial: k.settings for k in keys}),
            rfid=MappingProxyType({t.tag: t.key_serial for t in self.tags()}),
            calibration=calibration,
        )

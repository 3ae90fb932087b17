"""The workstation registry: registration, status, settings and the alarm row.

Each method runs in one transaction and returns frozen dataclasses; rows never leave.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, or_, select

from idp.store.sql.database import Database
from idp.store.sql.repositories.common import Page, check_paging, like_pattern, require_aware
from idp.workstations.errors import RegistrationConflict, WorkstationNotFound
from idp.workstations.model import (
    ProximitySettings,
    Workstation,
    WorkstationInfo,
    WorkstationStatus,
)
from idp.workstations.tables import WorkstationAlarmRow, WorkstationRow

_ALARM_ID = 1


def _from_row(row: WorkstationRow) -> Workstation:
    return Workstation(
        id=row.id,
        info=WorkstationInfo(
            name=row.name,
            domain=row.domain,
            os=row.os,
            ip=row.ip,
            client_version=row.client_version,
        ),
        public_key=row.public_key,
        status=WorkstationStatus(row.status),
        settings=ProximitySettings(row.lock_proximity, row.unlock_proximity, row.lock_timeout),
        registered_at=row.registered_at,
        last_seen_at=row.last_seen_at,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )


@dataclass(frozen=True)
class Registration:
    workstation: Workstation
    created: bool


@dataclass(frozen=True)
class AlarmState:
    active: bool
    raised_at: dt.datetime | None
    raised_by: str | None
    lifted_at: dt.datetime | None
    lifted_by: str | None


class WorkstationRepository:
    def __init__(self, db: Database, *, defaults: ProximitySettings | None = None) -> None:
        self._db = db
        #: the settings a new workstation starts with (``workstations.proximity``)
        self.defaults = defaults or ProximitySettings()

    @property
    def database(self) -> Database:
        """The database the workstation tables are in (their proximity tables are too)."""
        return self._db

    def register(
        self, *, workstation_id: str, public_key: str, info: WorkstationInfo, now: dt.datetime
    ) -> Registration:
        """Add a Pending workstation, or refresh what a known one reports about itself.

        A repeated registration (the gateway restarted before it was approved) changes only
        the descriptive fields; the status and the key are never changed by a gateway.
        """
        require_aware(now, "now")
        with self._db.transaction(write=True) as s:
            row = s.get(WorkstationRow, workstation_id, with_for_update=True)
            created = row is None
            if row is None:
                defaults = self.defaults
                row = WorkstationRow(
                    id=workstation_id,
                    public_key=public_key,
                    status=WorkstationStatus.PENDING.value,
                    lock_proximity=defaults.lock_proximity,
                    unlock_proximity=defaults.unlock_proximity,
                    lock_timeout=defaults.lock_timeout,
                    registered_at=now,
                )
                s.add(row)
            elif row.public_key != public_key:
                raise RegistrationConflict(f"{workstation_id} is registered with another key")
            self._describe(row, info)
            row.last_seen_at = now
            s.flush()
            return Registration(_from_row(row), created)

    @staticmethod
    def _describe(row: WorkstationRow, info: WorkstationInfo) -> None:
        row.name, row.domain, row.os = info.name, info.domain, info.os
        row.ip, row.client_version = info.ip, info.client_version

    def get(self, workstation_id: str) -> Workstation | None:
        with self._db.transaction() as s:
            row = s.get(WorkstationRow, workstation_id)
            return None if row is None else _from_row(row)

    def require(self, workstation_id: str) -> Workstation:
        found = self.get(workstation_id)
        if found is None:
            raise WorkstationNotFound(f"no workstation {workstation_id!r}")
        return found

    def seen(self, workstation_id: str, *, info: WorkstationInfo, now: dt.datetime) -> None:
        """A hello: what the gateway reports now, and when it was last heard from."""
        with self._db.transaction(write=True) as s:
            row = s.get(WorkstationRow, workstation_id, with_for_update=True)
            if row is not None:
                self._describe(row, info)
                row.last_seen_at = now

    def set_status(
        self, workstation_id: str, status: WorkstationStatus, *, by: str, now: dt.datetime
    ) -> tuple[Workstation, WorkstationStatus]:
        """The workstation after the change, and the status it had before."""
        with self._db.transaction(write=True) as s:
            row = s.get(WorkstationRow, workstation_id, with_for_update=True)
            if row is None:
                raise WorkstationNotFound(f"no workstation {workstation_id!r}")
            before = WorkstationStatus(row.status)
            row.status = status.value
            if status is WorkstationStatus.APPROVED:
                row.approved_by, row.approved_at = by, now
            s.flush()
            return _from_row(row), before

    def set_settings(self, workstation_id: str, settings: ProximitySettings) -> Workstation:
        with self._db.transaction(write=True) as s:
            row = s.get(WorkstationRow, workstation_id, with_for_update=True)
            if row is None:
                raise WorkstationNotFound(f"no workstation {workstation_id!r}")
            row.lock_proximity = settings.lock_proximity
            row.unlock_proximity = settings.unlock_proximity
            row.lock_timeout = settings.lock_timeout
            s.flush()
            return _from_row(row)

    def list(
        self,
        *,
        status: WorkstationStatus | None = None,
        text: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> Page[Workstation]:
        check_paging(offset, limit)
        query = select(WorkstationRow)
        if status is not None:
            query = query.where(WorkstationRow.status == status.value)
        if text:
            pattern = like_pattern(text)
            query = query.where(
                or_(
                    func.lower(WorkstationRow.name).like(pattern, escape="\\"),
                    func.lower(WorkstationRow.domain).like(pattern, escape="\\"),
                    WorkstationRow.id.like(pattern, escape="\\"),
                )
            )
        with self._db.transaction() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            ordered = query.order_by(WorkstationRow.name, WorkstationRow.id)
            rows = s.scalars(ordered.offset(offset).limit(limit))
            items = tuple(_from_row(r) for r in rows)
        return Page(items=items, total=total, offset=offset, limit=limit)

    def counts(self) -> dict[WorkstationStatus, int]:
        with self._db.transaction() as s:
            rows = s.execute(
                select(WorkstationRow.status, func.count()).group_by(WorkstationRow.status)
            ).all()
        return {WorkstationStatus(status): count for status, count in rows}

    # -- the alarm ----------------------------------------------------------------------------

    def alarm(self) -> AlarmState:
        with self._db.transaction() as s:
            return self._alarm_state(s.get(WorkstationAlarmRow, _ALARM_ID))

    @staticmethod
    def _alarm_state(row: WorkstationAlarmRow | None) -> AlarmState:
        if row is None:
            return AlarmState(False, None, None, None, None)
        return AlarmState(row.active, row.raised_at, row.raised_by, row.lifted_at, row.lifted_by)

    def set_alarm(self, *, active: bool, by: str, now: dt.datetime) -> tuple[AlarmState, bool]:
        """The alarm after the change, and whether it changed (raising twice is one raise)."""
        require_aware(now, "now")
        with self._db.transaction(write=True) as s:
            row = s.get(WorkstationAlarmRow, _ALARM_ID, with_for_update=True)
            if row is None:
                row = WorkstationAlarmRow(id=_ALARM_ID, active=False)
                s.add(row)
            if row.active == active:
                return self._alarm_state(row), False
            if active:
                row.active, row.raised_at, row.raised_by = True, now, by
            else:
                row.active, row.lifted_at, row.lifted_by = False, now, by
            s.flush()
            return self._alarm_state(row), True

"""Workstation events and the sessions they open and close.

Ingestion is idempotent: an event id is stored once, so a gateway that resends after a lost
acknowledgement gets the same answer and changes nothing. A batch is applied under the
workstation's row lock, in event-time order, so two connections of one workstation cannot
interleave their sessions. A session opens on unlock/logon and closes on lock/logoff (or
the service stopping, or the link being lost); an unlock while another session is open ends
that one first (``superseded``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import cast

from sqlalchemy import ColumnElement, Table, func, insert, select
from sqlalchemy.orm import Session

from idp.store.sql.database import Database
from idp.store.sql.models import EmployeeRow
from idp.store.sql.repositories.common import Page, check_paging, require_aware
from idp.workstations.errors import WorkstationNotApproved
from idp.workstations.events import (
    CLOSES_SESSION,
    OPENS_SESSION,
    EventType,
    UnlockedBy,
    WorkstationEvent,
    is_skewed,
)
from idp.workstations.model import WorkstationStatus
from idp.workstations.tables import (
    WorkstationAlarmRow,
    WorkstationEventRow,
    WorkstationRow,
    WorkstationSessionRow,
)


@dataclass(frozen=True)
class Ingested:
    """Ids newly stored, ids already stored before (acknowledged again), and flags raised."""

    stored: tuple[str, ...]
    duplicates: tuple[str, ...]
    skewed: tuple[str, ...]
    unlocks_during_alarm: tuple[str, ...]

    @property
    def acknowledged(self) -> tuple[str, ...]:
        return self.stored + self.duplicates


@dataclass(frozen=True)
class StoredEvent:
    event: WorkstationEvent
    workstation_id: str
    received_at: dt.datetime
    employee_id: str | None
    clock_skew: bool
    during_alarm: bool


@dataclass(frozen=True)
class SessionRecord:
    id: str
    workstation_id: str
    employee_id: str | None
    account: str
    unlocked_by: UnlockedBy
    started_at: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str | None
    duration_seconds: int | None


def _session(row: WorkstationSessionRow) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        workstation_id=row.workstation_id,
        employee_id=row.employee_id,
        account=row.account,
        unlocked_by=UnlockedBy(row.unlocked_by),
        started_at=row.started_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        duration_seconds=row.duration_seconds,
    )


def _stored(row: WorkstationEventRow) -> StoredEvent:
    event = WorkstationEvent(
        id=row.id,
        type=EventType(row.type),
        at=row.at,
        account=row.account,
        unlocked_by=None if row.unlocked_by is None else UnlockedBy(row.unlocked_by),
        details=MappingProxyType(dict(row.details)),
    )
    return StoredEvent(
        event,
        row.workstation_id,
        row.received_at,
        row.employee_id,
        row.clock_skew,
        row.during_alarm,
    )


class EventJournal:
    def __init__(self, db: Database) -> None:
        self._db = db

    def ingest(
        self,
        workstation_id: str,
        events: Sequence[WorkstationEvent],
        *,
        now: dt.datetime,
    ) -> Ingested:
        """Store the events not stored before and apply them to the sessions; unlocks after
        the alarm was raised (while it is on) are flagged ``during_alarm``. Only an approved
        workstation's events are taken (checked under its row lock)."""
        require_aware(now, "now")
        ids = [e.id for e in events]
        with self._db.transaction(write=True) as s:
            row = s.get(WorkstationRow, workstation_id, with_for_update=True)
            if row is None or row.status != WorkstationStatus.APPROVED:
                status = "not registered" if row is None else row.status
                raise WorkstationNotApproved(f"{workstation_id} is {status}: events refused")
            alarm = s.get(WorkstationAlarmRow, 1)
            alarm_since = alarm.raised_at if alarm is not None and alarm.active else None
            known = set(
                s.scalars(select(WorkstationEventRow.id).where(WorkstationEventRow.id.in_(ids)))
            )
            fresh = sorted((e for e in events if e.id not in known), key=lambda e: e.at)
            employees = self._employee_ids(s, {e.employee for e in fresh if e.employee})
            skewed = [e.id for e in fresh if is_skewed(e.at, now=now)]
            alarmed = [
                e.id
                for e in fresh
                if alarm_since is not None and e.type in OPENS_SESSION and e.at >= alarm_since
            ]
            if fresh:
                # Core insert of the table: the ORM's bulk path costs more than the rows.
                s.execute(
                    insert(cast(Table, WorkstationEventRow.__table__)),
                    [
                        self._row(
                            workstation_id, e, employees, now, e.id in skewed, e.id in alarmed
                        )
                        for e in fresh
                    ],
                )
            for event in fresh:
                self._apply(s, workstation_id, event, employees)
        return Ingested(
            stored=tuple(e.id for e in fresh),
            duplicates=tuple(i for i in ids if i in known),
            skewed=tuple(skewed),
            unlocks_during_alarm=tuple(alarmed),
        )

    @staticmethod
    def _employee_ids(s: Session, usernames: set[str | None]) -> dict[str, str]:
        lowered = {u.lower(): u for u in usernames if u}
        if not lowered:
            return {}
        rows = s.execute(
            select(EmployeeRow.username_lower, EmployeeRow.id).where(
                EmployeeRow.username_lower.in_(lowered)
            )
        )
        return {lowered[name]: employee_id for name, employee_id in rows}

    @staticmethod
    def _row(
        workstation_id: str,
        event: WorkstationEvent,
        employees: dict[str, str],
        now: dt.datetime,
        skewed: bool,
        alarmed: bool,
    ) -> dict[str, object]:
        return {
            "id": event.id,
            "workstation_id": workstation_id,
            "type": event.type.value,
            "at": event.at,
            "received_at": now,
            "account": event.account,
            "employee_id": employees.get(event.employee or ""),
            "unlocked_by": None if event.unlocked_by is None else event.unlocked_by.value,
            "details": dict(event.details),
            "clock_skew": skewed,
            "during_alarm": alarmed,
        }

    def _apply(
        self, s: Session, workstation_id: str, event: WorkstationEvent, employees: dict[str, str]
    ) -> None:
        if event.type in OPENS_SESSION:
            self._close(s, workstation_id, at=event.at, reason="superseded")
            s.add(
                WorkstationSessionRow(
                    id=event.id,
                    workstation_id=workstation_id,
                    employee_id=employees.get(event.employee or ""),
                    account=event.account,
                    unlocked_by=(event.unlocked_by or UnlockedBy.OTHER).value,
                    started_at=event.at,
                    started_day=event.at.astimezone(dt.UTC).date().isoformat(),
                )
            )
            s.flush()
        elif event.type in CLOSES_SESSION:
            self._close(s, workstation_id, at=event.at, reason=event.type.value)

    @staticmethod
    def _close(s: Session, workstation_id: str, *, at: dt.datetime, reason: str) -> int:
        rows = s.scalars(
            select(WorkstationSessionRow).where(
                WorkstationSessionRow.workstation_id == workstation_id,
                WorkstationSessionRow.ended_at.is_(None),
                WorkstationSessionRow.started_at <= at,
            )
        ).all()
        for row in rows:
            row.ended_at, row.end_reason = at, reason
            row.duration_seconds = int((at - row.started_at).total_seconds())
        return len(rows)

    def link_lost(self, workstation_id: str, *, now: dt.datetime) -> int:
        """Close the workstation's open session: nobody can tell what happens while it is away."""
        require_aware(now, "now")
        with self._db.transaction(write=True) as s:
            s.get(WorkstationRow, workstation_id, with_for_update=True)
            return self._close(s, workstation_id, at=now, reason="link_lost")

    def events(
        self,
        *,
        workstation_id: str | None = None,
        employee_id: str | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[StoredEvent]:
        """Events newest first (by the time the gateway gave them)."""
        check_paging(offset, limit)
        criteria: list[ColumnElement[bool]] = []
        if workstation_id is not None:
            criteria.append(WorkstationEventRow.workstation_id == workstation_id)
        if employee_id is not None:
            criteria.append(WorkstationEventRow.employee_id == employee_id)
        query = select(WorkstationEventRow).where(*criteria)
        order = (WorkstationEventRow.at.desc(), WorkstationEventRow.id)
        with self._db.transaction() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = s.scalars(query.order_by(*order).offset(offset).limit(limit))
            items = tuple(_stored(r) for r in rows)
        return Page(items=items, total=total, offset=offset, limit=limit)

    def sessions(
        self,
        *,
        workstation_id: str | None = None,
        employee_id: str | None = None,
        open_only: bool = False,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[SessionRecord]:
        """Sessions newest first; ``since``/``until``: those that started at or after
        ``since`` and before ``until``."""
        check_paging(offset, limit)
        criteria: list[ColumnElement[bool]] = []
        if workstation_id is not None:
            criteria.append(WorkstationSessionRow.workstation_id == workstation_id)
        if employee_id is not None:
            criteria.append(WorkstationSessionRow.employee_id == employee_id)
        if since is not None:
            criteria.append(WorkstationSessionRow.started_at >= require_aware(since, "since"))
        if until is not None:
            criteria.append(WorkstationSessionRow.started_at < require_aware(until, "until"))
        if open_only:
            criteria.append(WorkstationSessionRow.ended_at.is_(None))
        query = select(WorkstationSessionRow).where(*criteria)
        order = (WorkstationSessionRow.started_at.desc(), WorkstationSessionRow.id)
        with self._db.transaction() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = s.scalars(query.order_by(*order).offset(offset).limit(limit))
            items = tuple(_session(r) for r in rows)
        return Page(items=items, total=total, offset=offset, limit=limit)

"""The workstation audit as admins read it: the events, the sessions (who unlocked which
workstation, when, how, for how long) and the four summaries (by day and employee, by
employee, by department, by workstation), with usernames and workstation names rather than
ids, cursor paging, and the same rows as CSV (``to_csv``) for an export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import Field

from idp.admin.access import Actor, Permission, requires
from idp.admin.models import (
    Input,
    Output,
    Page,
    aware,
    decode_cursor,
    encode_cursor,
    field_error,
)
from idp.runtime import Runtime
from idp.store.sql.repositories.common import Page as JournalPage
from idp.workstations.events import EventType, UnlockedBy
from idp.workstations.journal import EventJournal, SessionRecord, StoredEvent
from idp.workstations.registry import WorkstationRepository
from idp.workstations.summaries import (
    COLUMNS,
    Summaries,
    SummaryFilter,
    SummaryKind,
    SummaryRow,
    csv_cell,
    to_csv,
)

#: a CSV export holds at most this many events or sessions (newest first); filter for older
CSV_EVENTS = 5000
#: the journal answers at most this many rows a query
_JOURNAL_PAGE = 500
_EVENT_COLUMNS = ("at", "type", "workstation", "employee", "account", "unlocked_by",
                  "clock_skew", "during_alarm", "details")  # fmt: skip
_SESSION_COLUMNS = ("started_at", "ended_at", "workstation", "employee", "account",
                    "unlocked_by", "end_reason", "duration_seconds")  # fmt: skip
T = TypeVar("T")


class WorkstationEventOut(Output):
    id: str
    type: EventType
    at: dt.datetime
    received_at: dt.datetime
    workstation_id: str
    workstation: str = Field(description="the workstation's name")
    account: str
    employee_id: str | None
    employee: str | None = Field(description="the employee's username")
    unlocked_by: UnlockedBy | None
    clock_skew: bool
    during_alarm: bool
    details: dict[str, str]


class WorkstationEventPage(Page[WorkstationEventOut]):
    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(_EVENT_COLUMNS)
        for e in self.items:
            details = "; ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
            values = (e.at.isoformat(), e.type.value, e.workstation, e.employee, e.account,
                      e.unlocked_by.value if e.unlocked_by else None, e.clock_skew,
                      e.during_alarm, details)  # fmt: skip
            writer.writerow([csv_cell(v) for v in values])
        return out.getvalue()


class WorkstationEventQuery(Input):
    workstation_id: str | None = Field(default=None, max_length=64)
    employee: str | None = Field(default=None, max_length=128, description="a username")
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class WorkstationSessionOut(Output):
    id: str
    workstation_id: str
    workstation: str = Field(description="the workstation's name")
    employee_id: str | None
    employee: str | None = Field(description="the employee's username")
    account: str = Field(description="the Windows account the session was opened with")
    unlocked_by: UnlockedBy
    started_at: dt.datetime
    ended_at: dt.datetime | None = Field(description="null while the session is open")
    end_reason: str | None
    duration_seconds: int | None

    @classmethod
    def of(cls, s: SessionRecord, names: _Names) -> WorkstationSessionOut:
        return cls(
            id=s.id, workstation_id=s.workstation_id,
            workstation=names.workstation(s.workstation_id), employee_id=s.employee_id,
            employee=names.username(s.employee_id), account=s.account,
            unlocked_by=s.unlocked_by, started_at=s.started_at, ended_at=s.ended_at,
            end_reason=s.end_reason, duration_seconds=s.duration_seconds,
        )  # fmt: skip


class WorkstationSessionPage(Page[WorkstationSessionOut]):
    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(_SESSION_COLUMNS)
        for s in self.items:
            values = (s.started_at.isoformat(), s.ended_at.isoformat() if s.ended_at else None,
                      s.workstation, s.employee, s.account, s.unlocked_by.value, s.end_reason,
                      s.duration_seconds)  # fmt: skip
            writer.writerow([csv_cell(v) for v in values])
        return out.getvalue()


class WorkstationSessionQuery(Input):
    """Sessions that started at or after ``since`` and before ``until`` (times with a zone)."""

    workstation_id: str | None = Field(default=None, max_length=64)
    employee: str | None = Field(default=None, max_length=128, description="a username")
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class SummaryRowOut(Output):
    day: str | None
    employee: str | None = Field(description="username")
    department: str | None
    workstation: str | None = Field(description="the workstation's name")
    employees: int
    workstations: int
    days: int
    sessions: int
    total_seconds: int
    average_seconds: int

    @classmethod
    def of(cls, r: SummaryRow) -> SummaryRowOut:
        return cls(
            day=r.day, employee=r.employee, department=r.department, workstation=r.workstation,
            employees=r.employees, workstations=r.workstations, days=r.days,
            sessions=r.sessions, total_seconds=r.total_seconds, average_seconds=r.average_seconds,
        )  # fmt: skip


class SummaryPage(Page[SummaryRowOut]):
    kind: SummaryKind
    columns: list[str] = Field(description="the columns of this summary, key columns first")
    total: int = Field(description="rows in the whole summary")

    def to_csv(self) -> str:
        rows = (SummaryRow(**r.model_dump(exclude={"average_seconds"})) for r in self.items)
        return to_csv(self.kind, rows)


class SummaryQuery(Input):
    """Sessions that started on ``since`` (inclusive) to ``until`` (exclusive), UTC days."""

    since: dt.date | None = None
    until: dt.date | None = None
    employee: str | None = Field(default=None, max_length=128, description="a username")
    department_id: str | None = Field(default=None, max_length=64)
    workstation_id: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=100, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=512)


class _Names:
    """Usernames and workstation names for a listing, each looked up once."""

    def __init__(self, runtime: Runtime, registry: WorkstationRepository) -> None:
        self._rt, self._registry = runtime, registry
        self._people: dict[str, str | None] = {}
        self._machines: dict[str, str] = {}

    def username(self, employee_id: str | None) -> str | None:
        if employee_id is None:
            return None
        if employee_id not in self._people:
            employee = self._rt.employees.get(employee_id)
            self._people[employee_id] = employee.username if employee else None
        return self._people[employee_id]

    def workstation(self, workstation_id: str) -> str:
        if workstation_id not in self._machines:
            ws = self._registry.get(workstation_id)
            self._machines[workstation_id] = ws.info.name if ws else workstation_id
        return self._machines[workstation_id]


def _collect(fetch: Callable[[int, int], JournalPage[T]], start: int, wanted: int) -> _Found[T]:
    """Rows from ``start`` on, journal page after journal page, until ``wanted`` or the end."""
    rows: list[T] = []
    while True:
        found = fetch(start + len(rows), min(_JOURNAL_PAGE, wanted - len(rows)))
        rows.extend(found.items)
        if len(rows) >= wanted or start + len(rows) >= found.total or not found.items:
            return _Found(rows, found.total)


@dataclass(frozen=True)
class _Found(Generic[T]):
    rows: list[T]
    total: int


def _offset(kind: str, cursor: str | None, state: dict[str, object]) -> int:
    if cursor is None:
        return 0
    saved = decode_cursor(kind, cursor)
    offset = saved.pop("offset", None)
    if not isinstance(offset, int) or offset < 0 or saved != state:
        raise field_error("cursor", "not a cursor of this filter; start again")
    return offset


class WorkstationAudit:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._journal = EventJournal(runtime.db)
        self._summaries = Summaries(runtime.db)
        self._registry = WorkstationRepository(runtime.db)

    def _employee_id(self, username: str | None) -> str | None:
        if username is None:
            return None
        found = self._rt.employees.get_by_username(username)
        if found is None:
            raise field_error("employee", f"no employee {username[:64]!r}")
        return found.id

    @requires(Permission.AUDIT_READ)
    def events(
        self, actor: Actor, query: WorkstationEventQuery, *, everything: bool = False
    ) -> WorkstationEventPage:
        """Newest first; ``everything``: up to :data:`CSV_EVENTS` from the cursor on."""
        state: dict[str, object] = {"w": query.workstation_id, "e": query.employee}
        start = _offset("ws-events", query.cursor, state)
        employee_id = self._employee_id(query.employee)
        found = _collect(
            lambda offset, limit: self._journal.events(
                workstation_id=query.workstation_id, employee_id=employee_id, offset=offset,
                limit=limit,
            ),
            start, CSV_EVENTS if everything else query.limit,
        )  # fmt: skip
        items = self._named(found.rows)
        following = start + len(items)
        more = following < found.total and not everything
        cursor = encode_cursor("ws-events", {**state, "offset": following}) if more else None
        return WorkstationEventPage(items=items, next_cursor=cursor)

    @requires(Permission.AUDIT_READ)
    def sessions(
        self, actor: Actor, query: WorkstationSessionQuery, *, everything: bool = False
    ) -> WorkstationSessionPage:
        """Newest first; ``everything``: up to :data:`CSV_EVENTS` from the cursor on."""
        since, until = aware(query.since, "since"), aware(query.until, "until")
        if since and until and until <= since:
            raise field_error("until", "must be after since")
        state = {k: v for k, v in query.model_dump(mode="json").items() if k not in
                 ("cursor", "limit")}  # fmt: skip
        start = _offset("ws-sessions", query.cursor, state)
        employee_id = self._employee_id(query.employee)
        found = _collect(
            lambda offset, limit: self._journal.sessions(
                workstation_id=query.workstation_id, employee_id=employee_id, since=since,
                until=until, offset=offset, limit=limit,
            ),
            start, CSV_EVENTS if everything else query.limit,
        )  # fmt: skip
        names = _Names(self._rt, self._registry)
        items = [WorkstationSessionOut.of(s, names) for s in found.rows]
        following = start + len(items)
        more = following < found.total and not everything
        cursor = encode_cursor("ws-sessions", {**state, "offset": following}) if more else None
        return WorkstationSessionPage(items=items, next_cursor=cursor)

    def _named(self, events: Iterable[StoredEvent]) -> list[WorkstationEventOut]:
        names = _Names(self._rt, self._registry)
        out = []
        for s in events:
            e = s.event
            out.append(WorkstationEventOut(
                id=e.id, type=e.type, at=e.at, received_at=s.received_at,
                workstation_id=s.workstation_id, workstation=names.workstation(s.workstation_id),
                account=e.account, employee_id=s.employee_id,
                employee=names.username(s.employee_id) or e.employee,
                unlocked_by=e.unlocked_by, clock_skew=s.clock_skew, during_alarm=s.during_alarm,
                details=dict(e.details),
            ))  # fmt: skip
        return out

    @requires(Permission.AUDIT_READ)
    def summary(
        self, actor: Actor, kind: SummaryKind, query: SummaryQuery, *, everything: bool = False
    ) -> SummaryPage:
        """One page of the summary; ``everything``: every row (for the CSV export)."""
        if query.since and query.until and query.until <= query.since:
            raise field_error("until", "must be after since")
        filters = SummaryFilter(
            since=query.since, until=query.until, employee_id=self._employee_id(query.employee),
            department_id=query.department_id, workstation_id=query.workstation_id,
        )  # fmt: skip
        state = {k: v for k, v in query.model_dump(mode="json").items() if k not in
                 ("cursor", "limit")}  # fmt: skip
        offset = _offset(f"summary-{kind.value}", query.cursor, state)
        if everything:
            rows, total = self._summaries.all(kind, filters), None
        else:
            page = self._summaries.query(kind, filters, offset=offset, limit=query.limit)
            rows, total = list(page.items), page.total
        following = offset + len(rows)
        more = total is not None and following < total
        cursor = encode_cursor(f"summary-{kind.value}", {**state, "offset": following})
        return SummaryPage(
            kind=kind, columns=list(COLUMNS[kind]), total=len(rows) if total is None else total,
            items=[SummaryRowOut.of(r) for r in rows], next_cursor=cursor if more else None,
        )  # fmt: skip

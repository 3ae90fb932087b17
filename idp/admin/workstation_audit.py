"""The workstation audit as admins read it: the events and the four summaries (by day and
employee, by employee, by department, by workstation), with usernames and workstation names
rather than ids, cursor paging, and the same rows as CSV (``to_csv``) for an export."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable

from pydantic import Field

from idp.admin.access import Actor, Permission, requires
from idp.admin.models import Input, Output, Page, decode_cursor, encode_cursor, field_error
from idp.runtime import Runtime
from idp.workstations.events import EventType, UnlockedBy
from idp.workstations.journal import EventJournal, StoredEvent
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

#: a CSV export holds at most this many events (newest first); filter for older ones
CSV_EVENTS = 5000
_EVENT_COLUMNS = ("at", "type", "workstation", "employee", "account", "unlocked_by",
                  "clock_skew", "during_alarm", "details")  # fmt: skip


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
        stored: list[StoredEvent] = []
        wanted = CSV_EVENTS if everything else query.limit
        while True:  # pages of at most 500 (the journal's limit) until enough or the end
            found = self._journal.events(
                workstation_id=query.workstation_id, employee_id=employee_id,
                offset=start + len(stored), limit=min(500, wanted - len(stored)),
            )  # fmt: skip
            stored.extend(found.items)
            if len(stored) >= wanted or start + len(stored) >= found.total or not found.items:
                break
        items = self._named(stored)
        following = start + len(items)
        more = following < found.total and not everything
        cursor = encode_cursor("ws-events", {**state, "offset": following}) if more else None
        return WorkstationEventPage(items=items, next_cursor=cursor)

    def _named(self, events: Iterable[StoredEvent]) -> list[WorkstationEventOut]:
        people: dict[str, str | None] = {}
        machines: dict[str, str] = {}
        out = []
        for s in events:
            if s.employee_id and s.employee_id not in people:
                employee = self._rt.employees.get(s.employee_id)
                people[s.employee_id] = employee.username if employee else None
            if s.workstation_id not in machines:
                ws = self._registry.get(s.workstation_id)
                machines[s.workstation_id] = ws.info.name if ws else s.workstation_id
            e = s.event
            out.append(WorkstationEventOut(
                id=e.id, type=e.type, at=e.at, received_at=s.received_at,
                workstation_id=s.workstation_id, workstation=machines[s.workstation_id],
                account=e.account, employee_id=s.employee_id,
                employee=people.get(s.employee_id or "") or e.employee,
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

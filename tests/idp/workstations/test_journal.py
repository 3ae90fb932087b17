"""Events and sessions: idempotent ingestion, the session rules, and the four summaries with
filters, paging and CSV export (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from idp.directory.model import Company, Department
from idp.store.sql import Database, EmployeeRepository, OrganisationRepository
from idp.workstations.errors import WorkstationNotApproved
from idp.workstations.events import EventType, UnlockedBy, WorkstationEvent, new_event
from idp.workstations.journal import EventJournal
from idp.workstations.model import WorkstationInfo, WorkstationStatus
from idp.workstations.registry import WorkstationRepository
from idp.workstations.summaries import Summaries, SummaryFilter, SummaryKind, to_csv
from tests.store.sql.helpers import employee

DAY1 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
DAY2 = DAY1 + dt.timedelta(days=1)
WS1, WS2 = "ws-" + "a" * 32, "ws-" + "b" * 32


@pytest.fixture
def journal(db: Database) -> EventJournal:
    organisation = OrganisationRepository(db)
    organisation.add_company(Company(id="c1", name="Corp"))
    organisation.add_department(Department(id="d1", name="Finance", company_id="c1"))
    organisation.add_department(Department(id="d2", name="Sales", company_id="c1"))
    people = EmployeeRepository(db)
    people.add(employee(1, username="alice", department_id="d1"), now=DAY1)
    people.add(employee(2, username="bob", department_id="d2"), now=DAY1)
    registry = WorkstationRepository(db)
    for ws, name in ((WS1, "pc-1"), (WS2, "pc-2")):
        registry.register(workstation_id=ws, public_key=ws, now=DAY1,
                          info=WorkstationInfo(name, "CORP", "Win", "10.0.0.1", "1"))  # fmt: skip
        registry.set_status(ws, WorkstationStatus.APPROVED, by="root", now=DAY1)
    return EventJournal(db)


def _unlock(
    at: dt.datetime, who: str | None, by: UnlockedBy = UnlockedBy.PROXIMITY
) -> WorkstationEvent:
    return new_event(EventType.UNLOCK, at=at, account=f"CORP\\{who}", employee=who, unlocked_by=by)


def _lock(at: dt.datetime) -> WorkstationEvent:
    return new_event(EventType.LOCK, at=at)


def _ingest(journal: EventJournal, ws: str, *events: WorkstationEvent) -> None:
    journal.ingest(ws, events, now=DAY2 + dt.timedelta(hours=12))


def test_ingestion_is_idempotent(journal: EventJournal) -> None:
    batch = [_unlock(DAY1, "alice"), _lock(DAY1 + dt.timedelta(minutes=30))]
    first = journal.ingest(WS1, batch, now=DAY1)
    again = journal.ingest(WS1, [*batch, _lock(DAY1 + dt.timedelta(hours=1))], now=DAY1,
                           )  # fmt: skip
    assert set(first.stored) == {e.id for e in batch} and first.duplicates == ()
    assert set(again.duplicates) == {e.id for e in batch} and len(again.stored) == 1
    assert set(again.acknowledged) == {e.id for e in batch} | set(again.stored)
    assert journal.events().total == 3
    (session,) = journal.sessions().items
    assert session.duration_seconds == 1800 and session.end_reason == "lock"


def test_events_of_a_workstation_that_is_not_approved_are_refused(
    journal: EventJournal, db: Database
) -> None:
    registry = WorkstationRepository(db)
    registry.set_status(WS1, WorkstationStatus.UNAPPROVED, by="root", now=DAY1)
    for ws in (WS1, "ws-" + "c" * 32):
        with pytest.raises(WorkstationNotApproved, match="events refused"):
            _ingest(journal, ws, _lock(DAY1))
    assert journal.events().total == 0


def test_sessions_open_close_supersede_and_end_on_link_loss(journal: EventJournal) -> None:
    # Out of order within a batch: applied in event-time order.
    _ingest(journal, WS1, _lock(DAY1 + dt.timedelta(minutes=10)), _unlock(DAY1, "alice"))
    _ingest(journal, WS1, _unlock(DAY1 + dt.timedelta(hours=1), "alice"),
            _unlock(DAY1 + dt.timedelta(hours=2), "bob", UnlockedBy.RFID))  # fmt: skip
    journal.link_lost(WS1, now=DAY1 + dt.timedelta(hours=3))
    sessions = sorted(journal.sessions(workstation_id=WS1).items, key=lambda s: s.started_at)
    assert [(s.employee_id, s.end_reason, s.duration_seconds) for s in sessions] == [
        ("emp-1", "lock", 600),
        ("emp-1", "superseded", 3600),
        ("emp-2", "link_lost", 3600),
    ]
    assert sessions[2].unlocked_by is UnlockedBy.RFID
    assert journal.sessions(open_only=True).total == 0


def test_unknown_employee_is_kept_by_account(journal: EventJournal) -> None:
    _ingest(journal, WS1, _unlock(DAY1, "mallory"))
    (session,) = journal.sessions().items
    assert session.employee_id is None and session.account == "CORP\\mallory"
    assert session.ended_at is None


def test_unlocks_after_the_alarm_was_raised_are_flagged(
    journal: EventJournal, db: Database
) -> None:
    registry = WorkstationRepository(db)
    registry.set_alarm(active=True, by="root", now=DAY1 + dt.timedelta(hours=1))
    before, after = _unlock(DAY1, "alice"), _unlock(DAY1 + dt.timedelta(hours=2), "alice")
    result = journal.ingest(WS1, [before, after], now=DAY2)
    assert result.unlocks_during_alarm == (after.id,)
    assert {e.event.id: e.during_alarm for e in journal.events().items} == {
        before.id: False,
        after.id: True,
    }
    registry.set_alarm(active=False, by="root", now=DAY2)
    late = _unlock(DAY2 + dt.timedelta(hours=1), "alice")
    assert journal.ingest(WS1, [late], now=DAY2).unlocks_during_alarm == ()


def _day(journal: EventJournal) -> None:
    hour = dt.timedelta(hours=1)
    _ingest(journal, WS1, _unlock(DAY1, "alice"), _lock(DAY1 + hour))
    _ingest(journal, WS2, _unlock(DAY1 + 2 * hour, "alice"), _lock(DAY1 + 4 * hour))
    _ingest(journal, WS1, _unlock(DAY2, "bob"), _lock(DAY2 + hour))
    _ingest(journal, WS2, _unlock(DAY2 + hour, None))


def test_the_four_summaries(journal: EventJournal, db: Database) -> None:
    _day(journal)
    summaries = Summaries(db)
    by_day = summaries.query(SummaryKind.DAY_AND_EMPLOYEE).items
    assert [(r.day, r.employee, r.sessions, r.total_seconds) for r in by_day] == [
        ("2026-12-01", "(unknown)", 1, 0), ("2026-12-01", "bob", 1, 3600),
        ("2026-11-30", "alice", 2, 3 * 3600)]  # fmt: skip
    by_employee = {r.employee: r for r in summaries.query(SummaryKind.EMPLOYEE).items}
    assert (by_employee["alice"].workstations, by_employee["alice"].average_seconds) == (2, 5400)
    assert by_employee["bob"].department == "Sales"
    by_department = {r.department: r for r in summaries.query(SummaryKind.DEPARTMENT).items}
    assert (by_department["Finance"].employees, by_department["Finance"].sessions) == (1, 2)
    by_ws = {r.workstation: r for r in summaries.query(SummaryKind.WORKSTATION).items}
    assert (by_ws["pc-1"].employees, by_ws["pc-1"].days, by_ws["pc-2"].sessions) == (2, 2, 2)


def test_summary_filters_and_paging(journal: EventJournal, db: Database) -> None:
    _day(journal)
    summaries = Summaries(db)
    only_day1 = SummaryFilter(since=DAY1.date(), until=DAY2.date())
    assert [r.employee for r in summaries.query(SummaryKind.EMPLOYEE, only_day1).items] == ["alice"]
    finance = SummaryFilter(department_id="d1")
    assert summaries.query(SummaryKind.WORKSTATION, finance).total == 2
    pc1 = SummaryFilter(workstation_id=WS1, employee_id="emp-2")
    assert [(r.employee, r.sessions) for r in summaries.query(SummaryKind.EMPLOYEE, pc1).items] == [
        ("bob", 1)]  # fmt: skip
    first = summaries.query(SummaryKind.DAY_AND_EMPLOYEE, offset=0, limit=2)
    rest = summaries.query(SummaryKind.DAY_AND_EMPLOYEE, offset=2, limit=2)
    assert (first.total, len(first.items), len(rest.items)) == (3, 2, 1)
    assert summaries.query(SummaryKind.DAY_AND_EMPLOYEE, offset=10, limit=5).items == ()
    with pytest.raises(ValueError, match="limit"):
        summaries.query(SummaryKind.EMPLOYEE, limit=501)
    assert len(summaries.all(SummaryKind.DAY_AND_EMPLOYEE)) == 3


def test_csv_export_defuses_formulas(journal: EventJournal, db: Database) -> None:
    EmployeeRepository(db).add(employee(3, username="=cmd", email="x@corp.example"), now=DAY1)
    _ingest(journal, WS1, _unlock(DAY1, "=cmd"), _lock(DAY1 + dt.timedelta(minutes=1)))
    text = to_csv(SummaryKind.EMPLOYEE, Summaries(db).all(SummaryKind.EMPLOYEE))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "employee" and rows[1][:2] == ["'=cmd", "(unknown)"]

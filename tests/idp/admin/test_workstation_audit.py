"""Workstation sessions through the admin service: usernames and workstation names rather
than ids, filters (employee, workstation, a time window), cursor paging tied to its filter,
the CSV export, and refusals that name their field."""

from __future__ import annotations

import csv
import datetime as dt
import io
import secrets

import pytest

from idp.admin.access import Actor, Permission, PermissionDenied, Role
from idp.admin.models import InvalidInput
from idp.admin.workstation_audit import WorkstationSessionQuery
from idp.workstations.events import EventType, UnlockedBy, new_event
from idp.workstations.journal import EventJournal
from idp.workstations.model import WorkstationInfo, WorkstationStatus
from idp.workstations.registry import WorkstationRepository
from tests.idp.admin.conftest import AUDITOR, HELPDESK, NOW, World

HOUR = dt.timedelta(hours=1)
START = NOW - 48 * HOUR


def _workstation(world: World, name: str) -> str:
    ws = "ws-" + secrets.token_hex(16)
    registry = WorkstationRepository(world.runtime.db)
    info = WorkstationInfo(name, "CORP", "Windows 11", "10.0.0.9", "1.0")
    registry.register(workstation_id=ws, public_key="k", info=info, now=START)
    registry.set_status(ws, WorkstationStatus.APPROVED, by="admin:root", now=START)
    return ws


@pytest.fixture(scope="module")
def sessions(keys_world: World) -> dict[str, str]:
    """ann unlocks PC-A twice (one session still open), bea unlocks PC-B once."""
    world = keys_world
    ann = world.svc.employees.get(AUDITOR, world.employee()).username
    bea = world.svc.employees.get(AUDITOR, world.employee()).username
    pc_a, pc_b = _workstation(world, "PC-A"), _workstation(world, "PC-B")
    journal = EventJournal(world.runtime.db)
    journal.ingest(pc_a, [
        new_event(EventType.UNLOCK, at=START, account="ann", employee=ann,
                  unlocked_by=UnlockedBy.PROXIMITY),
        new_event(EventType.LOCK, at=START + HOUR),
        new_event(EventType.UNLOCK, at=START + 30 * HOUR, account="=HYPERLINK(1)", employee=ann,
                  unlocked_by=UnlockedBy.RFID),
    ], now=START + 30 * HOUR)  # fmt: skip
    journal.ingest(pc_b, [
        new_event(EventType.UNLOCK, at=START + 2 * HOUR, account="bea", employee=bea,
                  unlocked_by=UnlockedBy.DONGLE),
        new_event(EventType.LOGOFF, at=START + 4 * HOUR),
    ], now=START + 4 * HOUR)  # fmt: skip
    return {"ann": ann, "bea": bea, "PC-A": pc_a, "PC-B": pc_b}


def _query(**fields: object) -> WorkstationSessionQuery:
    return WorkstationSessionQuery.model_validate(fields)


def test_sessions_carry_names_filters_and_page(world: World, sessions: dict[str, str]) -> None:
    audit = world.svc.workstation_audit
    mine = audit.sessions(AUDITOR, _query(employee=sessions["ann"]))
    assert [(s.workstation, s.unlocked_by, s.ended_at is None) for s in mine.items] == [
        ("PC-A", UnlockedBy.RFID, True), ("PC-A", UnlockedBy.PROXIMITY, False),
    ]  # fmt: skip
    assert mine.items[1].duration_seconds == 3600 and mine.items[1].end_reason == "lock"
    assert {s.employee for s in mine.items} == {sessions["ann"]}
    on_b = audit.sessions(HELPDESK, _query(workstation_id=sessions["PC-B"]))
    assert [(s.employee, s.end_reason, s.duration_seconds) for s in on_b.items] == [
        (sessions["bea"], "logoff", 7200)
    ]
    window = _query(since=START + HOUR, until=START + 3 * HOUR)
    assert [s.workstation for s in audit.sessions(AUDITOR, window).items] == ["PC-B"]

    first = audit.sessions(AUDITOR, _query(employee=sessions["ann"], limit=1))
    assert first.next_cursor is not None
    rest = audit.sessions(
        AUDITOR, _query(employee=sessions["ann"], limit=1, cursor=first.next_cursor)
    )
    assert [s.started_at for s in rest.items] == [START] and rest.next_cursor is None
    with pytest.raises(InvalidInput) as other_filter:
        audit.sessions(AUDITOR, _query(employee=sessions["bea"], cursor=first.next_cursor))
    assert other_filter.value.errors[0].field == "cursor"


def test_sessions_as_csv(world: World, sessions: dict[str, str]) -> None:
    page = world.svc.workstation_audit.sessions(
        AUDITOR, _query(workstation_id=sessions["PC-A"], limit=1), everything=True
    )
    rows = list(csv.reader(io.StringIO(page.to_csv())))
    assert rows[0] == ["started_at", "ended_at", "workstation", "employee", "account",
                       "unlocked_by", "end_reason", "duration_seconds"]  # fmt: skip
    assert len(rows) == 3 and page.next_cursor is None  # every row, whatever the page size
    assert rows[1][4] == "'=HYPERLINK(1)" and rows[1][1] == ""  # defused; still open
    assert rows[2][:4] == [START.isoformat(), (START + HOUR).isoformat(), "PC-A", sessions["ann"]]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"employee": "nobody"}, "employee", "no employee 'nobody'"),
        ({"since": "2026-12-01T10:00:00"}, "since", "give a time zone"),
        ({"since": "2026-12-02T10:00:00Z", "until": "2026-12-01T10:00:00Z"}, "until", "after"),
        ({"cursor": "not-a-cursor"}, "cursor", "not a cursor"),
    ],
)
def test_refusals_name_their_field(
    world: World, sessions: dict[str, str], fields: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        world.svc.workstation_audit.sessions(AUDITOR, _query(**fields))
    assert refused.value.errors[0].field == field and message in refused.value.errors[0].message


def test_sessions_need_the_audit_permission(world: World) -> None:
    narrowed = Actor(name="admin:k", role=Role.ADMIN, scopes=frozenset({Permission.KEYS_READ}))
    with pytest.raises(PermissionDenied, match="audit:read"):
        world.svc.workstation_audit.sessions(narrowed, _query())

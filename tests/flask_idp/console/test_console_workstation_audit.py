"""The console's workstation events, sessions and four summaries: usernames and workstation names
(escaped), filters carried into the CSV export, every summary row in the export."""

from __future__ import annotations

import csv
import datetime as dt
import io

from idp.admin.access import Role
from idp.workstations.events import EventType, UnlockedBy, new_event
from idp.workstations.journal import EventJournal
from tests.flask_idp.admin_support import Api
from tests.flask_idp.console.test_console_pages import XSS, signed_in
from tests.flask_idp.console.test_console_workstations import register

START = dt.datetime(2026, 11, 2, 8, 0, tzinfo=dt.UTC)


def test_events_and_summaries_pages_with_csv(api: Api) -> None:
    alice = api.new_employee()
    ws = register(api, XSS)
    assert api.call("POST", f"/workstations/{ws}/approve").status_code == 200
    EventJournal(api.runtime.db).ingest(ws, [
        new_event(EventType.UNLOCK, at=START, account="CORP\\a", employee=alice["username"],
                  unlocked_by=UnlockedBy.RFID),
        new_event(EventType.LOCK, at=START + dt.timedelta(minutes=30)),
    ], now=START + dt.timedelta(hours=1))  # fmt: skip
    client = signed_in(api, Role.AUDITOR)
    events = client.get(f"/console/workstation-events?workstation_id={ws}")
    text = events.get_data(as_text=True)
    assert events.status_code == 200 and f">{alice['username']}</a>" in text
    assert "<script>alert(1)" not in text and "&lt;script&gt;" in text and ">rfid<" in text
    assert f'href="/console/workstation-events.csv?workstation_id={ws}' in text
    exported = client.get(f"/console/workstation-events.csv?workstation_id={ws}")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert exported.mimetype == "text/csv" and [r[1] for r in rows[1:]] == ["lock", "unlock"]

    summary = client.get(f"/console/workstation-summaries/employee?workstation_id={ws}")
    text = summary.get_data(as_text=True)
    assert summary.status_code == 200 and f"<td>{alice['username']}</td>" in text
    assert "<td>1800</td>" in text and 'aria-current="page">By employee' in text
    csv_link = f"/console/workstation-summaries/employee.csv?workstation_id={ws}"
    assert csv_link in text
    exported = client.get(csv_link).get_data(as_text=True).splitlines()
    assert exported[0].startswith("employee,department") and len(exported) == 2
    assert client.get("/console/workstation-summaries/nope").status_code == 404
    bad = client.get("/console/workstation-summaries/day-employee?since=yesterday")
    assert bad.status_code == 422


def test_sessions_page_linked_from_the_workstation_and_the_employee(api: Api) -> None:
    bea = api.new_employee()
    ws = register(api, XSS)
    assert api.call("POST", f"/workstations/{ws}/approve").status_code == 200
    EventJournal(api.runtime.db).ingest(ws, [
        new_event(EventType.UNLOCK, at=START, account=XSS, employee=bea["username"],
                  unlocked_by=UnlockedBy.DONGLE),
        new_event(EventType.LOCK, at=START + dt.timedelta(minutes=90)),
        new_event(EventType.UNLOCK, at=START + dt.timedelta(days=1), account="CORP\\b",
                  employee=bea["username"], unlocked_by=UnlockedBy.PROXIMITY),
    ], now=START + dt.timedelta(days=1))  # fmt: skip
    client = signed_in(api, Role.AUDITOR)
    own = f"/console/workstation-sessions?workstation_id={ws}"
    assert own in client.get(f"/console/workstations/{ws}").get_data(as_text=True)
    employee_page = client.get(f"/console/employees/{bea['id']}").get_data(as_text=True)
    by_employee = f"/console/workstation-sessions?employee={bea['username']}"
    assert by_employee in employee_page
    text = client.get(by_employee).get_data(as_text=True)
    assert f">{bea['username']}</a>" in text and f">{bea['id']}<" not in text
    assert "<script>alert(1)" not in text and "&lt;script&gt;" in text
    assert "<td>1:30:00</td>" in text and ">open<" in text and ">dongle<" in text
    # a browser's from/to fields (datetime-local) carry no zone: they are UTC
    window = client.get(f"{own}&since=2026-11-02T12:00&until=2026-11-04T00:00")
    text = window.get_data(as_text=True)
    assert window.status_code == 200 and ">proximity<" in text and ">dongle<" not in text
    assert f"/console/workstation-sessions.csv?workstation_id={ws}&amp;since=" in text
    exported = client.get(f"/console/workstation-sessions.csv?workstation_id={ws}")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert exported.mimetype == "text/csv" and [r[5] for r in rows[1:]] == ["proximity", "dongle"]
    assert client.get(f"{own}&since=yesterday").status_code == 422

"""The console's workstation events and four summaries: usernames and workstation names
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

"""``/api/v1/workstation-events``, ``…-sessions`` and ``…-summaries/{kind}``: usernames and
workstation names rather than ids, cursor paging, filters, and the same rows as CSV through
``Accept: text/csv`` or ``?format=csv`` (with spreadsheet formulas defused)."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from idp.admin.access import Role
from idp.workstations.events import EventType, UnlockedBy, new_event
from idp.workstations.journal import EventJournal
from tests.flask_idp.admin_support import Api
from tests.flask_idp.console.test_console_workstations import register

DAY1 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def world(api: Api) -> dict[str, str]:
    alice, mallory = api.new_employee(username="alice-w"), api.new_employee(username="zed-w")
    names = {"alice": alice["username"], "mallory": mallory["username"]}
    journal = EventJournal(api.runtime.db)
    for name, who, start in (("PC-1", "alice", DAY1), ("PC-2", "mallory", DAY1 + 24 * HOUR)):
        ws = register(api, name)
        assert api.call("POST", f"/workstations/{ws}/approve").status_code == 200
        names[name] = ws
        journal.ingest(ws, [
            new_event(EventType.UNLOCK, at=start, account=f"=cmd|{who}", employee=names[who],
                      unlocked_by=UnlockedBy.PROXIMITY),
            new_event(EventType.LOCK, at=start + HOUR),
        ], now=start + 2 * HOUR)  # fmt: skip
    return names


def test_events_carry_names_and_page(api: Api, world: dict[str, str]) -> None:
    first = api.call("GET", "/workstation-events?limit=3", role=Role.AUDITOR)
    assert first.status_code == 200
    items = first.json["items"]
    assert [e["type"] for e in items] == ["lock", "unlock", "lock"]  # newest first
    assert items[1]["workstation"] == "PC-2" and items[1]["employee"] == "zed-w"
    rest = api.call("GET", f"/workstation-events?limit=3&cursor={first.json['next_cursor']}")
    assert [e["employee"] for e in rest.json["items"]] == [world["alice"]]
    assert rest.json["next_cursor"] is None
    mine = api.call("GET", f"/workstation-events?employee={world['alice']}").json["items"]
    assert {e["workstation"] for e in mine} == {"PC-1"} and len(mine) == 1
    other = api.call("GET", f"/workstation-events?workstation_id={world['PC-1']}&cursor="
                     f"{first.json['next_cursor']}")  # fmt: skip
    assert other.status_code == 422 and other.json["errors"][0]["field"] == "cursor"
    nobody = api.call("GET", "/workstation-events?employee=nobody")
    assert nobody.status_code == 422 and "no employee 'nobody'" in nobody.json["detail"]


def test_events_as_csv(api: Api, world: dict[str, str]) -> None:
    r = api.call("GET", "/workstation-events", headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:4] == ["at", "type", "workstation", "employee"] and len(rows) == 5
    assert "'=cmd|mallory" in {row[4] for row in rows}  # no formula run by a spreadsheet
    assert api.call("GET", "/workstation-events?format=xml").status_code == 422


@pytest.mark.parametrize(
    ("kind", "key", "expected"),
    [
        ("day-employee", "day", ["2026-12-01", "2026-11-30"]),
        ("employee", "employee", ["alice-w", "zed-w"]),
        ("department", "department", ["(unknown)"]),
        ("workstation", "workstation", ["PC-1", "PC-2"]),
    ],
)
def test_the_four_summaries(
    api: Api, world: dict[str, str], kind: str, key: str, expected: list[str]
) -> None:
    r = api.call("GET", f"/workstation-summaries/{kind}")
    assert r.status_code == 200, r.json
    got = [row[key] for row in r.json["items"]]
    assert got == expected
    assert r.json["kind"] == kind and r.json["columns"][0] == key
    assert sum(row["total_seconds"] for row in r.json["items"]) == 7200
    exported = api.call("GET", f"/workstation-summaries/{kind}?format=csv&limit=1")
    lines = exported.get_data(as_text=True).splitlines()
    assert exported.mimetype == "text/csv" and lines[0].split(",")[0] == key
    assert len(lines) == 1 + len(expected)  # every row, whatever the page size


def test_summary_filters_and_paging(api: Api, world: dict[str, str]) -> None:
    first = api.call("GET", "/workstation-summaries/workstation?limit=1")
    assert first.json["total"] == 2 and first.json["next_cursor"]
    rest = api.call("GET", f"/workstation-summaries/workstation?limit=1&cursor="
                    f"{first.json['next_cursor']}")  # fmt: skip
    assert [r["workstation"] for r in rest.json["items"]] == ["PC-2"]
    one_day = api.call("GET", "/workstation-summaries/employee?since=2026-11-30&until=2026-12-01")
    assert [r["employee"] for r in one_day.json["items"]] == [world["alice"]]
    backwards = api.call("GET", "/workstation-summaries/employee?since=2026-12-01&until=2026-11-01")
    assert backwards.status_code == 422 and backwards.json["errors"][0]["field"] == "until"
    assert api.call("GET", "/workstation-summaries/nope").status_code == 404


def test_sessions_carry_names_filter_and_page(api: Api, world: dict[str, str]) -> None:
    first = api.call("GET", "/workstation-sessions?limit=1", role=Role.AUDITOR)
    assert first.status_code == 200, first.json
    (newest,) = first.json["items"]
    assert (newest["workstation"], newest["employee"], newest["unlocked_by"]) == (
        "PC-2", "zed-w", "proximity",
    )  # fmt: skip
    assert newest["duration_seconds"] == 3600 and newest["end_reason"] == "lock"
    rest = api.call("GET", f"/workstation-sessions?limit=1&cursor={first.json['next_cursor']}")
    assert [s["employee"] for s in rest.json["items"]] == [world["alice"]]
    assert rest.json["next_cursor"] is None
    mine = api.call("GET", f"/workstation-sessions?employee={world['alice']}").json["items"]
    on_pc1 = api.call("GET", f"/workstation-sessions?workstation_id={world['PC-1']}").json
    assert [s["workstation"] for s in mine] == ["PC-1"] and on_pc1["items"] == mine
    window = api.call("GET", "/workstation-sessions", query_string={
        "since": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00+00:00"})  # fmt: skip
    assert [s["workstation"] for s in window.json["items"]] == ["PC-2"]
    for query, field in (
        ({"employee": "nobody"}, "employee"),
        ({"since": "2026-12-01T00:00:00"}, "since"),  # no time zone
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "until"),
        ({"employee": world["alice"], "cursor": first.json["next_cursor"]}, "cursor"),
        ({"limit": "0"}, "limit"),
    ):
        r = api.call("GET", "/workstation-sessions", query_string=query)
        assert r.status_code == 422 and r.json["errors"][0]["field"] == field, (query, r.json)


def test_sessions_as_csv(api: Api, world: dict[str, str]) -> None:
    r = api.call("GET", "/workstation-sessions?limit=1", headers={"Accept": "text/csv"})
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0][:4] == ["started_at", "ended_at", "workstation", "employee"]
    assert len(rows) == 3  # every session, whatever the page size
    assert {row[4] for row in rows[1:]} == {"'=cmd|mallory", "'=cmd|alice"}  # defused
    assert api.call("GET", "/workstation-sessions?format=xml").status_code == 422

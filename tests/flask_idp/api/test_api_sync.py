"""``/api/v1/sync/sources`` and ``/api/v1/sync/runs``: runs are the engine's audit events,
listed newest first with cursors, filtered by source, shown one by one."""

from __future__ import annotations

from idp.admin.access import Role
from idp.audit import AuditKind, Outcome
from tests.flask_idp.admin_support import Api


def _run(api: Api, source: str, created: int, outcome: Outcome = Outcome.SUCCESS) -> None:
    api.runtime.audit.append_event(
        kind=AuditKind.DIRECTORY_SYNC, at=api.runtime.now(), actor=f"directory:{source}",
        outcome=outcome, details={"mode": "full", "read": "12", "unchanged": "9",
                                  "created": str(created), "conflict": "0"},
    )  # fmt: skip


def test_runs_are_listed_paged_filtered_and_shown(api: Api) -> None:
    for n in range(3):
        _run(api, "corp-ad", n)
    _run(api, "entra", 5, Outcome.FAILURE)
    first = api.call("GET", "/sync/runs?source=corp-ad&limit=2", role=Role.AUDITOR)
    assert first.status_code == 200
    runs = first.json["items"]
    assert [r["changes"]["created"] for r in runs] == [2, 1] and runs[0]["source"] == "corp-ad"
    assert runs[0]["read"] == 12 and runs[0]["mode"] == "full"
    rest = api.call("GET", f"/sync/runs?source=corp-ad&limit=2&cursor={first.json['next_cursor']}")
    assert [r["changes"]["created"] for r in rest.json["items"]] == [0]
    assert rest.json["next_cursor"] is None
    mixed = api.call("GET", f"/sync/runs?source=entra&cursor={first.json['next_cursor']}")
    assert mixed.status_code == 422 and mixed.json["errors"][0]["field"] == "cursor"
    newest = api.call("GET", "/sync/runs?limit=1").json["items"][0]
    assert newest["source"] == "entra" and newest["outcome"] == "failure"
    shown = api.call("GET", f"/sync/runs/{newest['id']}")
    assert shown.status_code == 200 and shown.json == newest
    for missing in ("999999999", "abc", "-1", "9" * 40):
        assert api.call("GET", f"/sync/runs/{missing}").status_code == 404
    other = api.runtime.audit.append_event(
        kind=AuditKind.ADMIN_CHANGE, at=api.runtime.now(), actor="cli", details={}
    )
    assert api.call("GET", f"/sync/runs/{other.seq}").status_code == 404  # not a sync run
    assert api.call("GET", "/sync/sources").json == {"items": []}  # the demo syncs nothing


def test_starting_a_run_without_a_directory_is_a_conflict(api: Api) -> None:
    r = api.call("POST", "/sync/runs", json={"full": True})
    assert r.status_code == 409 and r.json["error"] == "no_directory_configured"
    assert "directory: section" in r.json["detail"]
    r = api.call("POST", "/sync/runs", json={"sources": "corp"})
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "sources"

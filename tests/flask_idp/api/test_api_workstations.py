"""``/api/v1/workstations`` and ``/api/v1/alarm``: paging, transitions, If-Match on settings,
bad input, the alarm (an API key can raise it, never lift it), and the audit."""

from __future__ import annotations

import secrets

from idp.admin.access import Role
from idp.audit import AuditKind
from idp.workstations.model import WorkstationInfo
from idp.workstations.registry import WorkstationRepository
from tests.flask_idp.admin_support import Api


def register(api: Api, name: str) -> str:
    workstation_id = "ws-" + "".join(
        secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(32)
    )
    WorkstationRepository(api.runtime.db).register(
        workstation_id=workstation_id, public_key="k",
        info=WorkstationInfo(name, "CORP", "Windows 11", "10.0.0.9", "1.0"), now=api.runtime.now(),
    )  # fmt: skip
    return workstation_id


def test_list_pages_by_name_and_filters(api: Api) -> None:
    tag = secrets.token_hex(3)
    ids = [register(api, f"pc-{tag}-{n}") for n in range(3)]
    first = api.call("GET", f"/workstations?search={tag}&limit=2", role=Role.AUDITOR)
    assert first.status_code == 200
    assert [w["name"] for w in first.json["items"]] == [f"pc-{tag}-0", f"pc-{tag}-1"]
    rest = api.call("GET", f"/workstations?search={tag}&limit=2&cursor={first.json['next_cursor']}")
    assert [w["id"] for w in rest.json["items"]] == ids[2:] and rest.json["next_cursor"] is None
    other = api.call("GET", f"/workstations?search=zz&cursor={first.json['next_cursor']}")
    assert other.status_code == 422 and other.json["errors"][0]["field"] == "cursor"
    bad = api.call("GET", "/workstations?status=sleeping&limit=0")
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json["errors"]} == {"status", "limit"}
    pending = api.call("GET", f"/workstations?search={tag}&status=approved")
    assert pending.json["items"] == []


def test_approve_settings_lock_and_remove(api: Api) -> None:
    ws = register(api, f"pc-{secrets.token_hex(3)}")
    path = f"/workstations/{ws}"
    early = api.call("POST", f"{path}/lock")
    assert early.status_code == 403 and "pending" in early.json["detail"]
    approved = api.call("POST", f"{path}/approve", role=Role.HELPDESK)
    assert approved.status_code == 200 and approved.json["status"] == "approved"
    settings = {"lock_proximity": 25, "unlock_proximity": 75, "lock_timeout": 8}
    assert api.call("PUT", f"{path}/settings", json=settings).status_code == 428
    etag = api.call("GET", path).headers["ETag"]
    stale = api.call("PUT", f"{path}/settings", json=settings, headers={"If-Match": '"x"'})
    assert stale.status_code == 412
    wrong = {**settings, "unlock_proximity": 20}
    refused = api.call("PUT", f"{path}/settings", json=wrong, headers={"If-Match": etag})
    assert refused.status_code == 422 and "must be above" in refused.json["detail"]
    assert refused.json["errors"][0]["field"] == "unlock_proximity"
    extra = api.call("PUT", f"{path}/settings", json={**settings, "status": "approved"},
                     headers={"If-Match": etag})  # fmt: skip
    assert extra.status_code == 422  # read-only fields are not writable here
    done = api.call("PUT", f"{path}/settings", json=settings, headers={"If-Match": etag})
    assert done.status_code == 200 and done.json["lock_timeout"] == 8
    assert api.call("POST", f"{path}/lock").status_code == 200
    assert api.call("POST", f"{path}/remove").json["status"] == "removed"
    again = api.call("POST", f"{path}/approve")
    assert again.status_code == 400 and "cannot become approved" in again.json["detail"]
    assert api.call("GET", "/workstations/ws-nope").status_code == 404
    events = api.runtime.audit.list(kind=AuditKind.ADMIN_CHANGE, limit=5).items
    actions = [e.details["action"] for e in events]
    assert actions[:4] == ["workstation_removed", "workstation_lock", "workstation_settings",
                           "workstation_approved"]  # fmt: skip


def test_the_alarm_is_raised_by_key_but_never_lifted_by_one(api: Api) -> None:
    raised = api.call("POST", "/alarm/on", role=Role.HELPDESK)
    assert raised.status_code == 200 and raised.json["active"] is True
    assert raised.json["raised_by"].startswith("helpdesk-")
    lift = api.call("POST", "/alarm/off")
    assert lift.status_code == 401 and lift.json["error"] == "reauthentication_required"
    assert api.call("POST", "/alarm/off", role=Role.HELPDESK).status_code == 403
    status = api.call("GET", "/alarm", role=Role.AUDITOR).json
    assert status["active"] is True and set(status["workstations"]) >= {"pending", "approved"}
    (failed,) = api.runtime.audit.list(kind=AuditKind.ALARM_LIFTED, limit=1).items
    assert failed.outcome.value == "failure"

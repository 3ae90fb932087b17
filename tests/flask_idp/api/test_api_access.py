"""Who may call what: each role against each endpoint (one table), API-key scopes, expired
and revoked keys, and a helpdesk user reaching for what is not theirs."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest

from flask_idp.api import OPERATIONS
from idp.admin.access import Permission, Role
from idp.audit import AuditKind
from tests.flask_idp.admin_support import Api

A, H, U = Role.ADMIN, Role.HELPDESK, Role.AUDITOR
#: operation → the roles allowed to call it (written out, not derived from the code)
ALLOWED: dict[str, set[Role]] = {
    "me": {A, H, U},
    "list_employees": {A, H, U},
    "get_employee": {A, H, U},
    "create_employee": {A, H},
    "update_employee": {A, H},
    "disable_employee": {A, H},
    "enable_employee": {A, H},
    "delete_employee": {A},
    "list_sessions": {A, H, U},
    "end_sessions": {A, H},
    "end_session": {A, H},
    "list_passkeys": {A, H, U},
    "revoke_passkey": {A, H},
    "create_enrolment_link": {A, H},
    "list_admins": {A, H, U},
    "get_admin": {A, H, U},
    "create_admin": {A},
    "update_admin": {A},
    "delete_admin": {A},
    "list_api_keys": {A, H, U},
    "create_api_key": {A, H},
    "revoke_api_key": {A, H},
    "list_audit": {A, H, U},
    "verify_audit": {A, H, U},
    "dashboard": {A, H, U},
    "list_relying_parties": {A, H, U},
    "get_relying_party": {A, H, U},
    "list_companies": {A, H, U},
    "create_company": {A},
    "list_departments": {A, H, U},
    "create_department": {A},
    "list_positions": {A, H, U},
    "create_position": {A},
    "get_password_state": {A, H, U},
    "unlock_password": {A, H},
    "list_workstations": {A, H, U},
    "get_workstation": {A, H, U},
    "approve_workstation": {A, H},
    "unapprove_workstation": {A, H},
    "remove_workstation": {A, H},
    "lock_workstation": {A, H},
    "update_workstation_settings": {A, H},
    "get_alarm": {A, H, U},
    "raise_alarm": {A, H},
    "lift_alarm": {A},
    "get_factors": {A, H, U},
    "disable_app": {A, H},
    "enable_app": {A, H},
    "remove_app": {A, H},
    "remove_totp": {A, H},
    "list_sync_sources": {A, H, U},
    "list_sync_runs": {A, H, U},
    "get_sync_run": {A, H, U},
    "export_key_accounts": {A},
    "restore_key_accounts": {A},
    "start_sync_run": {A},
    "get_sync_job": {A, H, U},
    "list_sync_jobs": {A, H, U},
    "list_workstation_events": {A, H, U},
    "list_workstation_sessions": {A, H, U},
    "workstation_summary_by_day_employee": {A, H, U},
    "workstation_summary_by_employee": {A, H, U},
    "workstation_summary_by_department": {A, H, U},
    "workstation_summary_by_workstation": {A, H, U},
    "list_keys": {A, H, U},
    "import_keys": {A, H},
    "get_key": {A, H, U},
    "assign_key": {A, H},
    "cancel_key": {A, H},
    "suspend_key": {A, H},
    "deactivate_key": {A, H},
    "compromise_key": {A, H},
    "set_key_profile": {A, H},
    "list_key_profiles": {A, H, U},
    "create_key_profile": {A, H},
    "get_key_profile": {A, H, U},
    "update_key_profile": {A, H},
    "delete_key_profile": {A, H},
    "list_key_accounts": {A, H, U},
    "create_key_account": {A, H},
    "get_key_account": {A, H, U},
    "update_key_account": {A, H},
    "delete_key_account": {A, H},
    "set_primary_key_account": {A, H},
    # an account's secrets: never helpdesk
    "change_key_account_password": {A},
    "set_key_account_otp": {A},
    "remove_key_account_otp": {A},
    "list_shared_accounts": {A, H, U},
    "create_shared_account": {A},
    "get_shared_account": {A, H, U},
    "update_shared_account": {A, H},
    "delete_shared_account": {A, H},
    "share_account": {A, H},
    "list_key_templates": {A, H, U},
    "create_key_template": {A, H},
    "get_key_template": {A, H, U},
    "update_key_template": {A, H},
    "delete_key_template": {A, H},
}

#: sensitive operations: the role may, but only with a sign-in of the last minutes
NEEDS_FRESH_SIGN_IN = {"lift_alarm", "compromise_key"}


def test_the_table_covers_every_operation() -> None:
    assert set(ALLOWED) == {op.operation_id for op in OPERATIONS}


@pytest.mark.parametrize("role", [A, H, U])
@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.operation_id)
def test_role_against_endpoint(api: Api, role: Role, op: Any) -> None:
    # the target does not exist: an allowed call gets past the permission check to a 404 or
    # a 422/428, a refused one stops at 403 before anything is looked up
    path = op.path.format(
        employee_id="0" * 16,
        handle="h",
        credential_id="c",
        admin_id="0" * 16,
        key_id="0" * 16,
        rp_id="saml:none",
        workstation_id="ws-" + "0" * 32,
        run_id="0",
        job_id="0" * 16,
        serial="ST" + "0" * 10,
        profile_id="0" * 16,
        account_id="0" * 16,
        shared_id="0" * 16,
        template_id="0" * 16,
    )
    body = {} if op.body is not None else None
    response = api.call(op.method, path, role=role, json=body)
    if role in ALLOWED[op.operation_id] and op.operation_id in NEEDS_FRESH_SIGN_IN:
        # allowed by role, but an API key never carries a fresh sign-in
        assert response.status_code == 401, (op.operation_id, response.json)
        assert response.json["error"] == "reauthentication_required"
    elif role in ALLOWED[op.operation_id]:
        assert response.status_code not in (401, 403), (op.operation_id, response.json)
    else:
        assert response.status_code == 403, (op.operation_id, response.json)
        assert response.json["error"] == "permission_denied"
        assert f"the {role.value} role may not" in response.json["detail"]


def test_a_refused_write_changes_nothing(api: Api) -> None:
    e = api.new_employee()
    etag = api.call("GET", f"/employees/{e['id']}").headers["ETag"]
    r = api.call(
        "PATCH",
        f"/employees/{e['id']}",
        role=U,
        json={"first_name": "Eve"},
        headers={"If-Match": etag},
    )
    assert r.status_code == 403
    assert api.call("GET", f"/employees/{e['id']}").json == e


def test_scopes_narrow_a_key(api: Api) -> None:
    token = api.key(A, scopes=[Permission.EMPLOYEES_READ])
    assert api.call("GET", "/employees", token=token).status_code == 200
    r = api.call("POST", "/employees", token=token, json={"username": "s", "email": "s@e.com"})
    assert r.status_code == 403 and "lacks the scope 'employees:write'" in r.json["detail"]
    me = api.call("GET", "/me", token=token).json
    assert me["permissions"] == ["employees:read"] and me["role"] == "admin"


def test_expired_and_revoked_keys_stop_working(api: Api) -> None:
    short = api.key(A, days=1)
    assert api.call("GET", "/me", token=short).status_code == 200
    api.clock.advance(dt.timedelta(days=1, seconds=1).total_seconds())
    r = api.call("GET", "/me", token=short)
    assert r.status_code == 401 and "expired" in r.json["detail"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    api.clock.offset = dt.timedelta(0)
    token = api.key(H)
    key_id = token.split("_")[1]
    assert api.call("POST", f"/api-keys/{key_id}/revoke", token=token).status_code == 200
    r = api.call("GET", "/me", token=token)
    assert r.status_code == 401 and "revoked" in r.json["detail"]
    api.keys.clear()  # the cached helpdesk key is dead


@pytest.mark.parametrize(
    "header",
    [None, "Basic YTpi", "Bearer ", "Bearer hik_nope", "Bearer hik_0123456789abcdef_" + "A" * 43],
)
def test_missing_or_forged_keys(api: Api, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = api.client.get("/api/v1/employees", headers=headers)
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
    assert r.json["error"] in ("unauthorized", "invalid_api_key")


def test_a_correct_id_with_a_wrong_secret_is_refused(api: Api) -> None:
    token = api.key(U)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert api.call("GET", "/me", token=forged).status_code == 401


def test_helpdesk_reaching_for_secrets_and_admin_powers(api: Api) -> None:
    helpdesk = api.key(H)
    r = api.call(
        "POST",
        "/api-keys",
        token=helpdesk,
        json={"name": "mine", "scopes": ["employees:read", "secrets"]},
    )
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "scopes"
    assert "secrets" in r.json["errors"][0]["message"]
    _, username = api.admin(U)
    r = api.call("POST", "/admins", token=helpdesk, json={"username": username, "role": "admin"})
    assert r.status_code == 403
    # helpdesk cannot mint a key for another admin, nor revoke one
    other_admin, _ = api.admin(A)
    r = api.call(
        "POST",
        "/api-keys",
        token=helpdesk,
        json={"name": "x", "scopes": ["employees:read"], "admin_id": other_admin},
    )
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "admin_id"
    admin_key_id = api.key(A).split("_")[1]
    assert api.call("POST", f"/api-keys/{admin_key_id}/revoke", token=helpdesk).status_code == 404
    assert api.call("GET", "/me", token=api.key(A)).status_code == 200


def test_api_key_secret_is_shown_once_even_on_replay(api: Api) -> None:
    body = {"name": "ci", "scopes": ["employees:read"], "expires_in_days": 7}
    first = api.call("POST", "/api-keys", json=body, headers={"Idempotency-Key": "ci-1"})
    again = api.call("POST", "/api-keys", json=body, headers={"Idempotency-Key": "ci-1"})
    assert first.status_code == again.status_code == 201
    assert first.json["secret"].startswith("hik_") and again.json["secret"] == ""
    assert first.json["key"]["id"] == again.json["key"]["id"]
    listed = api.call("GET", "/api-keys").get_data(as_text=True)
    assert first.json["secret"] not in listed
    assert api.call("GET", "/me", token=first.json["secret"]).status_code == 200
    # what the idempotency cache keeps (the in-process store's keys, read back as stored)
    store = api.runtime.ephemeral
    kept = [
        json.loads(store.get(k) or b"{}")
        for k in list(store._data)  # type: ignore[attr-defined]
        if k.startswith("admin_idem:")
    ]
    bodies = [base64.b64decode(k["body"]) for k in kept if k.get("state") == "done"]
    assert any(b'"key":' in b for b in bodies)
    assert all(first.json["secret"].encode() not in b for b in bodies)


def test_admin_accounts_roles_and_audit_usernames(api: Api) -> None:
    e = api.new_employee()
    made = api.call("POST", "/admins", json={"username": e["username"], "role": "helpdesk"})
    assert made.status_code == 201 and made.json["username"] == e["username"]
    path = f"/admins/{made.json['id']}"
    etag = api.call("GET", path).headers["ETag"]
    changed = api.call("PATCH", path, json={"role": "auditor"}, headers={"If-Match": etag})
    assert changed.json["role"] == "auditor"
    assert (
        api.call("PATCH", path, json={"role": "admin"}, headers={"If-Match": etag}).status_code
        == 412
    )
    assert api.call("DELETE", path).status_code == 204
    events = api.call("GET", "/audit", query_string={"kind": "admin_change", "limit": 3}).json
    latest = events["items"][0]
    assert latest["details"]["action"] == "admin_removed"
    assert latest["employee_username"] == e["username"]
    assert latest["actor_username"].startswith("admin-")


def test_audit_paging_and_verify(api: Api) -> None:
    api.new_employee()
    page = api.call("GET", "/audit", query_string={"limit": 2}).json
    nxt = api.call("GET", "/audit", query_string={"limit": 2, "cursor": page["next_cursor"]}).json
    assert page["items"][1]["seq"] > nxt["items"][0]["seq"]
    assert api.call("GET", "/audit/verify").json["ok"] is True
    r = api.call("GET", "/audit", query_string={"since": "2026-01-01T00:00:00"})
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "since"
    assert AuditKind.EMPLOYEE_CREATED.value in {
        i["kind"] for i in api.call("GET", "/audit", query_string={"limit": 50}).json["items"]
    }


def test_relying_parties_are_read_only_and_never_show_secrets(api: Api) -> None:
    items = api.call("GET", "/relying-parties").json["items"]
    assert items and all(set(i) >= {"id", "protocol", "endpoints", "has_secret"} for i in items)
    one = api.call("GET", f"/relying-parties/{items[0]['id']}")
    assert one.status_code == 200 and one.json == items[0]
    assert api.call("DELETE", f"/relying-parties/{items[0]['id']}").status_code == 405

"""``/api/v1/keys``, ``/key-profiles``, ``/…/key-accounts``, ``/shared-accounts`` and
``/key-templates`` over HTTP: the code shown once (also on an idempotent replay), compromise
refused to an API key, If-Match, mass assignment, oversized bodies, and helpdesk reaching
for an account's secrets. The key's side is driven through the VaultService the driver uses."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from idp.admin.access import Role
from idp.vault.service import build_vault_service
from tests.flask_idp.admin_support import Api

PASSWORD = "s3cret-Passw0rd"


def _import(api: Api, n: int = 1) -> list[str]:
    keys = []
    for _ in range(n):
        tail = secrets.token_hex(5).upper()
        mac = ":".join(tail[i : i + 2] for i in range(0, 10, 2))
        keys.append({"serial": f"HK{tail}", "mac": f"BB:{mac}", "model": "Key 4", "firmware": "4"})
    r = api.call("POST", "/keys", json={"keys": keys})
    assert r.status_code == 201, r.json
    return [k["serial"] for k in r.json["items"]]


def _assigned(api: Api) -> tuple[str, str, dict[str, Any]]:
    (serial,) = _import(api)
    employee = api.new_employee()["id"]
    r = api.call("POST", f"/keys/{serial}/assign", json={"employee_id": employee})
    assert r.status_code == 200, r.json
    return serial, employee, r.json


def test_assign_shows_the_code_once_even_on_replay(api: Api) -> None:
    (serial,) = _import(api)
    employee = api.new_employee()["id"]
    headers = {"Idempotency-Key": f"assign-{serial}"}
    body = {"employee_id": employee}
    first = api.call("POST", f"/keys/{serial}/assign", json=body, headers=headers)
    again = api.call("POST", f"/keys/{serial}/assign", json=body, headers=headers)
    assert first.status_code == again.status_code == 200
    code = first.json["activation_code"]
    assert len(code) == 6 and code.isdigit()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["activation_code"] == "" and again.json["key"] == first.json["key"]
    shown = api.call("GET", f"/keys/{serial}", role=Role.AUDITOR)
    assert shown.status_code == 200 and code not in shown.get_data(as_text=True)
    assert shown.json["key"]["status"] == "reserved"
    assert shown.json["key"]["employee_username"].startswith("emp-")
    assert [t["kind"] for t in shown.json["tasks"]] == ["profile"]
    listed = api.call("GET", f"/keys?employee_id={employee}").json
    assert [k["serial"] for k in listed["items"]] == [serial]


def test_suspend_then_compromise_needs_a_fresh_sign_in(api: Api) -> None:
    serial, _, assigned = _assigned(api)
    driver = build_vault_service(api.runtime)
    driver.check_activation_code(serial=serial, code=assigned["activation_code"])
    driver.linked(serial=serial)
    r = api.call("POST", f"/keys/{serial}/suspend", role=Role.HELPDESK)
    assert r.status_code == 200 and r.json["key"]["status"] == "suspended"
    assert len(r.json["activation_code"]) == 6
    r = api.call("POST", f"/keys/{serial}/compromise")
    assert r.status_code == 401 and r.json["error"] == "reauthentication_required"
    assert api.call("GET", f"/keys/{serial}").json["key"]["status"] == "suspended"
    r = api.call("POST", f"/keys/{serial}/cancel")
    assert r.status_code == 409 and r.json["error"] == "illegal_vault_transition"
    assert "allowed from: reserved" in r.json["detail"]


def test_deactivate_with_a_reason(api: Api) -> None:
    serial, _, _ = _assigned(api)
    r = api.call("POST", f"/keys/{serial}/deactivate", json={"reason": "misplaced"})
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "reason"
    r = api.call("POST", f"/keys/{serial}/deactivate", json={"reason": "stolen"})
    assert r.status_code == 200
    assert r.json["status"] == "deactivated" and r.json["reason"] == "stolen"


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/keys/{serial}/assign", {"employee_id": "x", "status": "active"}, "status"),
        ("/keys", {"keys": [{"serial": "S", "mac": "M", "model": "m", "firmware": "f",
                             "status": "active"}]}, "keys.0.status"),
        ("/key-profiles", {"name": "P", "id": "default"}, "id"),
        ("/key-templates", {"name": "T", "urls": ["a.com"], "id": "x"}, "id"),
    ],
)  # fmt: skip
def test_read_only_fields_are_refused(api: Api, path: str, body: Any, field: str) -> None:
    (serial,) = _import(api)
    r = api.call("POST", path.format(serial=serial), json=body)
    assert r.status_code == 422, r.json
    assert {"field": field, "message": "not a field you can set here (read-only or unknown)"} in (
        r.json["errors"]
    )
    assert api.call("GET", f"/keys/{serial}").json["key"]["status"] == "ready"


def test_if_match_on_the_key_profile(api: Api) -> None:
    serial, _, _ = _assigned(api)
    made = api.call("POST", "/key-profiles", json={"name": f"P {serial}", "pin_length": 6})
    assert made.status_code == 201, made.json
    body = {"profile_id": made.json["id"]}
    r = api.call("PUT", f"/keys/{serial}/profile", json=body)
    assert r.status_code == 428 and r.json["error"] == "precondition_required"
    r = api.call("PUT", f"/keys/{serial}/profile", json=body, headers={"If-Match": '"x"'})
    assert r.status_code == 412 and r.json["error"] == "precondition_failed"
    etag = api.call("GET", f"/keys/{serial}").headers["ETag"]
    r = api.call("PUT", f"/keys/{serial}/profile", json=body, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json["key"]["profile_id"] == made.json["id"]
    assert r.headers["ETag"] != etag
    r = api.call("DELETE", f"/key-profiles/{made.json['id']}")
    assert r.status_code == 409 and r.json["error"] == "key_profile_in_use"
    r = api.call("DELETE", "/key-profiles/default")
    assert r.status_code == 409 and "default access profile" in r.json["detail"]


def test_a_one_megabyte_body_is_refused_before_parsing(api: Api) -> None:
    big = {"name": "x" * (1024 * 1024)}
    r = api.call("POST", "/key-templates", json=big)
    assert r.status_code == 413 and r.mimetype == "application/problem+json"
    assert api.call("GET", "/key-templates").json["items"] == []


def test_helpdesk_never_touches_an_accounts_secrets(api: Api) -> None:
    employee = api.new_employee()["id"]
    path = f"/employees/{employee}/key-accounts"
    secret = {"name": "VPN", "login": "ann", "password": PASSWORD}
    r = api.call("POST", path, role=Role.HELPDESK, json=secret)
    assert r.status_code == 403 and "needs 'secrets'" in r.json["detail"]
    r = api.call("POST", path, role=Role.HELPDESK, json={"name": "VPN", "login": "ann"})
    assert r.status_code == 400 and "skip-password" in r.json["detail"]
    r = api.call("POST", path, json=secret)
    assert r.status_code == 201 and r.json["has_password"] is True
    account = r.json["id"]
    for role in Role:
        shown = api.call("GET", f"/key-accounts/{account}", role=role)
        assert shown.status_code == 200 and PASSWORD not in shown.get_data(as_text=True)
    r = api.call("POST", f"/key-accounts/{account}/password", role=Role.HELPDESK,
                 json={"password": "another"})  # fmt: skip
    assert r.status_code == 403
    etag = api.call("GET", f"/key-accounts/{account}").headers["ETag"]
    r = api.call("PATCH", f"/key-accounts/{account}", role=Role.HELPDESK,
                 json={"has_password": False}, headers={"If-Match": etag})  # fmt: skip
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "has_password"
    r = api.call("PATCH", f"/key-accounts/{account}", role=Role.HELPDESK,
                 json={"name": "VPN (office)"}, headers={"If-Match": etag})  # fmt: skip
    assert r.status_code == 200 and r.json["name"] == "VPN (office)" and r.json["has_password"]


def test_a_shared_account_edit_fans_out(api: Api) -> None:
    serial, employee, _ = _assigned(api)
    xss = "<script>alert(1)</script>"
    made = api.call(
        "POST", "/shared-accounts", json={"name": xss, "login": "ops", "password": PASSWORD}
    )
    assert made.status_code == 201 and made.json["name"] == xss
    shared = made.json["id"]
    r = api.call("POST", f"/shared-accounts/{shared}/holders", json={"employee_id": employee})
    assert r.status_code == 201 and r.json["shared_id"] == shared
    etag = api.call("GET", f"/shared-accounts/{shared}").headers["ETag"]
    r = api.call("PATCH", f"/shared-accounts/{shared}", json={"login": "ops2"},
                 headers={"If-Match": '"old"'})  # fmt: skip
    assert r.status_code == 412
    r = api.call("PATCH", f"/shared-accounts/{shared}", json={"login": "ops2"},
                 headers={"If-Match": etag})  # fmt: skip
    assert r.status_code == 200, r.json
    assert r.json["queued_for"] == [serial] and r.json["account"]["login"] == "ops2"
    assert [h["employee_id"] for h in r.json["account"]["holders"]] == [employee]
    accounts = api.call("GET", f"/employees/{employee}/key-accounts").json["items"]
    assert [(a["shared_id"], a["login"]) for a in accounts] == [(shared, "ops2")]


def test_a_template_is_edited_against_its_etag(api: Api) -> None:
    made = api.call("POST", "/key-templates", json={"name": "Jira", "urls": ["jira.example"]})
    assert made.status_code == 201 and made.headers["ETag"]
    other = api.call("POST", "/key-templates", json={"name": "Wiki", "apps": ["Wiki"]}).json
    path = f"/key-templates/{made.json['id']}"
    etag = api.call("GET", path, role=Role.AUDITOR).headers["ETag"]
    assert etag == made.headers["ETag"]
    body = {"name": "Jira Cloud", "urls": ["jira.atlassian.net"]}
    r = api.call("PATCH", path, json=body)
    assert r.status_code == 428 and r.json["error"] == "precondition_required"
    r = api.call("PATCH", path, json=body, headers={"If-Match": '"stale"'})
    assert r.status_code == 412 and r.json["error"] == "precondition_failed"
    r = api.call("PATCH", path, role=Role.HELPDESK, json=body, headers={"If-Match": etag})
    assert r.status_code == 200, r.json
    assert r.json == {"id": made.json["id"], "name": "Jira Cloud",
                      "urls": ["https://jira.atlassian.net"], "apps": []}  # fmt: skip
    assert r.headers["ETag"] != etag
    fresh = {"If-Match": r.headers["ETag"]}
    refused = [
        ({"id": "x"}, 422, "id"),
        ({"urls": []}, 400, None),  # it would name neither a URL nor an app
        ({"urls": ["ftp://files.example"]}, 400, None),
        ({"name": "wiki"}, 409, None),
    ]
    for change, status, field in refused:
        r = api.call("PATCH", path, json=change, headers=fresh)
        assert r.status_code == status, (change, r.json)
        assert field is None or r.json["errors"][0]["field"] == field
    assert api.call("GET", path).json["name"] == "Jira Cloud"
    r = api.call("PATCH", "/key-templates/nope", json=body, headers={"If-Match": "*"})
    assert r.status_code == 404 and r.json["error"] == "key_template_not_found"
    for template_id in (made.json["id"], other["id"]):
        assert api.call("DELETE", f"/key-templates/{template_id}").status_code == 204


def test_keys_found_by_serial_or_holder(api: Api) -> None:
    serial, employee, _ = _assigned(api)
    username = api.call("GET", f"/employees/{employee}").json["username"]
    for q in (username.upper(), serial.lower()[-5:]):
        r = api.call("GET", "/keys", role=Role.AUDITOR, query_string={"q": q})
        assert r.status_code == 200 and [k["serial"] for k in r.json["items"]] == [serial], q
    for q in ("%", "' OR 1=1 --", "nobody-at-all"):
        assert api.call("GET", "/keys", query_string={"q": q}).json["items"] == []
    r = api.call("GET", "/keys", query_string={"q": "x" * 129})
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "q"

"""``/api/v1/employees`` as a script uses it: CRUD, filters, cursor paging, ETag/If-Match,
idempotency keys, problem+json, and hostile input that must leave nothing behind."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from idp.admin.access import Role
from idp.audit import AuditKind
from idp.factors.registry import PasskeyCredential
from tests.flask_idp.admin_support import Api


def _problem(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body: dict[str, Any] = response.json
    assert body["status"] == status and body["error"] == error
    assert body["type"] == f"urn:hideez-idp:error:{error}" and body["detail"] and body["title"]
    return body


def _fields(body: dict[str, Any]) -> set[str]:
    return {e["field"] for e in body["errors"]}


def test_create_show_and_audit_with_the_acting_admin(api: Api) -> None:
    created = api.new_employee(first_name="Ann", last_name="Lee", phone="+44 20 7946 0958")
    shown = api.call("GET", f"/employees/{created['id']}")
    assert shown.status_code == 200 and shown.json == created
    assert shown.headers["ETag"].startswith('"')
    event = api.runtime.audit.list(kind=AuditKind.EMPLOYEE_CREATED, limit=1).items[0]
    assert event.employee_id == created["id"] and event.actor.startswith("admin:admin-")


def test_invalid_fields_are_named_and_nothing_is_stored(api: Api) -> None:
    before = api.runtime.employees.count()
    for body, field in (
        ({"username": "Bad Name!", "email": "bad@example.com"}, "username"),
        ({"username": "okname", "email": "notanemail"}, "email"),
        ({"username": "okname", "email": "a@example.com", "phone": "call me"}, "phone"),
        (
            {"username": "okname", "email": "a@example.com", "external_ids": {"Bad!": "x"}},
            "external_ids",
        ),
        ({"username": "okname", "email": "a@example.com", "first_name": "a\x00b"}, "first_name"),
        ({"username": "okname"}, "email"),
    ):
        body_out = _problem(api.call("POST", "/employees", json=body), 422, "invalid_input")
        assert field in _fields(body_out), body_out
    assert api.runtime.employees.count() == before


def test_read_only_fields_are_refused_not_dropped(api: Api) -> None:
    e = api.new_employee()
    etag = api.call("GET", f"/employees/{e['id']}").headers["ETag"]
    for field, value in (
        ("id", "x"),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("enabled", False),
        ("groups", ["admins"]),
        ("username", "other"),
    ):
        r = api.call(
            "PATCH", f"/employees/{e['id']}", json={field: value}, headers={"If-Match": etag}
        )
        body = _problem(r, 422, "invalid_input")
        assert body["errors"] == [
            {"field": field, "message": "not a field you can set here (read-only or unknown)"}
        ]
    assert api.call("GET", f"/employees/{e['id']}").json == e


def test_if_match_guards_every_update(api: Api) -> None:
    e = api.new_employee()
    path = f"/employees/{e['id']}"
    etag = api.call("GET", path).headers["ETag"]
    _problem(api.call("PATCH", path, json={"first_name": "X"}), 428, "precondition_required")
    _problem(
        api.call("PATCH", path, json={"first_name": "X"}, headers={"If-Match": '"nope"'}),
        412,
        "precondition_failed",
    )
    assert api.call("GET", path).json["first_name"] == ""
    ok = api.call("PATCH", path, json={"first_name": "Xena"}, headers={"If-Match": etag})
    assert ok.status_code == 200 and ok.json["first_name"] == "Xena"
    assert ok.headers["ETag"] != etag
    # the version read before the change is stale now
    _problem(
        api.call("PATCH", path, json={"last_name": "Y"}, headers={"If-Match": etag}),
        412,
        "precondition_failed",
    )
    assert api.call("GET", path).json["last_name"] == ""


def test_filter_sort_and_cursor_paging_to_the_end(api: Api) -> None:
    tag = secrets.token_hex(3)
    made = [api.new_employee(last_name=f"{tag}-{i}") for i in range(5)]
    api.call("POST", f"/employees/{made[0]['id']}/disable")
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = {
            "search": tag,
            "sort": "-last_name",
            "limit": 2,
            **({"cursor": cursor} if cursor else {}),
        }
        page = api.call("GET", "/employees", query_string=query).json
        seen += [item["last_name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"{tag}-{i}" for i in (4, 3, 2, 1, 0)]
    only_disabled = api.call("GET", "/employees", query_string={"search": tag, "enabled": "false"})
    assert [i["id"] for i in only_disabled.json["items"]] == [made[0]["id"]]


def test_bad_cursors_and_paging_past_the_end(api: Api) -> None:
    tag = secrets.token_hex(3)
    for i in range(3):
        api.new_employee(last_name=f"{tag}-{i}")
    first = api.call("GET", "/employees", query_string={"search": tag, "limit": 3}).json
    assert len(first["items"]) == 3 and first["next_cursor"] is None  # exactly at the end
    page = api.call("GET", "/employees", query_string={"search": tag, "limit": 1}).json
    cursor = page["next_cursor"]
    for bad in ("garbage!", cursor[:-4] + "AAAA", "x" * 600):
        r = api.call("GET", "/employees", query_string={"search": tag, "cursor": bad})
        assert "cursor" in _fields(_problem(r, 422, "invalid_input"))
    other_sort = api.call(
        "GET", "/employees", query_string={"search": tag, "cursor": cursor, "sort": "email"}
    )
    assert "cursor" in _fields(_problem(other_sort, 422, "invalid_input"))
    for query in ({"limit": 0}, {"limit": 501}, {"sort": "password"}, {"enabled": "maybe"}):
        _problem(api.call("GET", "/employees", query_string=query), 422, "invalid_input")


def test_sql_looking_input_is_only_text(api: Api) -> None:
    sql = "x'); DROP TABLE employees; --"
    e = api.new_employee(first_name=sql)
    assert api.call("GET", f"/employees/{e['id']}").json["first_name"] == sql
    found = api.call("GET", "/employees", query_string={"search": "' OR '1'='1"}).json
    assert found["items"] == []
    hits = api.call("GET", "/employees", query_string={"search": "DROP TABLE"}).json["items"]
    assert [h["id"] for h in hits] == [e["id"]]
    _problem(api.call("GET", "/employees/' OR 1=1 --"), 404, "employee_not_found")


def test_oversized_and_non_json_bodies_are_refused(api: Api) -> None:
    before = api.runtime.employees.count()
    huge = {"username": "big", "email": "big@example.com", "first_name": "x" * 1024 * 1024}
    _problem(api.call("POST", "/employees", json=huge), 413, "request_too_large")
    r = api.call(
        "POST", "/employees", data="username=a", content_type="application/x-www-form-urlencoded"
    )
    _problem(r, 415, "unsupported_media_type")
    r = api.call("POST", "/employees", data="{not json", content_type="application/json")
    _problem(r, 400, "invalid_request")
    r = api.call("POST", "/employees", data="[1, 2]", content_type="application/json")
    _problem(r, 422, "invalid_input")
    assert api.runtime.employees.count() == before


def test_idempotency_key_makes_a_retry_return_the_first_answer(api: Api) -> None:
    key = secrets.token_hex(8)
    body = {"username": f"idem-{key[:6]}", "email": f"idem-{key[:6]}@example.com"}
    first = api.call("POST", "/employees", json=body, headers={"Idempotency-Key": key})
    again = api.call("POST", "/employees", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert first.json == again.json and again.headers["Idempotent-Replayed"] == "true"
    other = dict(body, email="someone-else@example.com")
    _problem(
        api.call("POST", "/employees", json=other, headers={"Idempotency-Key": key}),
        422,
        "idempotency_key_reused",
    )
    # without the key, the retry is a second creation: refused as a duplicate
    _problem(api.call("POST", "/employees", json=body), 409, "conflict")
    # a refused first request keeps nothing: fixing it and retrying with its key works
    fixed = {"username": f"idem2-{key[:6]}", "email": "notanemail"}
    k2 = secrets.token_hex(8)
    _problem(
        api.call("POST", "/employees", json=fixed, headers={"Idempotency-Key": k2}),
        422,
        "invalid_input",
    )
    fixed["email"] = f"idem2-{key[:6]}@example.com"
    assert (
        api.call("POST", "/employees", json=fixed, headers={"Idempotency-Key": k2}).status_code
        == 201
    )


def test_disable_ends_sessions_and_enable_restores(api: Api) -> None:
    e = api.new_employee()
    rt = api.runtime
    ctx = rt.sessions.create(employee_id=e["id"], now=rt.now(), factors=_factor(rt.now()))
    listed = api.call("GET", f"/employees/{e['id']}/sessions").json["items"]
    assert len(listed) == 1 and ctx.session_id not in str(listed)  # a handle, not the cookie
    assert api.call("POST", f"/employees/{e['id']}/disable").json["enabled"] is False
    assert rt.sessions.get(ctx.session_id, now=rt.now()) is None
    assert api.call("POST", f"/employees/{e['id']}/enable").json["enabled"] is True
    kinds = [ev.kind for ev in rt.audit.list(employee_id=e["id"]).items]
    assert AuditKind.EMPLOYEE_DISABLED in kinds and AuditKind.EMPLOYEE_ENABLED in kinds


def test_end_one_session_then_all(api: Api) -> None:
    e = api.new_employee()
    rt = api.runtime
    a, b, c = (
        rt.sessions.create(employee_id=e["id"], now=rt.now(), factors=_factor(rt.now()))
        for _ in range(3)
    )
    handles = [s["handle"] for s in api.call("GET", f"/employees/{e['id']}/sessions").json["items"]]
    assert len(handles) == 3
    one = api.call("DELETE", f"/employees/{e['id']}/sessions/{handles[0]}")
    assert one.json == {"ended": 1}
    _problem(
        api.call("DELETE", f"/employees/{e['id']}/sessions/{handles[0]}"), 404, "session_not_found"
    )
    assert api.call("DELETE", f"/employees/{e['id']}/sessions").json == {"ended": 2}
    assert all(rt.sessions.get(s.session_id, now=rt.now()) is None for s in (a, b, c))


def test_revoke_a_passkey(api: Api) -> None:
    e = api.new_employee()
    credential = _passkey(api, e["id"])
    listed = api.call("GET", f"/employees/{e['id']}/passkeys").json["items"]
    assert [p["credential_id"] for p in listed] == [credential]
    assert "public_key" not in listed[0]
    r = api.call("DELETE", f"/employees/{e['id']}/passkeys/{credential}", role=Role.HELPDESK)
    assert r.status_code == 204
    assert api.runtime.passkeys.get(credential) is None
    event = api.runtime.audit.list(kind=AuditKind.PASSKEY_REMOVED, limit=1).items[0]
    assert event.details["credential_id"] == credential and event.actor.startswith("admin:")
    _problem(
        api.call("DELETE", f"/employees/{e['id']}/passkeys/{credential}"), 404, "passkey_not_found"
    )
    # another employee's passkey cannot be revoked through this one
    other = api.new_employee()
    theirs = _passkey(api, other["id"])
    _problem(
        api.call("DELETE", f"/employees/{e['id']}/passkeys/{theirs}"), 404, "passkey_not_found"
    )
    assert api.runtime.passkeys.get(theirs) is not None


def test_enrolment_link_and_delete(api: Api) -> None:
    e = api.new_employee()
    link = api.call("POST", f"/employees/{e['id']}/enrolment-links")
    assert link.status_code == 201
    token = link.json["url"].rsplit("/", 1)[1]
    assert api.runtime.enrolment.peek(token, now=api.runtime.now()).employee_id == e["id"]
    _passkey(api, e["id"])
    assert api.call("DELETE", f"/employees/{e['id']}").status_code == 204
    _problem(api.call("GET", f"/employees/{e['id']}"), 404, "employee_not_found")
    assert api.runtime.passkeys.list_for_employee(e["id"]) == ()
    event = api.runtime.audit.list(kind=AuditKind.EMPLOYEE_DELETED, limit=1).items[0]
    assert event.details["username"] == e["username"]


def test_an_admins_employee_record_cannot_be_deleted(api: Api) -> None:
    _, username = api.admin(Role.AUDITOR)
    employee = api.runtime.employees.get_by_username(username)
    assert employee is not None
    _problem(api.call("DELETE", f"/employees/{employee.id}"), 409, "employee_is_admin")
    assert api.runtime.employees.get(employee.id) is not None


def test_unknown_routes_and_methods_answer_problem_json(api: Api) -> None:
    _problem(api.call("GET", "/nothing-here"), 404, "not_found")
    _problem(api.call("PUT", "/employees"), 405, "method_not_allowed")


def _factor(now: dt.datetime) -> tuple[Any, ...]:
    from idp.factors.kinds import FactorKind, FactorUse

    return (
        FactorUse(
            kind=FactorKind.PASSKEY, credential_id="c", at=now, user_verified=True, amr=("hwk",)
        ),
    )


def _passkey(api: Api, employee_id: str) -> str:
    credential_id = secrets.token_urlsafe(16)
    api.runtime.passkeys.add(
        PasskeyCredential(
            credential_id=credential_id,
            employee_id=employee_id,
            public_key=b"k",
            sign_count=0,
            aaguid="0" * 36,
            transports=("usb",),
            backup_eligible=False,
            backed_up=False,
            user_verified=True,
            attestation_format="none",
            name="Key",
            created_at=api.runtime.now(),
        )
    )
    return credential_id


def test_organisation_structure(api: Api) -> None:
    name = f"Acme {secrets.token_hex(2)}"
    company = api.call("POST", "/companies", json={"name": name})
    assert company.status_code == 201
    dept = api.call(
        "POST", "/departments", json={"name": "Security", "company_id": company.json["id"]}
    )
    assert dept.status_code == 201
    listed = api.call("GET", "/departments", query_string={"company_id": company.json["id"]})
    assert [d["name"] for d in listed.json["items"]] == ["Security"]
    _problem(api.call("POST", "/companies", json={"name": name}), 409, "conflict")
    body = _problem(
        api.call("POST", "/departments", json={"name": "X", "company_id": "nope"}),
        422,
        "invalid_input",
    )
    assert _fields(body) == {"company_id"}
    _problem(api.call("POST", "/positions", json={"name": "  \t"}), 422, "invalid_input")
    assert api.call("POST", "/positions", json={"name": "Engineer", "id": "x"}).status_code == 422
    assert name in {c["name"] for c in api.call("GET", "/companies").json["items"]}


def test_another_admin_lifts_a_password_lock(api: Api) -> None:
    import datetime as dt_

    from idp.factors.password import hash_password

    e = api.new_employee(sso_mode="two_factor")
    rt = api.runtime
    rt.passwords.set(
        e["id"],
        password_hash=hash_password(password="correct horse battery", params=rt.password_params),
        now=rt.now(),
    )
    assert api.call("GET", f"/employees/{e['id']}/password").json["locked_until"] is None
    for _ in range(10):  # what ten wrong passwords at sign-in record
        rt.passwords.record_failure(
            e["id"], now=rt.now(), max_failures=10, lock_for=dt_.timedelta(minutes=15)
        )
    state = api.call("GET", f"/employees/{e['id']}/password").json
    assert state["set"] is True and state["locked_until"] is not None
    assert "hash" not in state
    lifted = api.call("POST", f"/employees/{e['id']}/password/unlock", role=Role.HELPDESK)
    assert lifted.json["unlocked"] is True and lifted.json["locked_until"] is None
    stored = rt.passwords.get(e["id"])
    assert stored is not None and not stored.locked_at(rt.now()) and stored.failed_count == 0
    again = api.call("POST", f"/employees/{e['id']}/password/unlock")
    assert again.json["unlocked"] is False
    event = rt.audit.list(kind=AuditKind.PASSWORD_UNLOCKED, limit=1).items[0]
    assert event.employee_id == e["id"] and event.actor.startswith("admin:helpdesk-")
    assert api.call("GET", f"/employees/{api.new_employee()['id']}/password").json["set"] is False

"""The console's pages under Flask's test client: sign-in gate, forms, CSRF, escaping of every
free-text field, stale edits, re-authentication before a delete, and the CSV export."""

from __future__ import annotations

import csv
import io
import re
import secrets

import pytest
from flask.testing import FlaskClient

from idp.admin.access import Role
from idp.audit import AuditKind
from idp.factors.kinds import FactorKind, FactorUse
from idp.factors.registry import PasskeyCredential
from tests.flask_idp.admin_support import Api

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'


def signed_in(api: Api, role: Role = Role.ADMIN) -> FlaskClient:
    """A browser with a live session of a new admin of ``role`` (as after a passkey sign-in)."""
    _, username = api.admin(role)
    employee = api.runtime.employees.get_by_username(username)
    assert employee is not None
    use = FactorUse(
        kind=FactorKind.PASSKEY,
        credential_id="c",
        at=api.runtime.now(),
        user_verified=True,
        amr=("hwk",),
    )
    ctx = api.runtime.sessions.create(employee_id=employee.id, now=api.runtime.now(), factor=use)
    client = api.app.test_client()
    client.set_cookie(api.runtime.config.session.cookie_name, ctx.session_id)
    return client


def csrf(client: FlaskClient) -> str:
    match = _CSRF.search(client.get("/console").get_data(as_text=True))
    assert match is not None
    return match.group(1)


def test_not_signed_in_goes_through_the_core_sign_in(api: Api) -> None:
    client = api.app.test_client()
    first = client.get("/console/employees")
    assert first.status_code == 303
    assert first.headers["Location"] == "/console/signin?next=/console/employees"
    page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert 'href="/console/signin/passkey?next=/console/employees"' in page
    assert 'id="password-form"' in page
    second = client.get("/console/signin/passkey?next=/console/employees")
    assert second.status_code == 303 and second.headers["Location"].startswith("/login?ticket=")
    login = client.get(second.headers["Location"])
    assert login.status_code == 200 and "the admin console" in login.get_data(as_text=True)
    # an open redirect through next= is not possible
    away = client.get("/console/signin/passkey?next=https://evil.example/")
    ticket = away.headers["Location"].split("=", 1)[1]
    assert api.runtime.tickets.finish(ticket) == "/console"


def test_a_signed_in_employee_without_an_admin_account_is_refused(api: Api) -> None:
    e = api.new_employee()
    use = FactorUse(
        kind=FactorKind.PASSKEY,
        credential_id="c",
        at=api.runtime.now(),
        user_verified=True,
        amr=("hwk",),
    )
    ctx = api.runtime.sessions.create(employee_id=e["id"], now=api.runtime.now(), factor=use)
    client = api.app.test_client()
    client.set_cookie(api.runtime.config.session.cookie_name, ctx.session_id)
    response = client.get("/console", headers={"Accept": "text/html"})
    assert response.status_code == 403
    assert "not an admin" in response.get_data(as_text=True)


def test_dashboard_counts_and_chart(api: Api) -> None:
    client = signed_in(api)
    html = client.get("/console").get_data(as_text=True)
    assert html.count('class="bar"') == 24 and 'role="img"' in html
    assert f'id="count-employees">{api.runtime.employees.count()}<' in html


def test_add_an_employee_through_the_form(api: Api) -> None:
    client = signed_in(api, Role.HELPDESK)
    token = csrf(client)
    before = api.runtime.employees.count()
    bad = client.post(
        "/console/employees", data={"csrf": token, "username": "Bad Name!", "email": "notanemail"}
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and 'id="username-error"' in text and 'id="email-error"' in text
    assert 'value="Bad Name!"' in text  # what was typed stays in the form
    assert api.runtime.employees.count() == before
    name = f"form-{secrets.token_hex(3)}"
    ok = client.post(
        "/console/employees",
        data={
            "csrf": token,
            "username": name,
            "email": f"{name}@example.com",
            "sso_mode": "two_factor",
        },
    )
    assert ok.status_code == 303
    shown = client.get(ok.headers["Location"]).get_data(as_text=True)
    assert name in shown and "The employee was added." in shown


@pytest.mark.parametrize(
    "path", ["/console/employees", "/console/employees/x/disable", "/console/employees/x/delete"]
)
def test_posts_without_the_csrf_token_are_refused(api: Api, path: str) -> None:
    client = signed_in(api)
    e = api.new_employee()
    real = path.replace("/x/", f"/{e['id']}/")
    for data in ({}, {"csrf": "0" * 64}):
        response = client.post(real, data={**data, "username": "csrfx", "email": "c@example.com"})
        assert response.status_code == 400 and "CSRF" in response.get_data(as_text=True)
    assert api.call("GET", f"/employees/{e['id']}").json == e
    assert api.runtime.employees.get_by_username("csrfx") is None


def test_every_free_text_field_is_rendered_escaped(api: Api) -> None:
    e = api.new_employee(first_name=XSS, last_name=XSS, external_ids={"note": XSS})
    _passkey(api, e["id"], name=XSS[:60])
    client = signed_in(api)
    for path in (
        f"/console/employees/{e['id']}",
        "/console/employees",
        "/console",
        "/console/audit",
        "/console/access",
    ):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)" not in html and "<img src=x" not in html, path
    detail = client.get(f"/console/employees/{e['id']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail


def test_a_stale_edit_is_refused_and_keeps_the_newer_values(api: Api) -> None:
    e = api.new_employee()
    client = signed_in(api)
    html = client.get(f"/console/employees/{e['id']}").get_data(as_text=True)
    etag = re.search(r'name="etag" value="([^"]+)"', html)
    assert etag is not None
    old = etag.group(1).replace("&#34;", '"')
    newer = api.call(
        "PATCH", f"/employees/{e['id']}", json={"first_name": "Newer"}, headers={"If-Match": old}
    )
    assert newer.status_code == 200
    stale = client.post(
        f"/console/employees/{e['id']}",
        data={"csrf": csrf(client), "etag": old, "email": e["email"], "first_name": "Older"},
    )
    assert stale.status_code == 412
    assert api.call("GET", f"/employees/{e['id']}").json["first_name"] == "Newer"


def test_delete_asks_for_a_recent_sign_in(api: Api) -> None:
    e = api.new_employee()
    client = signed_in(api)
    token = csrf(client)
    api.clock.advance(6 * 60)
    response = client.post(f"/console/employees/{e['id']}/delete", data={"csrf": token})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/console/signin?next=/console/employees/{e['id']}"
    assert api.runtime.employees.get(e["id"]) is not None
    api.clock.offset *= 0
    client = signed_in(api)
    done = client.post(f"/console/employees/{e['id']}/delete", data={"csrf": csrf(client)})
    assert done.status_code == 303 and api.runtime.employees.get(e["id"]) is None


def test_an_auditor_reads_but_cannot_act(api: Api) -> None:
    e = api.new_employee()
    client = signed_in(api, Role.AUDITOR)
    assert client.get(f"/console/employees/{e['id']}").status_code == 200
    response = client.post(
        f"/console/employees/{e['id']}/disable",
        data={"csrf": csrf(client)},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 403 and "auditor role may not" in response.get_data(as_text=True)
    assert api.runtime.employees.get(e["id"]).enabled  # type: ignore[union-attr]


def test_revoke_passkey_end_sessions_and_enrolment_link(api: Api) -> None:
    e = api.new_employee()
    credential = _passkey(api, e["id"], name="Laptop")
    use = FactorUse(
        kind=FactorKind.PASSKEY,
        credential_id=credential,
        at=api.runtime.now(),
        user_verified=True,
        amr=("hwk",),
    )
    session = api.runtime.sessions.create(employee_id=e["id"], now=api.runtime.now(), factor=use)
    client = signed_in(api, Role.HELPDESK)
    token = csrf(client)
    path = f"/console/employees/{e['id']}"
    assert (
        client.post(
            path + "/passkeys/revoke", data={"csrf": token, "credential_id": credential}
        ).status_code
        == 303
    )
    assert api.runtime.passkeys.get(credential) is None
    assert client.post(path + "/sessions/end", data={"csrf": token}).status_code == 303
    assert api.runtime.sessions.get(session.session_id, now=api.runtime.now()) is None
    link = client.post(path + "/enrolment-link", data={"csrf": token}).get_data(as_text=True)
    url = re.search(r'id="link" readonly value="([^"]+)"', link)
    assert url is not None
    token_part = url.group(1).rsplit("/", 1)[1]
    assert api.runtime.enrolment.peek(token_part, now=api.runtime.now()).employee_id == e["id"]


def test_audit_csv_neutralises_formulas(api: Api) -> None:
    api.new_employee(first_name='=HYPERLINK("http://evil")')
    api.runtime.audit.append_event(
        kind=AuditKind.ADMIN_CHANGE,
        at=api.runtime.now(),
        actor="=cmd|' /C calc'!A0",
        details={"x": "@SUM(1)"},
    )
    client = signed_in(api, Role.AUDITOR)
    response = client.get("/console/audit.csv")
    assert response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:3] == ["seq", "at", "event"]
    cells = [c for row in rows[1:] for c in row]
    assert "'=cmd|' /C calc'!A0" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)


def test_bad_query_parameters_are_clear(api: Api) -> None:
    client = signed_in(api)
    response = client.get("/console/employees?sort=password", headers={"Accept": "text/html"})
    assert response.status_code == 422 and "sort" in response.get_data(as_text=True)
    response = client.get("/console/audit?kind=nope", headers={"Accept": "text/html"})
    assert response.status_code == 422


def _passkey(api: Api, employee_id: str, *, name: str) -> str:
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
            name=name,
            created_at=api.runtime.now(),
        )
    )
    return credential_id


def test_the_console_shows_and_lifts_a_password_lock(api: Api) -> None:
    import datetime as dt

    from idp.factors.password import hash_password

    e = api.new_employee(sso_mode="two_factor")
    rt = api.runtime
    rt.passwords.set(
        e["id"],
        password_hash=hash_password(password="correct horse battery", params=rt.password_params),
        now=rt.now(),
    )
    client = signed_in(api, Role.HELPDESK)
    page = client.get(f"/console/employees/{e['id']}").get_data(as_text=True)
    assert 'id="password-state"' in page and 'id="unlock"' not in page
    for _ in range(10):
        rt.passwords.record_failure(
            e["id"], now=rt.now(), max_failures=10, lock_for=dt.timedelta(minutes=15)
        )
    page = client.get(f"/console/employees/{e['id']}").get_data(as_text=True)
    assert "<strong>Locked</strong>" in page and 'id="unlock"' in page
    done = client.post(f"/console/employees/{e['id']}/password/unlock", data={"csrf": csrf(client)})
    assert done.status_code == 303 and done.headers["Location"].endswith("?done=unlocked")
    assert not rt.passwords.get(e["id"]).locked_at(rt.now())  # type: ignore[union-attr]

"""The console's workstation, alarm and authenticator-app pages under Flask's test client:
escaping, CSRF, status changes, settings refused beside their field, the alarm lift behind a
fresh sign-in, and an employee's app and TOTP."""

from __future__ import annotations

import html
import secrets

from idp.admin.access import Role
from idp.factors.authenticator.model import Device, DeviceStatus, TotpCredential
from idp.workstations.model import WorkstationInfo
from idp.workstations.registry import WorkstationRepository
from tests.flask_idp.admin_support import Api
from tests.flask_idp.console.test_console_pages import XSS, csrf, signed_in

_B32 = "abcdefghijklmnopqrstuvwxyz234567"


def register(api: Api, name: str) -> str:
    ws = "ws-" + "".join(secrets.choice(_B32) for _ in range(32))
    WorkstationRepository(api.runtime.db).register(
        workstation_id=ws, public_key="k",
        info=WorkstationInfo(name, "CORP", "Windows 11", "10.0.0.7", "1.0"), now=api.runtime.now(),
    )  # fmt: skip
    return ws


def test_workstation_pages_and_actions(api: Api) -> None:
    ws = register(api, XSS)
    client = signed_in(api, Role.HELPDESK)
    token = csrf(client)
    listing = client.get("/console/workstations?status=pending").get_data(as_text=True)
    assert f'href="/console/workstations/{ws}"' in listing
    assert "<script>alert(1)" not in listing and "&lt;script&gt;" in listing
    no_csrf = client.post(f"/console/workstations/{ws}/approve")
    assert no_csrf.status_code == 400
    approved = client.post(f"/console/workstations/{ws}/approve", data={"csrf": token})
    assert approved.status_code == 303 and approved.headers["Location"].endswith("done=ws_status")
    page = client.get(f"/console/workstations/{ws}").get_data(as_text=True)
    assert 'id="ws-status">approved' in page and 'id="settings"' in page
    etag = html.unescape(page.split('name="etag" value="', 1)[1].split('"', 1)[0])
    bad = client.post(f"/console/workstations/{ws}/settings", data={
        "csrf": token, "etag": etag, "lock_proximity": "30", "unlock_proximity": "200",
        "lock_timeout": "x"})  # fmt: skip
    assert bad.status_code == 422
    assert 'id="unlock_proximity-error"' in bad.get_data(as_text=True)
    saved = client.post(f"/console/workstations/{ws}/settings", data={
        "csrf": token, "etag": etag, "lock_proximity": "20", "unlock_proximity": "80",
        "lock_timeout": "7"})  # fmt: skip
    assert saved.status_code == 303
    stale = client.post(f"/console/workstations/{ws}/settings", data={
        "csrf": token, "etag": etag, "lock_proximity": "20", "unlock_proximity": "80",
        "lock_timeout": "9"})  # fmt: skip
    assert stale.status_code == 412  # someone (we) changed it since that page was loaded
    assert client.post(f"/console/workstations/{ws}/lock", data={"csrf": token}).status_code == 303
    auditor = signed_in(api, Role.AUDITOR)
    refused = auditor.post(f"/console/workstations/{ws}/remove", data={"csrf": csrf(auditor)})
    assert refused.status_code == 403
    assert client.get("/console/workstations/ws-nope").status_code == 404


def test_the_alarm_lift_needs_an_admin_signed_in_moments_ago(api: Api) -> None:
    helpdesk = signed_in(api, Role.HELPDESK)
    raised = helpdesk.post("/console/alarm/on", data={"csrf": csrf(helpdesk)})
    assert raised.status_code == 303
    page = helpdesk.get("/console/alarm").get_data(as_text=True)
    assert "The alarm is <strong>ON</strong>" in page and 'id="alarm-off"' in page
    assert helpdesk.post("/console/alarm/off", data={"csrf": csrf(helpdesk)}).status_code == 403
    admin = signed_in(api, Role.ADMIN)
    token = csrf(admin)
    api.clock.advance(6 * 60)
    stale = admin.post("/console/alarm/off", data={"csrf": token})
    assert stale.status_code == 303
    assert stale.headers["Location"] == "/console/signin?next=/console/alarm"
    fresh = signed_in(api, Role.ADMIN)
    lifted = fresh.post("/console/alarm/off", data={"csrf": csrf(fresh)})
    assert lifted.status_code == 303 and lifted.headers["Location"].endswith("done=alarm_off")
    assert "The alarm is <strong>off</strong>" in fresh.get("/console/alarm").get_data(as_text=True)


def test_an_employees_app_and_totp_on_their_page(api: Api) -> None:
    e = api.new_employee()
    now = api.runtime.now()
    api.runtime.authenticator.devices.replace_for_employee(
        Device(
            device_id="dev-c" + e["id"],
            employee_id=e["id"],
            public_key=b"k",
            display_name=XSS,
            platform="ios",
            status=DeviceStatus.ACTIVE,
            created_at=now,
        )
    )
    api.runtime.authenticator.totp.put(TotpCredential(
        employee_id=e["id"], secret_encrypted=b"s", algorithm="SHA1", digits=6, period=30,
        created_at=now, confirmed=True))  # fmt: skip
    client = signed_in(api, Role.HELPDESK)
    token, one = csrf(client), f"/console/employees/{e['id']}"
    page = client.get(one).get_data(as_text=True)
    assert "&lt;script&gt;" in page and 'id="app-disable"' in page and 'id="totp-remove"' in page
    done = client.post(f"{one}/app/disable", data={"csrf": token})
    assert done.headers["Location"].endswith("done=app_disabled")
    assert 'id="app-enable"' in client.get(one).get_data(as_text=True)
    assert client.post(f"{one}/app/remove", data={"csrf": token}).status_code == 303
    assert client.post(f"{one}/totp/remove", data={"csrf": token}).status_code == 303
    page = client.get(one).get_data(as_text=True)
    assert "No authenticator app." in page and "No one-time codes (TOTP)." in page
    assert client.post(f"{one}/totp/remove", data={"csrf": token}).status_code == 404


def test_the_organisation_page(api: Api) -> None:
    client = signed_in(api, Role.ADMIN)
    token = csrf(client)
    company = f"Acme {secrets.token_hex(2)}"
    added = client.post("/console/organisation/company", data={"csrf": token, "name": company})
    assert added.status_code == 303 and added.headers["Location"].endswith("done=added")
    page = client.get("/console/organisation").get_data(as_text=True)
    company_id = page.split(f'">{company}</option>', 1)[0].rsplit('value="', 1)[1]
    unit = client.post("/console/organisation/department",
                       data={"csrf": token, "name": XSS, "company_id": company_id})  # fmt: skip
    assert unit.status_code == 303
    page = client.get("/console/organisation").get_data(as_text=True)
    assert "&lt;script&gt;" in page and "<script>alert(1)" not in page
    blank = client.post("/console/organisation/position", data={"csrf": token, "name": "  "})
    assert blank.status_code == 422 and 'id="position-name-error"' in blank.get_data(as_text=True)
    orphan = client.post("/console/organisation/department",
                         data={"csrf": token, "name": "Ops", "company_id": "nope"})  # fmt: skip
    assert orphan.status_code == 422 and "no company" in orphan.get_data(as_text=True)
    helpdesk = signed_in(api, Role.HELPDESK)
    listing = helpdesk.get("/console/organisation").get_data(as_text=True)
    assert company in listing and 'id="add-company"' not in listing
    refused = helpdesk.post("/console/organisation/company",
                            data={"csrf": csrf(helpdesk), "name": "Mine"})  # fmt: skip
    assert refused.status_code == 403


def test_the_directory_sync_page(api: Api) -> None:
    from idp.audit import AuditKind, Outcome

    source = f"ad-{secrets.token_hex(2)}"
    for _ in range(26):
        api.runtime.audit.append_event(
            kind=AuditKind.DIRECTORY_SYNC, at=api.runtime.now(), actor=f"directory:{source}",
            outcome=Outcome.SUCCESS, details={"mode": "incremental", "read": "3",
                                              "unchanged": "2", "updated": "1"},
        )  # fmt: skip
    client = signed_in(api, Role.AUDITOR)
    page = client.get(f"/console/sync?source={source}").get_data(as_text=True)
    assert page.count(f"<td>{source}</td>") == 25 and "updated 1" in page
    assert 'id="next-page"' in page and "No directory is configured" in page
    older = page.split('id="next-page" href="', 1)[1].split('"', 1)[0]
    rest = client.get(html.unescape(older)).get_data(as_text=True)
    assert rest.count(f"<td>{source}</td>") == 1
    assert client.get("/console/sync?cursor=garbage").status_code == 422

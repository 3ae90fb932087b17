"""``/api/v1/employees/{id}/factors``, ``…/app`` and ``…/totp``: an employee's app and TOTP
through the API — shown without secrets, disabled, enabled, removed, audited."""

from __future__ import annotations

from idp.admin.access import Role
from idp.audit import AuditKind
from idp.factors.authenticator.model import Device, DeviceStatus, TotpCredential
from tests.flask_idp.admin_support import Api


def test_app_and_totp_through_the_api(api: Api) -> None:
    e = api.new_employee()
    one = f"/employees/{e['id']}"
    empty = api.call("GET", f"{one}/factors", role=Role.AUDITOR)
    assert empty.status_code == 200 and empty.json == {"app": None, "totp_enrolled": False}
    missing = api.call("POST", f"{one}/app/disable")
    assert missing.status_code == 404 and "no authenticator app" in missing.json["detail"]
    auth, now = api.runtime.authenticator, api.runtime.now()
    auth.devices.replace_for_employee(
        Device(
            device_id="dev-1" + e["id"],
            employee_id=e["id"],
            public_key=b"k",
            display_name="<b>Pixel</b>",
            platform="android",
            status=DeviceStatus.ACTIVE,
            created_at=now,
            push_provider="fcm",
            push_token="secret-token",
        )
    )
    auth.totp.put(TotpCredential(employee_id=e["id"], secret_encrypted=b"sealed", algorithm="SHA1",
                                 digits=6, period=30, created_at=now, confirmed=True))  # fmt: skip
    shown = api.call("GET", f"{one}/factors").json
    assert shown["totp_enrolled"] is True and shown["app"]["push"] == "fcm"
    assert "secret-token" not in str(shown) and "sealed" not in str(shown)
    disabled = api.call("POST", f"{one}/app/disable", role=Role.HELPDESK)
    assert disabled.status_code == 200 and disabled.json["status"] == "disabled"
    assert api.call("POST", f"{one}/app/enable").json["status"] == "active"
    assert api.call("POST", f"{one}/app/enable", role=Role.AUDITOR).status_code == 403
    assert api.call("DELETE", f"{one}/app").status_code == 204
    assert api.call("DELETE", f"{one}/totp").status_code == 204
    again = api.call("DELETE", f"{one}/totp")
    assert again.status_code == 404 and "no one-time code" in again.json["detail"]
    assert api.call("GET", f"{one}/factors").json == {"app": None, "totp_enrolled": False}
    assert api.call("GET", "/employees/nobody/factors").status_code == 404
    kinds = [ev.kind for ev in api.runtime.audit.list(employee_id=e["id"], limit=4).items]
    assert kinds[:2] == [AuditKind.FACTOR_REMOVED, AuditKind.FACTOR_REMOVED]

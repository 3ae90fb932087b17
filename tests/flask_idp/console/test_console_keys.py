"""The console's key pages under Flask's test client: import, assign with the code shown once
(never in a URL), suspend, compromise behind a fresh sign-in, profiles, shared accounts and
templates, the employee's key section, the dashboard, CSRF, escaping, and helpdesk without
secrets fields."""

from __future__ import annotations

import secrets

import pytest

from idp.admin.access import Role
from idp.vault.service import build_vault_service
from tests.flask_idp.admin_support import Api, admin_app
from tests.flask_idp.console.test_console_pages import XSS, csrf, signed_in


def _serial() -> str:
    return "CK" + secrets.token_hex(5).upper()


def _etag(page: str) -> str:
    return page.split('name="etag" value="', 1)[1].split('"', 1)[0].replace("&#34;", '"')


def _import(client: object, token: str, serial: str) -> None:
    tail = serial[2:]
    mac = "CC:" + ":".join(tail[i : i + 2] for i in range(0, 10, 2))
    r = client.post(  # type: ignore[attr-defined]
        "/console/keys", data={"csrf": token, "keys": f"{serial},{mac},{XSS},4.0\n"}
    )
    assert r.status_code == 303 and r.headers["Location"].endswith("done=keys_imported")


def test_assign_suspend_and_compromise(api: Api) -> None:
    client = signed_in(api, Role.HELPDESK)
    token, serial = csrf(client), _serial()
    _import(client, token, serial)
    listing = client.get("/console/keys?status=ready").get_data(as_text=True)
    assert f'href="/console/keys/{serial}"' in listing
    assert "<script>alert(1)" not in listing and "&lt;script&gt;" in listing
    employee = api.new_employee(first_name=XSS)
    unknown = client.post(
        f"/console/keys/{serial}/assign", data={"csrf": token, "username": "nobody-here"}
    )
    assert unknown.status_code == 422 and "no employee with username" in unknown.get_data(
        as_text=True
    )
    assigned = client.post(
        f"/console/keys/{serial}/assign", data={"csrf": token, "username": employee["username"]}
    )
    assert assigned.status_code == 200 and assigned.headers["Cache-Control"] == "no-store"
    page = assigned.get_data(as_text=True)
    code = page.split('id="activation-code" readonly value="', 1)[1][:6]
    assert code.isdigit()
    detail = client.get(f"/console/keys/{serial}").get_data(as_text=True)
    assert code not in detail and 'id="key-status">reserved' in detail
    assert employee["username"] in detail
    owner = client.get(f"/console/employees/{employee['id']}").get_data(as_text=True)
    assert f'href="/console/keys/{serial}"' in owner and "reserved" in owner
    searched = client.get(f"/console/keys?q={employee['username'].upper()}").get_data(as_text=True)
    assert f'href="/console/keys/{serial}"' in searched
    assert f'value="{employee["username"].upper()}"' in searched  # kept in the filter form
    nothing = client.get("/console/keys?q=%3Cscript%3Enobody").get_data(as_text=True)
    assert "No keys match." in nothing and "<script>nobody" not in nothing

    driver = build_vault_service(api.runtime)
    driver.check_activation_code(serial=serial, code=code)
    driver.linked(serial=serial)
    suspended = client.post(f"/console/keys/{serial}/suspend", data={"csrf": token})
    assert suspended.status_code == 200 and 'id="activation-code"' in suspended.get_data(
        as_text=True
    )
    admin = signed_in(api, Role.ADMIN)
    admin_token = csrf(admin)
    api.clock.advance(6 * 60)
    stale = admin.post(f"/console/keys/{serial}/compromise", data={"csrf": admin_token})
    assert stale.status_code == 303
    assert stale.headers["Location"] == f"/console/signin?next=/console/keys/{serial}"
    assert 'id="key-status">suspended' in admin.get(f"/console/keys/{serial}").get_data(
        as_text=True
    )
    fresh = signed_in(api, Role.ADMIN)
    done = fresh.post(f"/console/keys/{serial}/compromise", data={"csrf": csrf(fresh)})
    assert done.status_code == 303 and done.headers["Location"].endswith("done=key_compromised")
    assert 'id="key-status">compromised' in fresh.get(f"/console/keys/{serial}").get_data(
        as_text=True
    )


@pytest.mark.parametrize(
    "path",
    [
        "/console/keys",
        "/console/key-profiles",
        "/console/shared-accounts",
        "/console/key-templates",
    ],
)
def test_posts_without_the_csrf_token_are_refused(api: Api, path: str) -> None:
    client = signed_in(api, Role.ADMIN)
    assert client.post(path, data={"name": "x", "keys": "a,b,c,d"}).status_code == 400


def test_an_auditor_reads_the_key_pages_without_forms(api: Api) -> None:
    auditor = signed_in(api, Role.AUDITOR)
    for path in ("/console/keys", "/console/key-profiles", "/console/key-templates"):
        page = auditor.get(path).get_data(as_text=True)
        assert 'method="post" action="/console/k' not in page, path
    refused = auditor.post("/console/keys", data={"csrf": csrf(auditor), "keys": "a,b,c,d"})
    assert refused.status_code == 403


def test_profiles_templates_and_shared_accounts(api: Api) -> None:
    admin = signed_in(api, Role.ADMIN)
    token = csrf(admin)
    made = admin.post("/console/key-profiles", data={
        "csrf": token, "name": XSS, "pairing_button": "on", "connection_pin": "on",
        "pin_length": "6", "pin_expiry_hours": "8", "pin_attempts": "5"})  # fmt: skip
    assert made.status_code == 303
    profile = made.headers["Location"].split("?")[0]
    page = admin.get(profile).get_data(as_text=True)
    assert "&lt;script&gt;" in page and "<script>alert(1)" not in page
    bad = admin.post(
        profile, data={"csrf": token, "etag": '"stale"', "name": "P", "pin_length": "9"}
    )
    assert bad.status_code == 422 and 'id="form-errors"' in bad.get_data(as_text=True)
    stale = admin.post(profile, data={"csrf": token, "etag": '"stale"', "name": "P"})
    assert stale.status_code == 412
    listing = admin.get("/console/key-profiles").get_data(as_text=True)
    assert "(default)" in listing
    default = admin.post("/console/key-profiles/default/delete", data={"csrf": token})
    assert default.status_code == 409

    template = admin.post("/console/key-templates", data={
        "csrf": token, "name": f"T {XSS}", "urls": "github.com\n", "apps": ""})  # fmt: skip
    assert template.status_code == 303
    assert "https://github.com" in admin.get("/console/key-templates").get_data(as_text=True)

    listing = admin.get("/console/key-templates").get_data(as_text=True)
    link = listing.split('<a href="/console/key-templates/', 1)[1].split('"', 1)[0]
    edit = f"/console/key-templates/{link}"
    form = admin.get(edit).get_data(as_text=True)
    assert "&lt;script&gt;" in form and "<script>alert(1)" not in form
    saved = admin.post(edit, data={"csrf": token, "etag": _etag(form), "name": "GitHub",
                                   "urls": "", "apps": "GitHub Desktop"})  # fmt: skip
    assert saved.status_code == 303 and saved.headers["Location"].endswith("done=saved")
    shown = admin.get(edit).get_data(as_text=True)
    assert "GitHub Desktop" in shown and "https://github.com" not in shown
    stale = admin.post(edit, data={"csrf": token, "etag": _etag(form), "name": "X", "apps": "X"})
    assert stale.status_code == 412 and 'id="form-errors"' in stale.get_data(as_text=True)
    empty = admin.post(edit, data={"csrf": token, "etag": _etag(shown), "name": "GitHub"})
    assert empty.status_code == 400 and "at least one URL or app" in empty.get_data(as_text=True)
    assert admin.post(edit, data={"name": "Y"}).status_code == 400  # no CSRF token

    employee = api.new_employee()
    shared = admin.post("/console/shared-accounts", data={
        "csrf": token, "name": XSS, "login": "ops", "login_type": "webapp",
        "password": "pw-123456"})  # fmt: skip
    assert shared.status_code == 303
    one = shared.headers["Location"].split("?")[0]
    assert admin.post(f"{one}/holders", data={
        "csrf": token, "username": employee["username"]}).status_code == 303  # fmt: skip
    page = admin.get(one).get_data(as_text=True)
    assert employee["username"] in page and "&lt;script&gt;" in page and "pw-123456" not in page
    saved = admin.post(one, data={"csrf": token, "etag": _etag(page), "login": "ops2"})
    assert saved.status_code == 200 and 'id="queued"' in saved.get_data(as_text=True)


def test_helpdesk_adds_accounts_without_secret_fields(api: Api) -> None:
    helpdesk = signed_in(api, Role.HELPDESK)
    token = csrf(helpdesk)
    employee = api.new_employee()
    one = f"/console/employees/{employee['id']}"
    page = helpdesk.get(one).get_data(as_text=True)
    assert 'id="add-key-account"' in page and 'name="password"' not in page
    assert "No key." in page
    shared = helpdesk.get("/console/shared-accounts").get_data(as_text=True)
    assert 'id="add-shared"' not in shared
    refused = helpdesk.post(f"{one}/key-accounts", data={
        "csrf": token, "name": "VPN", "login": "x", "password": "p"})  # fmt: skip
    assert refused.status_code == 403
    added = helpdesk.post(f"{one}/key-accounts", data={
        "csrf": token, "name": XSS, "login": "CORP\\ann", "login_type": "domain",
        "skip_password": "on"})  # fmt: skip
    assert added.status_code == 303
    page = helpdesk.get(one).get_data(as_text=True)
    assert "CORP\\ann" in page and "&lt;script&gt;" in page and "<script>alert(1)" not in page
    missing = helpdesk.post(f"{one}/key-accounts", data={"csrf": token, "name": "No login"})
    assert missing.status_code in (400, 422)
    assert 'id="key-account-errors"' in missing.get_data(as_text=True)


def test_the_dashboard_lists_keys_needing_attention(api: Api) -> None:
    admin = signed_in(api, Role.ADMIN)
    token, serial = csrf(admin), _serial()
    _import(admin, token, serial)
    employee = api.new_employee()
    admin.post(
        f"/console/keys/{serial}/assign", data={"csrf": token, "username": employee["username"]}
    )
    driver = build_vault_service(api.runtime)
    for _ in range(3):
        with pytest.raises(Exception, match="wrong activation code"):
            driver.check_activation_code(serial=serial, code="x")
    board = admin.get("/console").get_data(as_text=True)
    assert 'id="keys-attention"' in board and f'href="/console/keys/{serial}"' in board


def test_with_the_secrets_locked_the_pages_say_so(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The dashboard and an employee's page still open and say why keys are missing; the
    key pages answer 503 with the reason (nothing is read)."""
    made = admin_app(tmp_path_factory)
    locked = next(made)
    try:
        client = signed_in(locked, Role.ADMIN)
        employee = locked.new_employee()
        locked.runtime.secrets.lock()
        board = client.get("/console")
        assert board.status_code == 200
        assert 'id="attention-locked"' in board.get_data(as_text=True)
        page = client.get(f"/console/employees/{employee['id']}").get_data(as_text=True)
        assert 'id="key-locked"' in page and "unlock the server&#39;s secrets first" in page
        refused = client.get("/console/keys")
        assert refused.status_code == 503
        assert "unlock the server&#39;s secrets first" in refused.get_data(as_text=True)
    finally:
        next(made, None)

"""The console's key account backup page: download, restore with the report (escaped), a
wrong passphrase shown beside nothing imported, CSRF, and helpdesk kept away."""

from __future__ import annotations

import io

from idp.admin.access import CLI, Role
from idp.admin.backup import RESTORE_CLAIM
from idp.vault.model import AccountInput
from idp.vault.service import build_vault_service
from tests.flask_idp.admin_support import Api
from tests.flask_idp.console.test_console_pages import XSS, csrf, signed_in

PASS = "console backup passphrase"


def test_download_and_restore_from_the_console(api: Api) -> None:
    alice, bob = api.new_employee(), api.new_employee()
    vault = build_vault_service(api.runtime)
    data = AccountInput(name=XSS, login="dev", urls=("https://x.example",), password="pw-x")
    vault.add_account(actor=CLI, employee_id=alice["id"], data=data)
    client = signed_in(api, Role.ADMIN)
    token = csrf(client)
    shown = client.get(f"/console/employees/{alice['id']}").get_data(as_text=True)
    assert f'href="/console/employees/{alice["id"]}/key-backup"' in shown
    base = f"/console/employees/{alice['id']}/key-backup"
    assert client.post(f"{base}/export", data={"passphrase": PASS}).status_code == 400  # no CSRF
    short = client.post(f"{base}/export", data={"csrf": token, "passphrase": "short"})
    assert short.status_code == 422 and 'id="passphrase-error"' in short.get_data(as_text=True)
    made = client.post(f"{base}/export", data={"csrf": token, "passphrase": PASS})
    assert made.status_code == 200 and made.data.startswith(b"HIDKBAK\n")
    assert made.headers["Content-Disposition"].startswith("attachment;")

    target = f"/console/employees/{bob['id']}/key-backup/restore"

    def restore(passphrase: str) -> str:
        form = {"csrf": token, "passphrase": passphrase, "on_conflict": "skip",
                "backup": (io.BytesIO(made.data), "a.hkbak")}  # fmt: skip
        answer = client.post(target, data=form, content_type="multipart/form-data")
        return f"{answer.status_code} {answer.get_data(as_text=True)}"

    wrong = restore("not the passphrase at all")
    assert wrong.startswith("400") and "passphrase does not open this backup" in wrong
    assert vault.list_accounts(employee_id=bob["id"]) == ()
    claim = RESTORE_CLAIM + bob["id"]  # another admin's restore onto bob, on another instance
    api.runtime.ephemeral.put(claim, b'{"by": "admin:carol", "at": "09:30"}', ttl=60)
    try:
        busy = restore(PASS)
    finally:
        api.runtime.ephemeral.delete(claim)
    assert busy.startswith("409") and "is running (started by carol at 09:30)" in busy
    assert vault.list_accounts(employee_id=bob["id"]) == ()
    done = restore(PASS)
    assert done.startswith("200") and "1 added, 0 replaced, 0 skipped" in done
    assert "<script>alert(1)" not in done and "&lt;script&gt;" in done
    assert [a.login for a in vault.list_accounts(employee_id=bob["id"])] == ["dev"]


def test_helpdesk_sees_no_backup(api: Api) -> None:
    employee = api.new_employee()
    helpdesk = signed_in(api, Role.HELPDESK)
    shown = helpdesk.get(f"/console/employees/{employee['id']}").get_data(as_text=True)
    assert "key-backup" not in shown
    base = f"/console/employees/{employee['id']}/key-backup"
    assert helpdesk.get(base).status_code == 403
    refused = helpdesk.post(f"{base}/export", data={"csrf": csrf(helpdesk), "passphrase": PASS})
    assert refused.status_code == 403

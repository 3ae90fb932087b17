"""``POST /employees/{id}/key-accounts/backup`` (a download) and ``…/restore`` (a multipart
upload with a size limit): a round trip onto another employee with its conflict report, and
the refusals — wrong passphrase, a damaged or oversized file, helpdesk — importing nothing."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from idp.admin.access import CLI, Role
from idp.admin.backup import RESTORE_CLAIM
from idp.vault.backup import MAX_BACKUP_BYTES
from idp.vault.model import AccountInput
from idp.vault.service import build_vault_service
from tests.flask_idp.admin_support import Api

PASS = "a long backup passphrase"


def _with_accounts(api: Api) -> dict[str, Any]:
    employee = api.new_employee()
    vault = build_vault_service(api.runtime)
    for name in ("GitHub", "GitLab"):
        data = AccountInput(name=name, login="dev", urls=(f"https://{name.lower()}.com",),
                            password=f"{name}-pw")  # fmt: skip
        vault.add_account(actor=CLI, employee_id=employee["id"], data=data)
    return employee


def _export(api: Api, employee_id: str, role: Role = Role.ADMIN) -> Any:
    return api.call("POST", f"/employees/{employee_id}/key-accounts/backup", role=role,
                    json={"passphrase": PASS})  # fmt: skip


def _restore(api: Api, employee_id: str, blob: bytes, **fields: str) -> Any:
    form: dict[str, Any] = {"passphrase": PASS, "on_conflict": "skip", **fields}
    form["backup"] = (io.BytesIO(blob), "backup.hkbak")
    return api.call("POST", f"/employees/{employee_id}/key-accounts/restore", data=form,
                    content_type="multipart/form-data")  # fmt: skip


def _logins(api: Api, employee_id: str) -> list[str]:
    found = build_vault_service(api.runtime).list_accounts(employee_id=employee_id)
    return sorted(a.name for a in found)


def test_download_then_restore_with_a_conflict_report(api: Api) -> None:
    alice = _with_accounts(api)
    r = _export(api, alice["id"])
    assert r.status_code == 200 and r.mimetype == "application/vnd.hideez-idp.key-backup"
    assert r.headers["Content-Disposition"].startswith(f'attachment; filename="{alice["username"]}')
    assert b"GitHub-pw" not in r.data and r.headers["Cache-Control"] == "no-store"
    audited = api.runtime.audit.list(employee_id=alice["id"], limit=5).items
    assert any(e.details.get("action") == "key_accounts_exported" and e.actor.startswith("admin:")
               for e in audited)  # fmt: skip

    bob = api.new_employee()
    first = _restore(api, bob["id"], r.data)
    assert first.status_code == 200, first.json
    assert first.json["backup_of"] == alice["username"] and first.json["added"] == 2
    assert _logins(api, bob["id"]) == ["GitHub", "GitLab"]
    again = _restore(api, bob["id"], r.data, on_conflict="replace")
    assert (again.json["replaced"], again.json["added"], again.json["skipped"]) == (2, 0, 0)
    assert [a["action"] for a in again.json["accounts"]] == ["replaced", "replaced"]
    assert {a["url"] for a in again.json["accounts"]} == {
        "https://github.com",
        "https://gitlab.com",
    }
    assert _logins(api, bob["id"]) == ["GitHub", "GitLab"]


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ("passphrase", 400, "wrong_backup_passphrase"),
        ("truncate", 400, "truncated_backup"),
        ("tamper", 400, "tampered_backup"),
        ("version", 400, "unsupported_backup_version"),
        ("junk", 400, "not_a_backup"),
        ("oversize", 413, "request_too_large"),
    ],
)
def test_a_bad_upload_imports_nothing(api: Api, change: str, status: int, error: str) -> None:
    blob = _export(api, _with_accounts(api)["id"]).data
    fields: dict[str, str] = {}
    if change == "passphrase":
        fields["passphrase"] = "not the passphrase"
    blob = {
        "truncate": blob[:70], "tamper": blob[:-3] + bytes([blob[-3] ^ 1]) + blob[-2:],
        "version": blob[:8] + b"\x07" + blob[9:], "junk": b"not a backup",
        "oversize": blob + b"\0" * (MAX_BACKUP_BYTES + 20_000),
    }.get(change, blob)  # fmt: skip
    target = api.new_employee()
    r = _restore(api, target["id"], blob, **fields)
    assert r.status_code == status, r.json
    assert r.mimetype == "application/problem+json" and r.json["error"] == error
    assert _logins(api, target["id"]) == []


def test_bad_forms_are_clear_problems(api: Api) -> None:
    target = api.new_employee()
    blob = _export(api, _with_accounts(api)["id"]).data
    r = _restore(api, target["id"], blob, on_conflict="merge")
    assert r.status_code == 422 and r.json["errors"][0]["field"] == "on_conflict"
    path = f"/employees/{target['id']}/key-accounts/restore"
    r = api.call("POST", path, data={"passphrase": PASS, "on_conflict": "skip"},
                 content_type="multipart/form-data")  # fmt: skip
    assert r.status_code == 400 and "no file part named 'backup'" in r.json["detail"]
    r = api.call("POST", path, data=blob, content_type="application/octet-stream")
    assert r.status_code == 415 and "multipart/form-data" in r.json["detail"]
    short = api.call("POST", f"/employees/{target['id']}/key-accounts/backup",
                     json={"passphrase": "short"})  # fmt: skip
    assert short.status_code == 422 and short.json["errors"][0]["field"] == "passphrase"
    assert _export(api, "0" * 16).status_code == 404


def test_helpdesk_and_auditors_never_get_the_secrets(api: Api) -> None:
    alice = _with_accounts(api)
    for role in (Role.HELPDESK, Role.AUDITOR):
        r = _export(api, alice["id"], role=role)
        assert r.status_code == 403 and "needs 'secrets'" in r.json["detail"]


def test_a_restore_while_another_runs_is_a_409_naming_it(api: Api) -> None:
    alice, bob = _with_accounts(api), api.new_employee()
    blob = _export(api, alice["id"]).data
    running = json.dumps({"by": "admin:carol", "at": "2026-12-02T09:30:00+00:00",
                          "claim": "elsewhere"}).encode()  # fmt: skip
    claim = RESTORE_CLAIM + bob["id"]
    api.runtime.ephemeral.put(claim, running, ttl=60)  # another instance is restoring onto bob
    try:
        r = _restore(api, bob["id"], blob)
        assert r.status_code == 409 and r.mimetype == "application/problem+json"
        assert r.json["error"] == "key_restore_in_progress"
        assert "started by carol at 2026-12-02T09:30:00+00:00" in r.json["detail"]
        assert _logins(api, bob["id"]) == []  # nothing imported
        assert api.runtime.ephemeral.get(claim) == running  # the other's claim is left alone
    finally:
        api.runtime.ephemeral.delete(claim)
    assert _restore(api, bob["id"], blob).json["added"] == 2
    assert api.runtime.ephemeral.get(claim) is None

"""A server whose secrets are locked refuses every vault operation, before it reads or
changes anything, with one clear error; the table covers every public method."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from sqlalchemy import select

from idp.directory.passwords import PasswordChanged
from idp.store.sql import Database
from idp.vault.account_backup import OnConflict
from idp.vault.errors import VaultSecretsLocked
from idp.vault.model import AccessProfile, AccountInput, Reported
from idp.vault.service import VaultService
from idp.vault.states import VaultReason, VaultStatus
from idp.vault.tables import HardwareVaultRow
from idp.vault.unlock import UnlockPlan
from tests.idp.vault.conftest import ADMIN, KEYS, START, Vaults

SERIAL = KEYS[0].serial
CALLS: dict[str, dict[str, Any]] = {
    "connection_plan": {"serial": SERIAL, "reported": Reported(linked=False, locked=False)},
    "check_activation_code": {"serial": SERIAL, "code": "000000"},
    "linked": {"serial": SERIAL},
    "key_locked": {"serial": SERIAL},
    "wiped": {"serial": SERIAL},
    "seen": {"serial": SERIAL, "battery": 50, "firmware": "1"},
    "pending_tasks": {"serial": SERIAL},
    "task_done": {"serial": SERIAL, "task_id": 1},
    "user_password": {"serial": SERIAL, "account_id": "a", "password": "p"},
    "passwords_wanted": {"serial": SERIAL},
    "unlock_plan": {"serial": SERIAL, "workstation_id": "ws-a"},
    "credentials_read": {
        "plan": UnlockPlan(SERIAL, bytes(32), "a", "CORP\\alice", "e", "alice", pin=False),
        "workstation_id": "ws-a",
    },
    "import_keys": {"actor": ADMIN, "keys": KEYS},
    "list_keys": {},
    "show_key": {"serial": SERIAL},
    "key_tasks": {"serial": SERIAL},
    "assign": {"actor": ADMIN, "serial": SERIAL, "employee_id": "e"},
    "activation_code": {"actor": ADMIN, "serial": SERIAL},
    "cancel": {"actor": ADMIN, "serial": SERIAL},
    "suspend": {"actor": ADMIN, "serial": SERIAL},
    "deactivate": {"actor": ADMIN, "serial": SERIAL, "reason": VaultReason.LOST},
    "compromise": {"actor": ADMIN, "serial": SERIAL},
    "set_profile": {"actor": ADMIN, "serial": SERIAL, "profile_id": "default"},
    "list_profiles": {},
    "save_profile": {"actor": ADMIN, "profile": AccessProfile("", "p"), "create": True},
    "delete_profile": {"actor": ADMIN, "profile_id": "x"},
    "add_account": {"actor": ADMIN, "employee_id": "e", "data": AccountInput()},
    "edit_account": {"actor": ADMIN, "account_id": "a", "data": AccountInput()},
    "delete_account": {"actor": ADMIN, "account_id": "a"},
    "list_accounts": {"employee_id": "e"},
    "show_account": {"account_id": "a"},
    "set_primary": {"actor": ADMIN, "account_id": "a"},
    "change_password": {"actor": ADMIN, "account_id": "a", "password": "p"},
    "set_otp": {"actor": ADMIN, "account_id": "a", "otp_secret": None},
    "add_shared_account": {"actor": ADMIN, "data": AccountInput()},
    "share_account": {"actor": ADMIN, "shared_id": "s", "employee_id": "e"},
    "edit_shared_account": {"actor": ADMIN, "shared_id": "s", "data": AccountInput()},
    "delete_shared_account": {"actor": ADMIN, "shared_id": "s"},
    "list_shared_accounts": {},
    "show_shared_account": {"shared_id": "s"},
    "add_template": {"actor": ADMIN, "name": "t", "urls": ("x.com",), "apps": ()},
    "edit_template": {"actor": ADMIN, "name": "t", "apps": ("x",)},
    "list_templates": {},
    "directory_password_changed": {
        "changed": PasswordChanged("e", "alice", "ad", "reset", START, "pw"),
    },
    "delete_template": {"actor": ADMIN, "name": "t"},
    "export_entries": {"actor": ADMIN, "employee_id": "e"},
    "restore_entries": {
        "actor": ADMIN,
        "employee_id": "e",
        "entries": (),
        "on_conflict": OnConflict.SKIP,
    },
}


def test_the_table_covers_every_public_method() -> None:
    public = {
        name
        for name, member in inspect.getmembers(VaultService, inspect.isfunction)
        if not name.startswith("_")
    }
    assert public == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_locked_secrets_refuse(sqlite_vaults: Vaults, name: str) -> None:
    vaults = sqlite_vaults
    vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    vaults.secrets.lock()
    with pytest.raises(VaultSecretsLocked, match="unlock the server's secrets first") as caught:
        getattr(vaults.service, name)(**CALLS[name])
    assert caught.value.status == 503 and caught.value.error == "vault_secrets_locked"
    assert "master_key" in caught.value.description


def test_nothing_changed_while_locked(vaults: Vaults, db: Database) -> None:
    vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    before = vaults.audit.list().total
    vaults.secrets.lock()
    with pytest.raises(VaultSecretsLocked):
        vaults.service.compromise(actor=ADMIN, serial=SERIAL)
    with db.transaction() as s:
        status = s.scalar(select(HardwareVaultRow.status).where(HardwareVaultRow.serial == SERIAL))
    assert status == VaultStatus.READY.value
    assert vaults.audit.list().total == before

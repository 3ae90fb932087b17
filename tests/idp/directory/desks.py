"""An employee at a workstation with an Active key and a skip-password directory account, over
the runtime's vault service with a given password check (tests of the directory check)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from idp.config.directory import DirectorySettings, PasswordCheckSettings, Source
from idp.directory.password_check import DirectoryPasswordCheck
from idp.directory.sync.store import SyncStore
from idp.runtime import Runtime
from idp.vault.base import PasswordCheck
from idp.vault.model import AccountInput, KeyImport, LoginType, TaskKind
from idp.vault.service import VaultService, build_vault_service
from tests.idp.vault.conftest import ADMIN


@dataclass
class Desk:
    service: VaultService
    serial: str
    account_id: str
    employee_id: str

    def type(self, password: str) -> None:
        self.service.user_password(
            serial=self.serial, account_id=self.account_id, password=password
        )

    def stored(self) -> str | None:
        """The password queued for the key (None: nothing stored, nothing queued)."""
        accounts = self.service.list_accounts(employee_id=self.employee_id)
        (account,) = [a for a in accounts if a.id == self.account_id]
        tasks = self.service.pending_tasks(serial=self.serial)
        delivered = [t.account.password for t in tasks if t.account and t.kind is TaskKind.UPDATE]
        assert account.has_password == bool(delivered)
        return delivered[0] if delivered else None


def checker(
    runtime: Runtime, source: Source, secret: Callable[[Source], str], **limits: int
) -> DirectoryPasswordCheck:
    settings = DirectorySettings(
        (source,), by_name={source.name: source}, password_check=PasswordCheckSettings(**limits)
    )
    return DirectoryPasswordCheck(
        settings=settings,
        links=SyncStore(runtime.db),
        secret_of=secret,
        counters=runtime.ephemeral,
        clock=runtime.now,
    )


def desk(
    runtime: Runtime,
    check: PasswordCheck | None,
    employee_id: str,
    login: str,
    login_type: LoginType,
) -> Desk:
    service = build_vault_service(runtime, password_check=check)
    serial = f"ST{os.urandom(6).hex().upper()}"
    mac = ":".join(f"{b:02X}" for b in os.urandom(6))
    service.import_keys(actor=ADMIN, keys=[KeyImport(serial, mac, "Hideez Key 4", "4.0.1")])
    code = service.assign(actor=ADMIN, serial=serial, employee_id=employee_id).activation_code
    service.check_activation_code(serial=serial, code=code)
    service.linked(serial=serial)
    data = AccountInput(name="PC", login=login, login_type=login_type, skip_password=True)
    account = service.add_account(actor=ADMIN, employee_id=employee_id, data=data)
    for task in service.pending_tasks(serial=serial):
        service.task_done(serial=serial, task_id=task.id)
    return Desk(service, serial, account.id, employee_id)

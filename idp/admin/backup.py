"""Encrypted backup and restore of an employee's key accounts, as an admin action.

The file format and its cryptography are :mod:`idp.vault.backup`; reading and writing the
accounts is :class:`idp.vault.account_backup.AccountBackup`. A backup carries passwords and OTP
secrets, so both directions need the ``secrets`` permission (admins only: never helpdesk or
auditor, nor an API key without that scope). Each export and each import is audited with the
acting admin; an import that is refused (wrong passphrase, damaged file) imports nothing.

Two restores onto the same employee must not interleave (each reads the accounts, then adds
or replaces): a restore takes a short *claim* on the employee in the shared store
(set-if-absent with a TTL, so a crashed instance holds it :data:`RESTORE_CLAIM_TTL` seconds at
most) and lets it go when done, whatever happened; a second restore meanwhile, on any
instance, is refused with :class:`RestoreInProgress` (409) naming the running one.
"""

from __future__ import annotations

import json
import re
import secrets

from pydantic import Field

from idp.admin.access import Actor, Permission, requires
from idp.admin.models import Download, Input, Output
from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee
from idp.errors import Conflict, IdpError
from idp.runtime import Runtime
from idp.vault.account_backup import OnConflict, RestoreAction, RestoreOutcome
from idp.vault.backup import MAX_BACKUP_BYTES, BackupMetadata, open_backup, seal
from idp.vault.errors import EmployeeNotFound
from idp.vault.service import VaultService

MEDIA_TYPE = "application/vnd.hideez-idp.key-backup"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
#: the claim a restore holds on its employee (key prefix; the employee id follows)
RESTORE_CLAIM = "key-restore:"
#: a restore is a few hundred accounts at most: far less than this, even on a slow machine
RESTORE_CLAIM_TTL = 120


class RestoreInProgress(Conflict):
    """Another restore onto the same employee is running (on this instance or another)."""

    error = "key_restore_in_progress"


class BackupExport(Input):
    passphrase: str = Field(min_length=12, max_length=1024, description="at least 12 characters")


class RestoreForm(Input):
    """The text fields of a restore upload (the file itself is the ``backup`` part)."""

    passphrase: str = Field(min_length=1, max_length=1024)
    on_conflict: OnConflict = Field(
        description="an account with the same login and URL exists: keep it or overwrite it"
    )


class ExportedBackup(Download):
    employee: str
    accounts: int


class RestoredAccount(Output):
    name: str
    login: str
    url: str | None
    action: RestoreAction
    account_id: str

    @classmethod
    def of(cls, o: RestoreOutcome) -> RestoredAccount:
        return cls(name=o.name, login=o.login, url=o.url, action=o.action, account_id=o.account_id)


class RestoreReport(Output):
    """What became of each account of the backup, in the backup's order."""

    employee: str
    backup_of: str = Field(description="the username the backup was made for")
    exported_at: str
    added: int
    replaced: int
    skipped: int
    accounts: list[RestoredAccount]


class BackupAdmin:
    def __init__(self, runtime: Runtime, vault: VaultService) -> None:
        self._rt = runtime
        self._vault = vault

    def _employee(self, employee_id: str) -> Employee:
        employee = self._rt.employees.get(employee_id[:64])
        if employee is None:
            raise EmployeeNotFound(f"no employee with id {employee_id[:64]!r}")
        return employee

    @requires(Permission.SECRETS)
    def export(self, actor: Actor, employee_id: str, body: BackupExport) -> ExportedBackup:
        """The employee's personal accounts, sealed under the passphrase."""
        employee = self._employee(employee_id)
        entries = self._vault.export_entries(actor=actor, employee_id=employee.id)
        now = self._rt.now()
        metadata = BackupMetadata(
            employee=employee.username, exported_at=now.isoformat(timespec="seconds"),
            exported_by=actor.name, accounts=len(entries),
        )  # fmt: skip
        blob = seal(entries=entries, metadata=metadata, passphrase=body.passphrase)
        self._audit(actor, employee, "key_accounts_exported", accounts=str(len(entries)))
        safe = _UNSAFE_FILENAME.sub("_", employee.username)
        return ExportedBackup(
            filename=f"{safe}-key-accounts-{now:%Y%m%d}.hkbak",
            employee=employee.username,
            accounts=len(entries),
            content=blob,
        )

    @requires(Permission.SECRETS)
    def restore(
        self, actor: Actor, employee_id: str, body: RestoreForm, *, backup: bytes
    ) -> RestoreReport:
        """Every account of the backup, added, or on a conflict skipped or replaced."""
        employee = self._employee(employee_id)
        claim = RESTORE_CLAIM + employee.id
        mine = json.dumps({"by": actor.name, "at": self._rt.now().isoformat(timespec="seconds"),
                           "claim": secrets.token_hex(8)}).encode()  # fmt: skip
        try:
            self._claim(claim, mine, employee)
            opened = open_backup(backup[: MAX_BACKUP_BYTES + 1], passphrase=body.passphrase)
            done = self._vault.restore_entries(
                actor=actor, employee_id=employee.id, entries=opened.entries,
                on_conflict=body.on_conflict,
            )  # fmt: skip
        except IdpError as exc:
            self._audit(actor, employee, "key_accounts_restore_refused", exc.error)
            raise
        finally:
            if self._rt.ephemeral.get(claim) == mine:
                self._rt.ephemeral.delete(claim)
        counts = {a: sum(1 for o in done if o.action is a) for a in RestoreAction}
        self._audit(actor, employee, "key_accounts_restored",
                    **{a.value: str(n) for a, n in counts.items()})  # fmt: skip
        return RestoreReport(
            employee=employee.username, backup_of=opened.metadata.employee,
            exported_at=opened.metadata.exported_at, added=counts[RestoreAction.ADDED],
            replaced=counts[RestoreAction.REPLACED], skipped=counts[RestoreAction.SKIPPED],
            accounts=[RestoredAccount.of(o) for o in done],
        )  # fmt: skip

    def _claim(self, claim: str, mine: bytes, employee: Employee) -> None:
        if self._rt.ephemeral.add_if_absent(claim, mine, ttl=RESTORE_CLAIM_TTL):
            return
        try:
            running = json.loads(self._rt.ephemeral.get(claim) or b"{}")
        except ValueError:
            running = {}
        by = str(running.get("by", "another admin")).removeprefix("admin:")[:80]
        at = str(running.get("at", "moments ago"))[:40]
        raise RestoreInProgress(
            f"a restore of {employee.username}'s key accounts is running (started by {by} at "
            f"{at}); wait for it to finish and look at the accounts before restoring again"
        )

    def _audit(
        self,
        actor: Actor,
        employee: Employee,
        action: str,
        refused: str | None = None,
        **details: str,
    ) -> None:
        outcome = Outcome.SUCCESS if refused is None else Outcome.FAILURE
        self._rt.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE, at=self._rt.now(), actor=actor.name,
            employee_id=employee.id, outcome=outcome, factor="hardware_vault", reason=refused,
            details={"action": action, "username": employee.username, **details},
        )  # fmt: skip

"""What every part of :class:`idp.vault.service.VaultService` shares: the secrets check,
sealing and opening secrets, transitions applied to a row, task fan-out and the audit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from idp.admin.access import Actor, Permission, check
from idp.audit import AuditKind, Outcome
from idp.secrets import MASTER_KEY_ENV, SecretBox, secret_aad
from idp.store.sql.database import Database
from idp.store.sql.repositories.audit import AuditRepository
from idp.store.sql.repositories.employees import EmployeeRepository
from idp.vault.errors import EmployeeNotFound, VaultSecretsLocked
from idp.vault.model import CODE_LIFETIME, LoginType, TaskKind
from idp.vault.states import VaultAction, VaultReason, VaultStatus, transition
from idp.vault.store import VaultStore, VaultTx
from idp.vault.tables import HardwareVaultRow, VaultAccountRow

#: verifies a password the user typed for a directory account (employee id, login, password);
#: raises :class:`idp.errors.IdpError` when the directory refuses it
PasswordCheck = Callable[[str, str, str], None]


class VaultBase:
    def __init__(
        self,
        *,
        db: Database,
        secrets: SecretBox,
        audit: AuditRepository,
        employees: EmployeeRepository,
        clock: Callable[[], dt.datetime],
        password_check: PasswordCheck | None = None,
        code_lifetime: dt.timedelta = CODE_LIFETIME,
    ) -> None:
        self.store = VaultStore(db)
        self._secrets = secrets
        self._audit_log = audit
        self._employees = employees
        self._clock = clock
        self._password_check = password_check
        self._code_lifetime = code_lifetime

    def _begin(self, action: str, actor: Actor | None = None) -> dt.datetime:
        """Refuse before anything is read when the secrets are locked or the role forbids."""
        if actor is not None:
            check(actor, Permission.KEYS_WRITE)
        if self._secrets.locked:
            raise VaultSecretsLocked(
                f"unlock the server's secrets first: {action} needs them (configure "
                f"master_key or set {MASTER_KEY_ENV}, then restart)"
            )
        return self._clock()

    def _seal(self, purpose: str, owner: str, plaintext: bytes) -> bytes:
        return self._secrets.encrypt(plaintext, aad=secret_aad(purpose, owner))

    def _open(self, purpose: str, owner: str, blob: bytes) -> bytes:
        return self._secrets.decrypt(blob, aad=secret_aad(purpose, owner))

    def _open_text(self, purpose: str, owner: str, blob: bytes | None) -> str | None:
        return None if blob is None else self._open(purpose, owner, blob).decode("utf-8")

    def _require_employee(self, employee_id: str) -> None:
        if self._employees.get(employee_id) is None:
            raise EmployeeNotFound(f"no employee with id {employee_id!r}")

    @staticmethod
    def _move(
        row: HardwareVaultRow,
        action: VaultAction,
        *,
        now: dt.datetime,
        reason: VaultReason | None = None,
    ) -> VaultStatus:
        """Apply ``action`` to ``row`` (the table decides); the status it had before."""
        before = VaultStatus(row.status)
        after, why = transition(before, action, reason=reason)
        row.status, row.reason, row.status_changed_at = after.value, why, now
        return before

    @staticmethod
    def _forget_secrets(tx: VaultTx, row: HardwareVaultRow) -> None:
        """The key belongs to nobody any more: no master key, no code, no tasks."""
        row.master_key = row.activation_code = None
        row.code_attempts_left = row.code_expires_at = row.code_verified_at = None
        row.linked_at = None
        tx.drop_tasks(row.serial)

    @staticmethod
    def _queue_for_holder(
        tx: VaultTx, account: VaultAccountRow, kind: TaskKind, now: dt.datetime
    ) -> str | None:
        """Queue ``kind`` about ``account`` on its holder's key; the key's serial, if any."""
        vault = tx.holding_vault(account.employee_id)
        if vault is None:
            return None
        if kind is TaskKind.DELETE:  # what was still to be delivered is moot now
            tx.drop_tasks(vault.serial, account_id=account.id)
        login_type = LoginType(account.login_type)
        tx.queue(vault.serial, kind, now=now, account_id=account.id, login_type=login_type)
        return vault.serial

    def _audit(
        self,
        kind: AuditKind,
        actor: str,
        now: dt.datetime,
        *,
        employee_id: str | None = None,
        outcome: Outcome = Outcome.SUCCESS,
        reason: str | None = None,
        **details: str,
    ) -> None:
        self._audit_log.append_event(
            kind=kind,
            at=now,
            actor=actor,
            outcome=outcome,
            employee_id=employee_id,
            factor="hardware_vault",
            reason=reason,
            details=details,
        )

    def _status_audit(
        self,
        actor: str,
        now: dt.datetime,
        row: HardwareVaultRow,
        before: VaultStatus,
        action: VaultAction,
        employee_id: str | None,
        outcome: Outcome = Outcome.SUCCESS,
    ) -> None:
        self._audit(
            AuditKind.VAULT_STATUS_CHANGED,
            actor,
            now,
            employee_id=employee_id,
            outcome=outcome,
            reason=row.reason,
            serial=row.serial,
            action=action.value,
            to=row.status,
            **{"from": before.value},
        )

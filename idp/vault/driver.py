"""The driver-facing half of :class:`idp.vault.service.VaultService`: what the server does
when a key connects through a workstation, one method per event of the key's conversation.

The driver (the BLE side) asks :meth:`DriverApi.connection_plan` first and follows it:
link (ask the activation code, :meth:`check_activation_code`, link with the master key,
:meth:`linked`), unlock with code (lock the key with the code, ask it, check it), run tasks
(:meth:`pending_tasks`, :meth:`task_done` for each), or wipe (:meth:`wiped`).
"""

from __future__ import annotations

import datetime as dt
import hmac

from idp.audit import AuditKind, Outcome
from idp.errors import IdpError
from idp.vault import account_rules
from idp.vault.base import VaultBase
from idp.vault.errors import (
    AccountNotFound,
    ActivationCodeExpired,
    ActivationCodeNotVerified,
    ActivationCodeWrong,
    InvalidVaultInput,
    KeyCompromised,
    KeyStatusForbids,
    LinkedToAnotherServer,
    PasswordRefusedByDirectory,
    TaskNotFound,
    UnknownKey,
    WipedByHand,
)
from idp.vault.model import (
    CodeCheck,
    ConnectionPlan,
    KeyAccount,
    LoginType,
    PlanKind,
    Reported,
    TaskKind,
    TaskPayload,
    WantedPassword,
)
from idp.vault.states import VaultAction, VaultReason, VaultStatus
from idp.vault.store import VaultTx, profile_from_row
from idp.vault.tables import HardwareVaultRow, VaultAccountRow, VaultTaskRow

MASTER_KEY = "vault_master_key"
ACTIVATION_CODE = "vault_activation_code"
ACCOUNT_PASSWORD = "vault_account_password"
ACCOUNT_OTP = "vault_account_otp"
#: the plan's note when an Active key connects locked (it is Locked now)
KEY_LOCKED_NOTE = "the key reports itself locked"
_PASSWORD_AT_WORKSTATION = (LoginType.DOMAIN, LoginType.AZURE_AD)


def _actor(serial: str) -> str:
    return f"key:{serial}"


def _typed_at_workstation(account: VaultAccountRow) -> bool:
    """A skip-password account, or the primary (OS) account: the user gives its password."""
    return account.skip_password or (account.primary and LoginType(account.login_type).is_os)


class DriverApi(VaultBase):
    def connection_plan(self, *, serial: str, reported: Reported) -> ConnectionPlan:
        """What to do with a key that just connected; refuses unknown, compromised, wiped by
        hand and other servers' keys with their own errors (each audited)."""
        now = self._begin("a key connection")
        refusal: IdpError | None = None
        with self.store.write() as tx:
            row = tx.find_vault(serial)
            if row is None:
                refusal = UnknownKey(f"no key with serial {serial[:64]!r} was imported here")
            else:
                serial = row.serial
                self._note_seen(row, reported.firmware, reported.battery, now)
                try:
                    plan = self._plan(tx, row, reported, now)
                except (KeyCompromised, WipedByHand, LinkedToAnotherServer) as exc:
                    refusal = exc
        if refusal is not None:
            self._audit(
                AuditKind.VAULT_EVENT,
                _actor(serial),
                now,
                outcome=Outcome.FAILURE,
                reason=refusal.error,
                serial=serial[:64],
                action="connect",
            )
            raise refusal
        if plan.note == KEY_LOCKED_NOTE:
            self._audit(
                AuditKind.VAULT_STATUS_CHANGED,
                _actor(serial),
                now,
                employee_id=plan.employee_id,
                outcome=Outcome.SUCCESS,
                reason=VaultReason.LOCKED_BY_INVALID_PIN.value,
                serial=serial,
                action=VaultAction.KEY_LOCKED.value,
                to=VaultStatus.LOCKED.value,
                **{"from": VaultStatus.ACTIVE.value},
            )
        # every connection is on the trail; queued, as it is one per key per connection
        self._audit_log.append_event_later(
            kind=AuditKind.VAULT_EVENT,
            at=now,
            actor=_actor(serial),
            employee_id=plan.employee_id,
            factor="hardware_vault",
            details={"serial": serial, "action": "connect", "plan": plan.kind.value},
        )
        return plan

    def _plan(
        self, tx: VaultTx, row: HardwareVaultRow, reported: Reported, now: dt.datetime
    ) -> ConnectionPlan:
        status = VaultStatus(row.status)
        if status is VaultStatus.COMPROMISED:
            raise KeyCompromised(f"key {row.serial} is compromised: every connection is refused")
        held = row.linked_at is not None
        if reported.linked and not held:
            raise LinkedToAnotherServer(
                f"key {row.serial} is linked, but this server never linked it and holds no "
                f"master key for it (status {status.value}): another server's key"
            )
        if not reported.linked and held and status is not VaultStatus.DEACTIVATED:
            raise WipedByHand(
                f"key {row.serial} asks to be linked, but this server linked it on "
                f"{row.linked_at:%Y-%m-%d} and holds its master key: it was wiped by hand"
            )
        profile = profile_from_row(tx.profile(row.profile_id))

        def plan(kind: PlanKind, note: str = "", *, key: bool = True) -> ConnectionPlan:
            master = None
            if key and row.master_key is not None:
                master = self._open(MASTER_KEY, row.serial, row.master_key)
            return ConnectionPlan(
                kind, row.serial, VaultStatus(row.status), master, profile, row.employee_id, note
            )

        if status is VaultStatus.ACTIVE and reported.locked:
            self._move(row, VaultAction.KEY_LOCKED, now=now)
            return plan(PlanKind.NOTHING, KEY_LOCKED_NOTE, key=False)
        if status is VaultStatus.RESERVED or (status is VaultStatus.SUSPENDED and not held):
            return plan(PlanKind.LINK)
        if status is VaultStatus.SUSPENDED:
            return plan(PlanKind.UNLOCK_WITH_CODE)
        if status is VaultStatus.ACTIVE:
            return plan(PlanKind.RUN_TASKS)
        if status is VaultStatus.DEACTIVATED:
            # a key never linked is blank already: the driver reports it wiped at once
            return plan(PlanKind.WIPE, key=held and row.master_key is not None)
        note = "not assigned" if status is VaultStatus.READY else "locked: needs a new code"
        return plan(PlanKind.NOTHING, note, key=False)

    def check_activation_code(self, *, serial: str, code: str) -> CodeCheck:
        """Check the code the user typed: 3 tries, counted durably; the third wrong one locks
        the key (reason InvalidActivationCode). A suspended, linked key is Active after it."""
        now = self._begin("checking an activation code")
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            status = VaultStatus(row.status)
            if status not in (VaultStatus.RESERVED, VaultStatus.SUSPENDED):
                raise KeyStatusForbids(f"key {serial} is {status.value}: no code to check")
            if row.activation_code is None or row.code_attempts_left is None:
                raise KeyStatusForbids(f"key {serial} has no activation code")
            if row.code_expires_at is not None and now >= row.code_expires_at:
                raise ActivationCodeExpired(
                    f"the activation code of key {serial} expired at "
                    f"{row.code_expires_at:%Y-%m-%d %H:%M} UTC; ask an admin for a new one"
                )
            expected = self._open(ACTIVATION_CODE, serial, row.activation_code)
            right = hmac.compare_digest(expected, code.encode("utf-8")[:64])
            result, action = self._code_outcome(tx, row, right, now)
            employee_id, left = row.employee_id, row.code_attempts_left or 0
        if action is not None:
            self._status_audit(_actor(serial), now, row, status, action, employee_id)
        if result is None:
            self._audit(
                AuditKind.VAULT_EVENT,
                _actor(serial),
                now,
                employee_id=employee_id,
                outcome=Outcome.FAILURE,
                reason="activation_code_wrong",
                serial=serial,
                attempts_left=str(left),
            )
            raise ActivationCodeWrong(
                f"wrong activation code for key {serial}: {left} attempt(s) left"
                + ("; the key is now locked" if left == 0 else ""),
                attempts_left=left,
            )
        return result

    def _code_outcome(
        self, tx: VaultTx, row: HardwareVaultRow, right: bool, now: dt.datetime
    ) -> tuple[CodeCheck | None, VaultAction | None]:
        if not right:
            row.code_attempts_left = (row.code_attempts_left or 1) - 1
            if row.code_attempts_left > 0:
                return None, None
            self._move(row, VaultAction.CODE_EXHAUSTED, now=now)
            row.activation_code = row.code_expires_at = row.code_verified_at = None
            return None, VaultAction.CODE_EXHAUSTED
        if row.status == VaultStatus.SUSPENDED and row.linked_at is not None:
            self._move(row, VaultAction.REACTIVATE, now=now)
            row.activation_code = row.code_attempts_left = row.code_expires_at = None
            return CodeCheck(row.serial, VaultStatus.ACTIVE), VaultAction.REACTIVATE
        row.code_verified_at = now
        return CodeCheck(row.serial, VaultStatus(row.status)), None

    def linked(self, *, serial: str) -> None:
        """The driver linked the key with its master key (after the right code): Active."""
        now = self._begin("linking a key")
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            if row.code_verified_at is None:
                raise ActivationCodeNotVerified(
                    f"key {serial} cannot be linked before its activation code was checked"
                )
            before = self._move(row, VaultAction.LINK, now=now)
            row.linked_at = now
            row.activation_code = row.code_attempts_left = None
            row.code_expires_at = row.code_verified_at = None
        self._status_audit(_actor(serial), now, row, before, VaultAction.LINK, row.employee_id)

    def key_locked(self, *, serial: str) -> None:
        """The key reports itself locked (its PIN tries are used up)."""
        now = self._begin("a key's lock report")
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            before = self._move(row, VaultAction.KEY_LOCKED, now=now)
        self._status_audit(
            _actor(serial), now, row, before, VaultAction.KEY_LOCKED, row.employee_id
        )

    def wiped(self, *, serial: str) -> None:
        """A deactivated key was wiped: it is Ready for another employee."""
        now = self._begin("a key's wipe report")
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            before = self._move(row, VaultAction.WIPED, now=now)
            self._forget_secrets(tx, row)
            row.employee_id = None
        self._status_audit(_actor(serial), now, row, before, VaultAction.WIPED, None)

    def seen(self, *, serial: str, battery: int | None, firmware: str) -> None:
        now = self._begin("a key's status report")
        with self.store.write() as tx:
            self._note_seen(tx.vault(serial), firmware, battery, now)

    @staticmethod
    def _note_seen(
        row: HardwareVaultRow, firmware: str, battery: int | None, now: dt.datetime
    ) -> None:
        if battery is not None and not 0 <= battery <= 100:
            raise InvalidVaultInput(f"battery is a percentage 0-100, got {battery}")
        if firmware:
            row.firmware = account_rules.text(firmware, "firmware", limit=64)
        row.battery = battery if battery is not None else row.battery
        row.last_seen_at = now

    def pending_tasks(self, *, serial: str) -> tuple[TaskPayload, ...]:
        """The key's tasks in delivery order (profile, OS accounts, the others), decrypted."""
        self._begin("delivering tasks to a key")
        with self.store.read() as tx:
            row = tx.vault(serial)
            serial = row.serial
            if VaultStatus(row.status) is not VaultStatus.ACTIVE:
                raise KeyStatusForbids(f"key {serial} is {row.status}: tasks run on Active keys")
            return tuple(self._payload(tx, row, task) for task in tx.tasks(serial))

    def _payload(self, tx: VaultTx, vault: HardwareVaultRow, task: VaultTaskRow) -> TaskPayload:
        kind = TaskKind(task.kind)
        if kind is TaskKind.PROFILE:
            return TaskPayload(
                task.id, kind, profile=profile_from_row(tx.profile(vault.profile_id))
            )
        if kind in (TaskKind.DELETE, TaskKind.PRIMARY):
            return TaskPayload(task.id, kind, account_id=task.account_id)
        account = tx.account(task.account_id or "")
        return TaskPayload(task.id, kind, account_id=account.id, account=self._key_account(account))

    def _key_account(self, row: VaultAccountRow) -> KeyAccount:
        return KeyAccount(
            id=row.id,
            name=row.name,
            login=row.login,
            login_type=LoginType(row.login_type),
            urls=tuple(row.urls),
            apps=tuple(row.apps),
            password=self._open_text(ACCOUNT_PASSWORD, row.id, row.password),
            otp_secret=self._open_text(ACCOUNT_OTP, row.id, row.otp_secret),
            primary=row.primary,
        )

    @staticmethod
    def _completable(tx: VaultTx, serial: str, account_id: str) -> VaultAccountRow:
        """The account, if the user at this (Active) key may give its password."""
        vault = tx.vault(serial)
        if VaultStatus(vault.status) is not VaultStatus.ACTIVE:
            raise KeyStatusForbids(
                f"key {serial} is {vault.status}: passwords come from Active keys"
            )
        account = tx.account(account_id)
        if account.employee_id != vault.employee_id:
            raise AccountNotFound(f"key {serial} holds no account {account_id!r}")
        if not _typed_at_workstation(account):
            raise KeyStatusForbids(
                f"account {account_id} takes its password from an admin, not the workstation"
            )
        return account

    def task_done(self, *, serial: str, task_id: int) -> None:
        """The key performed the task: only now is it removed from the queue. A task the
        admin made moot meanwhile (an account deleted before delivery) is gone already:
        :class:`TaskNotFound`, which the driver may ignore."""
        now = self._begin("a key's task report")
        with self.store.write() as tx:
            task = tx.task(serial, task_id)
            if task is None:
                raise TaskNotFound(f"no pending task {task_id} for key {serial}")
            kind, account_id = task.kind, task.account_id or ""
            tx.s.delete(task)
        self._audit_log.append_event_later(
            kind=AuditKind.VAULT_EVENT,
            at=now,
            actor=_actor(serial),
            factor="hardware_vault",
            details={"serial": serial, "action": "task_done", "task": kind, "account": account_id},
        )

    def passwords_wanted(self, *, serial: str) -> tuple[WantedPassword, ...]:
        """The accounts whose password the user of this Active key is to type at the
        workstation and that have none yet (asked after the tasks, at every connection)."""
        self._begin("listing the passwords a key's user is to give")
        with self.store.read() as tx:
            vault = tx.vault(serial)
            if VaultStatus(vault.status) is not VaultStatus.ACTIVE or vault.employee_id is None:
                return ()
            return tuple(
                WantedPassword(row.id, row.name, row.login)
                for row in tx.accounts_of(vault.employee_id)
                if row.password is None and _typed_at_workstation(row)
            )

    def user_password(self, *, serial: str, account_id: str, password: str) -> None:
        """The user typed the password of a skip-password or primary domain account at the
        workstation: verified against the directory (the hook), stored encrypted, queued."""
        now = self._begin("storing a password from the workstation")
        value = account_rules.password(password)
        with self.store.read() as tx:
            account = self._completable(tx, serial, account_id)
            login_type, login = LoginType(account.login_type), account.login
        # The directory is asked outside any transaction (a network round trip); the write
        # below checks the account again, so an edit in between cannot be overwritten blindly.
        if self._password_check is not None and login_type in _PASSWORD_AT_WORKSTATION:
            try:
                self._password_check(account.employee_id, login, value)
            except IdpError as exc:  # the directory's own error says why; we say what
                if exc.status >= 429 or exc.retry_after is not None:
                    raise  # rate limited or unreachable: the caller may try again later
                raise PasswordRefusedByDirectory(
                    f"the directory does not accept this password for {login}: {exc.description}"
                ) from exc
        with self.store.write() as tx:
            account = self._completable(tx, serial, account_id)
            if account.login != login:
                raise KeyStatusForbids(f"account {account_id} changed meanwhile; type it again")
            account.password = self._seal(ACCOUNT_PASSWORD, account.id, value.encode("utf-8"))
            account.updated_at = now
            self._queue_for_holder(tx, account, TaskKind.UPDATE, now)
        self._audit(
            AuditKind.PASSWORD_SET,
            _actor(serial),
            now,
            employee_id=account.employee_id,
            serial=serial,
            account=account_id,
        )

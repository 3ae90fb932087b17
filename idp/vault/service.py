"""``VaultService``: one method per admin action on keys and profiles (here), per account
action (:mod:`idp.vault.account_actions`), per driver event (:mod:`idp.vault.driver`) and
the unlock with a key's primary account (:mod:`idp.vault.unlock`).

Built once per runtime (:func:`build_vault_service`). Each method checks that the secrets are
unlocked before it reads anything, runs in one transaction and is audited. The CLI calls it
today, the REST API and the console later.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

from idp.admin.access import Actor
from idp.audit import AuditKind
from idp.directory.password_check import directory_password_check
from idp.directory.sync.service import secret_of
from idp.directory.sync.store import SyncStore
from idp.runtime import Runtime
from idp.vault import account_rules
from idp.vault.account_backup import AccountBackup
from idp.vault.base import PasswordCheck
from idp.vault.driver import ACTIVATION_CODE, MASTER_KEY
from idp.vault.errors import (
    EmployeeHasKey,
    InvalidVaultInput,
    KeyExists,
    KeyStatusForbids,
    NameTaken,
    ProfileInUse,
    VaultInputTooLarge,
)
from idp.vault.model import (
    CODE_ATTEMPTS,
    CODE_DIGITS,
    DEFAULT_PROFILE_ID,
    MASTER_KEY_BYTES,
    AccessProfile,
    KeyImport,
    PendingTask,
    TaskKind,
    Vault,
)
from idp.vault.states import VaultAction, VaultReason, VaultStatus
from idp.vault.store import HOLDING, VaultTx, profile_from_row, vault_from_row, write_profile
from idp.vault.tables import HardwareVaultRow, VaultProfileRow
from idp.vault.unlock import UnlockApi

MAX_IMPORT = 10_000
MAX_LIST = 500
MAX_IMPORT_BYTES = 2_000_000
_CSV_FIELDS = ("serial", "mac", "model", "firmware")


@dataclass(frozen=True)
class Assignment:
    """A key with a fresh activation code (shown to the admin to send to the employee)."""

    vault: Vault
    activation_code: str = field(repr=False)


def parse_key_csv(data: str) -> tuple[KeyImport, ...]:
    """Keys from CSV with the header ``serial,mac,model,firmware`` (the vendor's list)."""
    if len(data) > MAX_IMPORT_BYTES:
        raise VaultInputTooLarge(f"a key list may have at most {MAX_IMPORT_BYTES} bytes")
    reader = csv.DictReader(io.StringIO(data))
    header = tuple(name.strip().lower() for name in reader.fieldnames or ())
    if header[:4] != _CSV_FIELDS:
        raise InvalidVaultInput(f"the CSV header must be {','.join(_CSV_FIELDS)}, got {header}")
    reader.fieldnames = list(header)
    keys: list[KeyImport] = []
    for number, record in enumerate(reader, start=2):
        if len(keys) >= MAX_IMPORT:
            raise VaultInputTooLarge(f"at most {MAX_IMPORT} keys per import")
        values = [record.get(name) for name in _CSV_FIELDS]
        if any(value is None for value in values):
            raise InvalidVaultInput(f"line {number}: expected 4 fields")
        serial, mac, model, firmware = (str(value) for value in values)
        keys.append(KeyImport(serial, mac, model, firmware))
    return tuple(keys)


def _new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


class VaultService(UnlockApi, AccountBackup):
    """Every vault action of the server (admin and driver), over one secrets envelope."""

    # -- keys --------------------------------------------------------------------------------

    def import_keys(self, *, actor: Actor, keys: Sequence[KeyImport]) -> tuple[Vault, ...]:
        """Add keys as Ready; all or nothing (a known serial or MAC refuses the whole list)."""
        now = self._begin("importing keys", actor)
        if len(keys) > MAX_IMPORT:
            raise VaultInputTooLarge(f"at most {MAX_IMPORT} keys per import, got {len(keys)}")
        cleaned = [
            KeyImport(
                account_rules.serial(k.serial),
                account_rules.mac(k.mac),
                account_rules.text(k.model, "model"),
                account_rules.text(k.firmware, "firmware", limit=64),
            )
            for k in keys
        ]
        for what, values in (
            ("serial", [k.serial for k in cleaned]),
            ("MAC", [k.mac for k in cleaned]),
        ):
            if len(set(values)) != len(values):
                raise InvalidVaultInput(f"the list names a {what} twice")
        with self.store.write() as tx:
            rows = []
            for key in cleaned:
                if tx.vault_exists(key.serial, key.mac):
                    raise KeyExists(f"key {key.serial} ({key.mac}) is already imported")
                row = HardwareVaultRow(
                    serial=key.serial,
                    mac=key.mac,
                    model=key.model,
                    firmware=key.firmware,
                    status=VaultStatus.READY.value,
                    profile_id=DEFAULT_PROFILE_ID,
                    imported_at=now,
                    status_changed_at=now,
                )
                tx.s.add(row)
                rows.append(row)
            tx.s.flush()
            imported = tuple(vault_from_row(row) for row in rows)
        self._audit(
            AuditKind.ADMIN_CHANGE,
            actor.name,
            now,
            action="keys_imported",
            count=str(len(imported)),
        )
        return imported

    def list_keys(
        self,
        *,
        status: VaultStatus | None = None,
        employee_id: str | None = None,
        text: str | None = None,
        sort: str = "serial",
        descending: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> tuple[Vault, ...]:
        """Keys by serial (or by ``status_changed_at``), filtered by status or holder, and by
        ``text`` in the serial or the holder's username or name (any case)."""
        self._begin("listing keys")
        if not 1 <= limit <= MAX_LIST:
            raise InvalidVaultInput(f"limit is 1-{MAX_LIST}, got {limit}")
        return self.store.list_vaults(
            status=status, employee_id=employee_id, text=text, sort=sort,
            descending=descending, offset=offset, limit=limit,
        )  # fmt: skip

    def show_key(self, *, serial: str) -> Vault:
        self._begin("showing a key")
        with self.store.read() as tx:
            return tx.view(tx.vault(serial))

    def key_tasks(self, *, serial: str) -> tuple[PendingTask, ...]:
        """What is queued for the key, in delivery order."""
        self._begin("listing a key's tasks")
        with self.store.read() as tx:
            rows = tx.tasks(tx.vault(serial).serial)
            return tuple(
                PendingTask(r.id, TaskKind(r.kind), r.account_id, r.created_at) for r in rows
            )

    def assign(self, *, actor: Actor, serial: str, employee_id: str) -> Assignment:
        """Reserve a Ready key for an employee (one key each): a master key and an activation
        code are made, and the employee's profile and accounts are queued for the key."""
        now = self._begin("assigning a key", actor)
        self._require_employee(employee_id)
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            held = tx.vault_of(employee_id)
            if held is not None:
                raise EmployeeHasKey(f"the employee already holds key {held.serial}")
            before = self._move(row, VaultAction.ASSIGN, now=now)
            row.employee_id = employee_id
            row.master_key = self._seal(MASTER_KEY, serial, os.urandom(MASTER_KEY_BYTES))
            code = self._issue_code(row, now)
            tx.queue(serial, TaskKind.PROFILE, now=now)
            self._queue_accounts(tx, employee_id, now)
            vault = tx.view(row)
        self._status_audit(actor.name, now, row, before, VaultAction.ASSIGN, employee_id)
        return Assignment(vault, code)

    def _issue_code(self, row: HardwareVaultRow, now: dt.datetime) -> str:
        code = _new_code()
        row.activation_code = self._seal(ACTIVATION_CODE, row.serial, code.encode("ascii"))
        row.code_attempts_left = CODE_ATTEMPTS
        row.code_expires_at = now + self._code_lifetime
        row.code_verified_at = None
        return code

    def _queue_accounts(self, tx: VaultTx, employee_id: str, now: dt.datetime) -> None:
        for account in tx.accounts_of(employee_id):
            self._queue_for_holder(tx, account, TaskKind.CREATE, now)
            if account.primary:
                self._queue_for_holder(tx, account, TaskKind.PRIMARY, now)

    def activation_code(self, *, actor: Actor, serial: str) -> str:
        """The key's current activation code, to send again (audited)."""
        now = self._begin("showing an activation code", actor)
        with self.store.read() as tx:
            row = tx.vault(serial)
            serial = row.serial
            if row.activation_code is None:
                raise KeyStatusForbids(f"key {serial} ({row.status}) has no activation code")
            code = self._open(ACTIVATION_CODE, serial, row.activation_code).decode("ascii")
        self._audit(
            AuditKind.ADMIN_CHANGE,
            actor.name,
            now,
            action="activation_code_shown",
            serial=serial,
        )
        return code

    def cancel(self, *, actor: Actor, serial: str) -> Vault:
        """Cancel an assignment before the key was linked: Ready again, secrets dropped."""
        now = self._begin("cancelling an assignment", actor)
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            employee_id = row.employee_id
            before = self._move(row, VaultAction.CANCEL, now=now)
            self._forget_secrets(tx, row)
            row.employee_id = None
            vault = tx.view(row)
        self._status_audit(actor.name, now, row, before, VaultAction.CANCEL, employee_id)
        return vault

    def suspend(self, *, actor: Actor, serial: str) -> Assignment:
        """A new activation code for an Active or Locked key; entering it makes it Active."""
        now = self._begin("suspending a key", actor)
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            before = self._move(row, VaultAction.SUSPEND, now=now)
            code = self._issue_code(row, now)
            vault = tx.view(row)
        self._status_audit(actor.name, now, row, before, VaultAction.SUSPEND, row.employee_id)
        return Assignment(vault, code)

    def deactivate(self, *, actor: Actor, serial: str, reason: VaultReason) -> Vault:
        """Remove the key from its employee (their accounts are soft-deleted, it being their
        only key); its next connection wipes it."""
        now = self._begin("deactivating a key", actor)
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            employee_id = row.employee_id
            before = self._move(row, VaultAction.DEACTIVATE, now=now, reason=reason)
            row.employee_id = None
            row.activation_code = row.code_attempts_left = None
            row.code_expires_at = row.code_verified_at = None
            tx.drop_tasks(serial)
            if employee_id is not None:
                for account in tx.accounts_of(employee_id):
                    account.deleted_at, account.primary = now, False
            vault = tx.view(row)
        self._status_audit(actor.name, now, row, before, VaultAction.DEACTIVATE, employee_id)
        return vault

    def compromise(self, *, actor: Actor, serial: str) -> Vault:
        """Mark the key compromised: unlinked, secrets dropped, refused forever."""
        now = self._begin("marking a key compromised", actor)
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            employee_id = row.employee_id
            before = self._move(row, VaultAction.COMPROMISE, now=now)
            self._forget_secrets(tx, row)
            row.employee_id = None
            vault = tx.view(row)
        self._status_audit(actor.name, now, row, before, VaultAction.COMPROMISE, employee_id)
        return vault

    def set_profile(self, *, actor: Actor, serial: str, profile_id: str) -> Vault:
        now = self._begin("setting a key's access profile", actor)
        with self.store.write() as tx:
            row = tx.vault(serial)
            serial = row.serial
            if VaultStatus(row.status) in (VaultStatus.COMPROMISED, VaultStatus.DEACTIVATED):
                raise KeyStatusForbids(f"key {serial} is {row.status}: its profile is moot")
            row.profile_id = tx.profile(profile_id).id
            if VaultStatus(row.status) in HOLDING:
                tx.queue(serial, TaskKind.PROFILE, now=now)
            vault = tx.view(row)
        self._audit(
            AuditKind.ADMIN_CHANGE,
            actor.name,
            now,
            action="key_profile_set",
            serial=serial,
            profile=profile_id,
        )
        return vault

    # -- access profiles ---------------------------------------------------------------------

    def list_profiles(self) -> tuple[AccessProfile, ...]:
        self._begin("listing access profiles")
        with self.store.read() as tx:
            return tuple(profile_from_row(row) for row in tx.profiles())

    def save_profile(self, *, actor: Actor, profile: AccessProfile, create: bool) -> AccessProfile:
        """Add a profile (``create``) or change one; a change is queued to every key using it."""
        now = self._begin("saving an access profile", actor)
        checked = _checked_profile(profile)
        with self.store.write() as tx:
            if create:
                if any(p.name.lower() == checked.name.lower() for p in tx.profiles()):
                    raise NameTaken(f"an access profile named {checked.name!r} exists")
                row = VaultProfileRow(id=secrets.token_hex(8))
                tx.s.add(row)
            else:
                row = tx.profile(profile.id)
                if any(
                    p.name.lower() == checked.name.lower() and p.id != row.id for p in tx.profiles()
                ):
                    raise NameTaken(f"an access profile named {checked.name!r} exists")
            write_profile(row, checked)
            for vault in tx.profile_users(row.id):
                if VaultStatus(vault.status) in HOLDING:
                    tx.queue(vault.serial, TaskKind.PROFILE, now=now)
            tx.s.flush()
            saved = profile_from_row(row)
        action = "key_profile_added" if create else "key_profile_changed"
        self._audit(AuditKind.ADMIN_CHANGE, actor.name, now, action=action, profile=saved.id)
        return saved

    def delete_profile(self, *, actor: Actor, profile_id: str) -> None:
        now = self._begin("deleting an access profile", actor)
        with self.store.write() as tx:
            row = tx.profile(profile_id)
            if row.id == DEFAULT_PROFILE_ID:
                raise ProfileInUse("the default access profile cannot be deleted")
            users = tx.profile_users(row.id)
            if users:
                raise ProfileInUse(
                    f"access profile {row.name!r} is used by {len(users)} key(s), "
                    f"e.g. {users[0].serial}"
                )
            tx.s.delete(row)
        self._audit(
            AuditKind.ADMIN_CHANGE,
            actor.name,
            now,
            action="key_profile_deleted",
            profile=profile_id,
        )


def _checked_profile(profile: AccessProfile) -> AccessProfile:
    name = account_rules.text(profile.name, "profile name")
    if not 4 <= profile.pin_length <= 8:
        raise InvalidVaultInput(f"PIN length is 4-8 digits, got {profile.pin_length}")
    if not 3 <= profile.pin_attempts <= 15:
        raise InvalidVaultInput(f"PIN attempts are 3-15, got {profile.pin_attempts}")
    seconds = profile.pin_expiry.total_seconds()
    if not 60 <= seconds <= 30 * 86400 or seconds != int(seconds):
        raise InvalidVaultInput(
            f"PIN expiry is 1 minute to 30 days in whole seconds, got {seconds}"
        )
    return AccessProfile(
        id=profile.id,
        name=name,
        pairing=profile.pairing,
        connection=profile.connection,
        storage=profile.storage,
        pin_length=profile.pin_length,
        pin_expiry=profile.pin_expiry,
        pin_attempts=profile.pin_attempts,
    )


def build_vault_service(
    runtime: Runtime, *, password_check: PasswordCheck | None = None
) -> VaultService:
    """The runtime's vault service; passwords typed at workstations are checked against the
    employee's directory (:mod:`idp.directory.password_check`) when one is configured."""
    if password_check is None:
        password_check = directory_password_check(
            settings=runtime.config.directory,
            links=SyncStore(runtime.db),
            secret_of=lambda source: secret_of(runtime, source),
            counters=runtime.ephemeral,
            clock=runtime.clock,
        )
    return VaultService(
        db=runtime.db,
        secrets=runtime.secrets,
        audit=runtime.audit,
        employees=runtime.employees,
        clock=runtime.clock,
        password_check=password_check,
    )

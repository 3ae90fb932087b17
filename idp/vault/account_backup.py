"""The backup half of :class:`idp.vault.service.VaultService`: an employee's personal accounts
read out with their secrets (for :mod:`idp.vault.backup`), and restored in one transaction.

A restored account conflicts with a stored one of the same employee when both have the same
login type and login (case-insensitive) and share a URL, or both have none. The caller
chooses once for every conflict: ``skip`` keeps the stored account, ``replace`` overwrites it
with the backup's fields and secrets. Every entry is checked before anything is written, so
one bad entry refuses the whole restore. Copies of shared accounts are not personal: they are
neither exported nor matched (the shared account is the one to give again).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from idp.admin.access import Actor, Permission, check
from idp.vault import account_rules
from idp.vault.account_actions import AccountActions, _apply, _Fields, _fields
from idp.vault.backup import BackupEntry
from idp.vault.driver import ACCOUNT_OTP, ACCOUNT_PASSWORD
from idp.vault.model import AccountInput, LoginType, TaskKind
from idp.vault.store import VaultTx, account_from_row
from idp.vault.tables import VaultAccountRow


class OnConflict(StrEnum):
    SKIP = "skip"
    REPLACE = "replace"


class RestoreAction(StrEnum):
    ADDED = "added"
    SKIPPED = "skipped"
    REPLACED = "replaced"


@dataclass(frozen=True)
class RestoreOutcome:
    """What became of one entry of the backup (``account_id``: the account it is now)."""

    name: str
    login: str
    url: str | None
    action: RestoreAction
    account_id: str


def _same(row: VaultAccountRow, entry: BackupEntry) -> bool:
    if row.login_type != entry.login_type.value or row.login.lower() != entry.login.lower():
        return False
    mine = {u.lower() for u in row.urls}
    theirs = {u.lower() for u in entry.urls}
    return bool(mine & theirs) or not (mine or theirs)


class AccountBackup(AccountActions):
    def export_entries(self, *, actor: Actor, employee_id: str) -> tuple[BackupEntry, ...]:
        """The employee's personal accounts with their passwords and OTP secrets."""
        check(actor, Permission.SECRETS)
        self._begin("exporting accounts", actor)
        self._require_employee(employee_id)
        with self.store.read() as tx:
            rows = [r for r in tx.accounts_of(employee_id) if r.shared_id is None]
            return tuple(self._entry(r) for r in rows)

    def _entry(self, row: VaultAccountRow) -> BackupEntry:
        return BackupEntry(
            name=row.name, login=row.login, login_type=LoginType(row.login_type),
            urls=tuple(row.urls), apps=tuple(row.apps),
            password=self._open_text(ACCOUNT_PASSWORD, row.id, row.password),
            otp_secret=self._open_text(ACCOUNT_OTP, row.id, row.otp_secret),
            skip_password=row.skip_password, primary=row.primary,
        )  # fmt: skip

    def restore_entries(
        self,
        *,
        actor: Actor,
        employee_id: str,
        entries: Sequence[BackupEntry],
        on_conflict: OnConflict,
    ) -> tuple[RestoreOutcome, ...]:
        """Add (or, on a conflict, skip or replace) every entry; all or nothing."""
        check(actor, Permission.SECRETS)
        now = self._begin("restoring accounts", actor)
        self._require_employee(employee_id)
        checked = [_checked(e) for e in entries]
        outcomes: list[RestoreOutcome] = []
        with self.store.write() as tx:
            stored = [r for r in tx.accounts_of(employee_id) if r.shared_id is None]
            for entry, fields, password, otp in checked:
                match = next((r for r in stored if _same(r, entry)), None)
                if match is not None and on_conflict is OnConflict.SKIP:
                    outcomes.append(_outcome(entry, RestoreAction.SKIPPED, match.id))
                    continue
                row = match or VaultAccountRow(
                    id=secrets.token_hex(8), employee_id=employee_id, primary=False,
                    created_at=now,
                )  # fmt: skip
                row.skip_password = entry.skip_password
                _apply(row, fields, now)
                row.password = row.otp_secret = None
                self._store_secrets(row, password, otp)
                if match is None:
                    tx.s.add(row)
                    stored.append(row)
                    tx.s.flush()
                self._queue_for_holder(tx, row, TaskKind.UPDATE if match else TaskKind.CREATE, now)
                action = RestoreAction.REPLACED if match else RestoreAction.ADDED
                outcomes.append(_outcome(entry, action, row.id))
            self._restore_primary(tx, employee_id, entries, outcomes, now)
            changed = [account_from_row(tx.account(o.account_id)) for o in outcomes
                       if o.action is not RestoreAction.SKIPPED]  # fmt: skip
        for account in changed:
            self._changed(actor, now, "key_account_restored", account)
        return tuple(outcomes)

    def _restore_primary(
        self,
        tx: VaultTx,
        employee_id: str,
        entries: Sequence[BackupEntry],
        outcomes: list[RestoreOutcome],
        now: dt.datetime,
    ) -> None:
        """The backup's primary account is primary again if it was written (an OS login)."""
        for entry, outcome in zip(entries, outcomes, strict=True):
            if entry.primary and entry.login_type.is_os and outcome.action is not _SKIPPED:
                for row in tx.accounts_of(employee_id):
                    row.primary = row.id == outcome.account_id
                self._queue_for_holder(tx, tx.account(outcome.account_id), TaskKind.PRIMARY, now)
                return


_SKIPPED = RestoreAction.SKIPPED


def _checked(entry: BackupEntry) -> tuple[BackupEntry, _Fields, str | None, str | None]:
    """The entry's normalised fields and secrets, refused like an admin's input would be."""
    fields = _fields(_input(entry), None)
    password = None if entry.password is None else account_rules.password(entry.password)
    otp = None if entry.otp_secret is None else account_rules.otp_secret(entry.otp_secret)
    return entry, fields, password, otp


def _input(entry: BackupEntry) -> AccountInput:
    return AccountInput(
        name=entry.name, login=entry.login, login_type=entry.login_type, urls=entry.urls,
        apps=entry.apps, password=entry.password, otp_secret=entry.otp_secret,
        skip_password=entry.skip_password,
    )  # fmt: skip


def _outcome(entry: BackupEntry, action: RestoreAction, account_id: str) -> RestoreOutcome:
    url = entry.urls[0] if entry.urls else None
    return RestoreOutcome(entry.name, entry.login, url, action, account_id)

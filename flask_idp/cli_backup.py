"""``hideez-idp key-account export|import``: the encrypted backup of an employee's key
accounts (:mod:`idp.admin.backup`), as a file. The passphrase is read from a file, stdin
(``-``) or a prompt, never from the command line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from pydantic import ValidationError

from idp.admin.access import CLI
from idp.admin.backup import BackupAdmin, BackupExport, RestoreForm
from idp.errors import InvalidRequest
from idp.runtime import Runtime
from idp.vault.account_backup import OnConflict
from idp.vault.backup import MAX_BACKUP_BYTES, BackupTooLarge
from idp.vault.errors import EmployeeNotFound
from idp.vault.service import VaultService

ACTIONS = frozenset({"export", "import"})
Subs: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Command: TypeAlias = Callable[..., argparse.ArgumentParser]
ReadSecret: TypeAlias = Callable[[Path | None, str], str]


def add_parsers(accounts: Subs, command: Command) -> None:
    export = command(accounts, "export", "write an employee's accounts to an encrypted file")
    export.add_argument("--employee", required=True, help="username")
    export.add_argument("--out", type=Path, required=True, help="the backup file to write")
    export.add_argument("--passphrase-file", type=Path, help="'-' for stdin; else a prompt")
    restore = command(accounts, "import", "restore accounts from a backup (a conflict report)")
    restore.add_argument("file", type=Path, help="a file written by key-account export")
    restore.add_argument("--employee", required=True, help="username to restore to")
    restore.add_argument(
        "--on-conflict",
        required=True,
        choices=[c.value for c in OnConflict],
        help="an account with the same login and URL exists: keep it or overwrite it",
    )
    restore.add_argument("--passphrase-file", type=Path, help="'-' for stdin; else a prompt")
    restore.add_argument("--json", action="store_true", help="print the report as JSON")


def _read_backup(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            blob = file.read(MAX_BACKUP_BYTES + 1)
    except OSError as exc:
        raise InvalidRequest(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if len(blob) > MAX_BACKUP_BYTES:
        raise BackupTooLarge(f"{path}: a backup is at most {MAX_BACKUP_BYTES} bytes")
    return blob


def run(
    runtime: Runtime, vault: VaultService, args: argparse.Namespace, read_secret: ReadSecret
) -> int:
    """``read_secret(path, prompt)``: the CLI's one way to read a secret (file, ``-``, prompt)."""
    employee = runtime.employees.get_by_username(args.employee)
    if employee is None:
        raise EmployeeNotFound(f"--employee: no employee {args.employee!r}")
    passphrase = read_secret(args.passphrase_file, "backup passphrase: ")
    try:
        if args.action == "export":
            return _export(
                BackupAdmin(runtime, vault), employee.id, args, BackupExport(passphrase=passphrase)
            )
        form = RestoreForm(passphrase=passphrase, on_conflict=args.on_conflict)
    except ValidationError as exc:
        raise InvalidRequest(f"passphrase: {exc.errors()[0]['msg']}") from None
    return _import(BackupAdmin(runtime, vault), employee.id, args, form)


def _export(
    backups: BackupAdmin, employee_id: str, args: argparse.Namespace, body: BackupExport
) -> int:
    made = backups.export(CLI, employee_id, body)
    try:
        args.out.write_bytes(made.content)
    except OSError as exc:
        raise InvalidRequest(f"--out {args.out}: cannot write it ({exc.strerror})") from None
    print(f"{made.accounts} accounts of {made.employee} written to {args.out}")
    return 0


def _import(
    backups: BackupAdmin, employee_id: str, args: argparse.Namespace, form: RestoreForm
) -> int:
    report = backups.restore(CLI, employee_id, form, backup=_read_backup(args.file))
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2, sort_keys=True))
        return 0
    for item in report.accounts:
        print(f"{item.action.value:<9} {item.name:<24} {item.login:<28} {item.url or '-'}")
    print(
        f"backup of {report.backup_of} ({report.exported_at}) restored to {report.employee}: "
        f"{report.added} added, {report.replaced} replaced, {report.skipped} skipped"
    )
    return 0

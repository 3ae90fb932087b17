"""``/api/v1/employees/{employee_id}/key-accounts/backup`` and ``…/restore``: the encrypted
backup of an employee's key accounts (a download) and its restore (an upload)."""

from __future__ import annotations

from flask_idp.api import operation, services
from idp.admin.access import Actor
from idp.admin.backup import MEDIA_TYPE, BackupExport, ExportedBackup, RestoreForm, RestoreReport
from idp.admin.backup import BackupAdmin as B
from idp.vault.backup import MAX_BACKUP_BYTES

TAG = "key-accounts"
ONE = "/employees/{employee_id}/key-accounts"


@operation(
    "POST",
    f"{ONE}/backup",
    summary="Download the employee's key accounts as a passphrase-protected file",
    tag=TAG,
    needs=B.export,
    body=BackupExport,
    response=ExportedBackup,
    download=MEDIA_TYPE,
)
def export_key_accounts(actor: Actor, *, employee_id: str, body: BackupExport) -> ExportedBackup:
    return services().backup.export(actor, employee_id, body)


@operation(
    "POST",
    f"{ONE}/restore",
    summary="Restore key accounts from a backup file (multipart: backup, passphrase, "
    "on_conflict); the report lists what became of each",
    tag=TAG,
    needs=B.restore,
    body=RestoreForm,
    response=RestoreReport,
    upload="backup",
    max_body=MAX_BACKUP_BYTES + 16 * 1024,
)
def restore_key_accounts(
    actor: Actor, *, employee_id: str, body: RestoreForm, backup: bytes
) -> RestoreReport:
    return services().backup.restore(actor, employee_id, body, backup=backup)

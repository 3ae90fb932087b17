"""The console page for an employee's key account backup: download an encrypted backup and
restore one with a conflict report. Both carry secrets: admins only, after a fresh sign-in."""

from __future__ import annotations

from flask import Response, make_response, request
from pydantic import ValidationError

from flask_idp.api import read_upload, services
from flask_idp.api.problems import invalid_input
from flask_idp.console import actor, bp, page, posted, sensitive
from idp.admin.access import Permission, check
from idp.admin.backup import MEDIA_TYPE, BackupExport, RestoreForm, RestoreInProgress
from idp.admin.models import InvalidInput
from idp.errors import InvalidRequest
from idp.vault.account_backup import OnConflict
from idp.vault.backup import MAX_BACKUP_BYTES

ONE = "/employees/<employee_id>/key-backup"
_LIMIT = MAX_BACKUP_BYTES + 16 * 1024


def _page(employee_id: str, status: int = 200, **values: object) -> Response:
    employee = services().employees.get(actor(), employee_id)
    values = {"errors": {}, "report": None, "problem": None, **values}
    return page("key_backup.html", status, employee=employee, choices=list(OnConflict), **values)


@bp.get(ONE)
def key_backup(employee_id: str) -> Response:
    check(actor(), Permission.SECRETS)  # the page offers nothing to anyone else
    return _page(employee_id)


@bp.post(f"{ONE}/export")
def key_backup_export(employee_id: str) -> Response:
    posted()
    sensitive()
    try:
        body = BackupExport.model_validate({"passphrase": request.form.get("passphrase", "")})
    except ValidationError as exc:
        return _page(employee_id, 422, errors=_errors(invalid_input(exc)))
    made = services().backup.export(actor(), employee_id, body)
    response = make_response(made.content)
    response.mimetype = MEDIA_TYPE
    response.headers["Content-Disposition"] = f'attachment; filename="{made.filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post(f"{ONE}/restore")
def key_backup_restore(employee_id: str) -> Response:
    request.max_content_length = _LIMIT  # before the CSRF check parses the form
    if (request.content_length or 0) > _LIMIT:
        return _page(employee_id, 413, problem=f"a backup is at most {MAX_BACKUP_BYTES} bytes")
    posted()
    sensitive()
    try:
        form, blob = read_upload(RestoreForm, "backup", _LIMIT, skip=("csrf",))
        assert isinstance(form, RestoreForm)
        report = services().backup.restore(actor(), employee_id, form, backup=blob)
    except ValidationError as exc:
        return _page(employee_id, 422, errors=_errors(invalid_input(exc)))
    except (InvalidRequest, RestoreInProgress) as exc:
        return _page(employee_id, exc.status, problem=exc.description)
    return _page(employee_id, report=report)


def _errors(exc: InvalidInput) -> dict[str, str]:
    return {e.field: e.message for e in exc.errors}

"""Console pages for employees: the list, adding one, the detail page and its actions."""

from __future__ import annotations

from flask import Response, request
from pydantic import ValidationError

from flask_idp.api import services
from flask_idp.api.problems import invalid_input
from flask_idp.console import actor, bp, done, page, posted, sensitive
from flask_idp.console.views_keys import employee_keys, keys_attention
from idp.admin.audit_views import AuditQuery
from idp.admin.employee_models import EmployeeCreate, EmployeeQuery, EmployeeUpdate
from idp.admin.models import InvalidInput, etag_of
from idp.directory.model import SsoMode

_FORM_FIELDS = ("username", "email", "first_name", "last_name", "phone", "sso_mode")
SORTS = {
    "username": "Username",
    "-created_at": "Newest first",
    "last_name": "Last name",
    "email": "E-mail",
}


def _errors(exc: InvalidInput) -> dict[str, str]:
    return {e.field.split(".")[0]: e.message for e in exc.errors}


@bp.get("")
def dashboard() -> Response:
    svc = services()
    admins = len(svc.accounts.list_admins(actor()))
    board = svc.audit.dashboard(actor(), admins=admins)
    recent = svc.audit.page(actor(), AuditQuery(limit=10)).items
    peak = max([h.count for h in board.sign_ins_per_hour] + [1])
    return page("dashboard.html", board=board, recent=recent, peak=peak, **keys_attention())


@bp.get("/employees")
def employees() -> Response:
    args = {k: v for k, v in request.args.items() if k in ("search", "sort", "cursor") and v}
    status = request.args.get("status", "")
    if status in ("enabled", "disabled"):
        args["enabled"] = status == "enabled"  # type: ignore[assignment]
    try:
        query = EmployeeQuery.model_validate({**args, "limit": 25})
        listing = services().employees.page(actor(), query)
    except ValidationError as exc:
        raise invalid_input(exc) from None
    return page("employees.html", listing=listing, query=query, state=status, sorts=SORTS)


@bp.get("/employees/new")
def new_employee() -> Response:
    return page("employee_new.html", form={}, errors={}, modes=list(SsoMode))


@bp.post("/employees")
def create_employee() -> Response:
    posted()
    form = {k: request.form.get(k, "") for k in _FORM_FIELDS}
    values = {k: v for k, v in form.items() if v != ""}
    try:
        created = services().employees.create(actor(), EmployeeCreate.model_validate(values))
    except ValidationError as exc:
        return _form_again(form, _errors(invalid_input(exc)))
    except InvalidInput as exc:
        return _form_again(form, _errors(exc))
    return done(f"/console/employees/{created.id}", "created")


def _form_again(form: dict[str, str], errors: dict[str, str]) -> Response:
    return page("employee_new.html", 422, form=form, errors=errors, modes=list(SsoMode))


@bp.get("/employees/<employee_id>")
def employee(employee_id: str, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    svc, who = services(), actor()
    shown = svc.employees.get(who, employee_id)
    return page(
        "employee.html",
        status,
        employee=shown,
        etag=etag_of(shown),
        passkeys=svc.employees.passkeys(who, employee_id),
        sessions=svc.employees.sessions(who, employee_id),
        password=svc.employees.password(who, employee_id),
        factors=svc.devices.factors(who, employee_id),
        errors=errors or {},
        modes=list(SsoMode),
        **employee_keys(employee_id),
    )


@bp.post("/employees/<employee_id>")
def update_employee(employee_id: str) -> Response:
    posted()
    fields = ("email", "first_name", "last_name", "phone", "sso_mode")
    values = {k: request.form.get(k, "") for k in fields}
    if not values["sso_mode"]:
        del values["sso_mode"]
    try:
        body = EmployeeUpdate.model_validate(values)
        services().employees.update(
            actor(), employee_id, body, if_match=request.form.get("etag", "")
        )
    except ValidationError as exc:
        return employee(employee_id, _errors(invalid_input(exc)), 422)
    except InvalidInput as exc:
        return employee(employee_id, _errors(exc), 422)
    return done(f"/console/employees/{employee_id}", "saved")


@bp.post("/employees/<employee_id>/disable")
def disable_employee(employee_id: str) -> Response:
    posted()
    services().employees.set_enabled(actor(), employee_id, False)
    return done(f"/console/employees/{employee_id}", "disabled")


@bp.post("/employees/<employee_id>/enable")
def enable_employee(employee_id: str) -> Response:
    posted()
    services().employees.set_enabled(actor(), employee_id, True)
    return done(f"/console/employees/{employee_id}", "enabled")


@bp.post("/employees/<employee_id>/delete")
def delete_employee(employee_id: str) -> Response:
    """Deleting cannot be undone: it asks for a sign-in within the last minutes."""
    posted()
    sensitive()
    services().employees.delete(actor(), employee_id, if_match=request.form.get("etag") or None)
    return done("/console/employees", "deleted")


@bp.post("/employees/<employee_id>/enrolment-link")
def enrolment_link(employee_id: str) -> Response:
    posted()
    svc = services()
    link = svc.employees.enrolment_link(actor(), employee_id)
    shown = svc.employees.get(actor(), employee_id)
    # shown once, in this answer, never in a URL that could be logged or bookmarked
    return page("enrolment_link.html", employee=shown, link=link)


@bp.post("/employees/<employee_id>/passkeys/revoke")
def revoke_passkey(employee_id: str) -> Response:
    posted()
    credential_id = request.form.get("credential_id", "")
    services().employees.revoke_passkey(actor(), employee_id, credential_id)
    return done(f"/console/employees/{employee_id}", "revoked")


@bp.post("/employees/<employee_id>/sessions/end")
def end_sessions(employee_id: str) -> Response:
    posted()
    handle = request.form.get("handle") or None
    services().employees.end_sessions(actor(), employee_id, handle=handle)
    return done(f"/console/employees/{employee_id}", "ended")


@bp.post("/employees/<employee_id>/password/unlock")
def unlock_password(employee_id: str) -> Response:
    posted()
    services().employees.unlock_password(actor(), employee_id)
    return done(f"/console/employees/{employee_id}", "unlocked")


@bp.post("/employees/<employee_id>/app/<any(disable,enable,remove):action>")
def app_action(employee_id: str, action: str) -> Response:
    posted()
    devices = services().devices
    if action == "remove":
        devices.remove_app(actor(), employee_id)
    else:
        devices.set_app_enabled(actor(), employee_id, action == "enable")
    return done(f"/console/employees/{employee_id}", f"app_{action}d")


@bp.post("/employees/<employee_id>/totp/remove")
def remove_totp(employee_id: str) -> Response:
    posted()
    services().devices.remove_totp(actor(), employee_id)
    return done(f"/console/employees/{employee_id}", "totp_removed")

"""Console pages for the accounts on the keys: an employee's key and accounts (a section of
the employee's page, with its own actions), shared accounts (an edit fans out to every
holder's key) and account templates. Password and OTP fields appear only to admins who hold
the ``secrets`` permission; nothing ever shows a stored secret."""

from __future__ import annotations

from flask import Response, request

from flask_idp.api import services
from flask_idp.console import actor, bp, done, page, posted
from flask_idp.console.views_employees import employee
from flask_idp.console.views_keys import employee_named, form_errors, model_of
from idp.admin.access import Permission
from idp.admin.keys_models import (
    KeyAccountCreate,
    SharedAccountCreate,
    SharedAccountUpdate,
    ShareIn,
    TemplateCreate,
    TemplateUpdate,
)
from idp.admin.models import etag_of
from idp.errors import InvalidRequest
from idp.vault.errors import NameTaken
from idp.vault.model import LoginType

_ACCOUNT_FIELDS = ("name", "login", "login_type", "password", "otp_secret", "template_id")


def _lines(name: str) -> list[str]:
    return [v.strip() for v in request.form.get(name, "").splitlines() if v.strip()][:33]


def _account_values(fields: tuple[str, ...]) -> dict[str, object]:
    """The form's non-empty fields; URLs and apps one per line."""
    values: dict[str, object] = {k: request.form[k] for k in fields if request.form.get(k)}
    for name in ("urls", "apps"):
        if request.form.get(name, "").strip():
            values[name] = _lines(name)
    return values


def _employee_again(employee_id: str, exc: InvalidRequest) -> Response:
    errors = {f"key_{k}": v for k, v in form_errors(exc).items()}
    return employee(employee_id, errors, exc.status)


@bp.post("/employees/<employee_id>/key-accounts")
def create_key_account(employee_id: str) -> Response:
    posted()
    values = _account_values(_ACCOUNT_FIELDS)
    values["skip_password"] = request.form.get("skip_password") == "on"
    try:
        body = model_of(KeyAccountCreate, values)
        services().key_accounts.create(actor(), employee_id, body)
    except InvalidRequest as exc:
        return _employee_again(employee_id, exc)
    return done(f"/console/employees/{employee_id[:64]}", "added")


@bp.post("/employees/<employee_id>/key-accounts/<account_id>/<any(primary,delete):action>")
def key_account_action(employee_id: str, account_id: str, action: str) -> Response:
    posted()
    accounts = services().key_accounts
    if action == "primary":
        accounts.set_primary(actor(), account_id)
    else:
        accounts.delete(actor(), account_id, if_match=None)
    return done(f"/console/employees/{employee_id[:64]}", f"account_{action}")


# -- shared accounts -------------------------------------------------------------------------


@bp.get("/shared-accounts")
def shared_accounts(errors: dict[str, str] | None = None, status: int = 200) -> Response:
    who = actor()
    listing = services().key_accounts.shared_list(who).items
    return page(
        "shared_accounts.html", status, accounts=listing, types=list(LoginType),
        secrets=who.may(Permission.SECRETS), errors=errors or {},
    )  # fmt: skip


@bp.post("/shared-accounts")
def create_shared_account() -> Response:
    posted()
    try:
        body = model_of(SharedAccountCreate, _account_values(_ACCOUNT_FIELDS[:5]))
        made = services().key_accounts.shared_create(actor(), body)
    except InvalidRequest as exc:
        return shared_accounts(form_errors(exc), exc.status)
    return done(f"/console/shared-accounts/{made.id}", "added")


@bp.get("/shared-accounts/<shared_id>")
def shared_account(
    shared_id: str, errors: dict[str, str] | None = None, status: int = 200, queued: int = -1
) -> Response:
    who = actor()
    shown = services().key_accounts.shared_get(who, shared_id)
    return page(
        "shared_account.html", status, account=shown, etag=etag_of(shown), types=list(LoginType),
        secrets=who.may(Permission.SECRETS), errors=errors or {}, queued=queued,
    )  # fmt: skip


@bp.post("/shared-accounts/<shared_id>")
def update_shared_account(shared_id: str) -> Response:
    posted()
    try:
        body = model_of(SharedAccountUpdate, _account_values(_ACCOUNT_FIELDS[:5]))
        edited = services().key_accounts.shared_update(
            actor(), shared_id, body, if_match=request.form.get("etag", "")
        )
    except InvalidRequest as exc:
        return shared_account(shared_id, form_errors(exc), exc.status)
    return shared_account(edited.account.id, queued=len(edited.queued_for))


@bp.post("/shared-accounts/<shared_id>/holders")
def share_account(shared_id: str) -> Response:
    posted()
    try:
        body = ShareIn(employee_id=employee_named("username"))
        services().key_accounts.share(actor(), shared_id, body)
    except InvalidRequest as exc:
        return shared_account(shared_id, form_errors(exc), exc.status)
    return done(f"/console/shared-accounts/{shared_id[:64]}", "added")


@bp.post("/shared-accounts/<shared_id>/delete")
def delete_shared_account(shared_id: str) -> Response:
    posted()
    services().key_accounts.shared_delete(
        actor(), shared_id, if_match=request.form.get("etag") or None
    )
    return done("/console/shared-accounts", "deleted_it")


# -- templates -------------------------------------------------------------------------------


@bp.get("/key-templates")
def key_templates(errors: dict[str, str] | None = None, status: int = 200) -> Response:
    listing = services().key_accounts.templates(actor()).items
    return page("templates.html", status, templates=listing, errors=errors or {})


@bp.post("/key-templates")
def create_key_template() -> Response:
    posted()
    try:
        values = _account_values(("name",))
        services().key_accounts.create_template(actor(), model_of(TemplateCreate, values))
    except InvalidRequest as exc:
        return key_templates(form_errors(exc), exc.status)
    return done("/console/key-templates", "added")


@bp.get("/key-templates/<template_id>")
def key_template(
    template_id: str, errors: dict[str, str] | None = None, status: int = 200
) -> Response:
    shown = services().key_accounts.template(actor(), template_id)
    return page("template.html", status, item=shown, etag=etag_of(shown), errors=errors or {})


@bp.post("/key-templates/<template_id>")
def update_key_template(template_id: str) -> Response:
    """The whole form: an emptied URL or app box removes them all."""
    posted()
    values: dict[str, object] = {
        "name": request.form.get("name", ""), "urls": _lines("urls"), "apps": _lines("apps"),
    }  # fmt: skip
    try:
        services().key_accounts.update_template(
            actor(), template_id, model_of(TemplateUpdate, values),
            if_match=request.form.get("etag", ""),
        )  # fmt: skip
    except InvalidRequest as exc:
        return key_template(template_id, form_errors(exc), exc.status)
    except NameTaken as exc:
        return key_template(template_id, {"name": exc.description}, exc.status)
    return done(f"/console/key-templates/{template_id[:64]}", "saved")


@bp.post("/key-templates/<template_id>/delete")
def delete_key_template(template_id: str) -> Response:
    posted()
    services().key_accounts.delete_template(actor(), template_id)
    return done("/console/key-templates", "deleted_it")

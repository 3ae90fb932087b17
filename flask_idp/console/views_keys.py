"""Console pages for Hideez Keys: the list (filter, import), a key's page with its lifecycle
actions — assign and suspend show the new activation code once, on the answer page, never in a
URL; compromise asks for a sign-in of the last minutes — and the access profiles."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Response, request
from pydantic import BaseModel, ValidationError

from flask_idp.api import services
from flask_idp.api.problems import invalid_input
from flask_idp.console import actor, bp, done, page, posted, sensitive
from flask_idp.web import runtime
from idp.admin.access import Permission
from idp.admin.keys_models import (
    AssignIn,
    DeactivateIn,
    KeyCodeOut,
    KeyImportIn,
    KeyProfileSet,
    KeyQuery,
    ProfileCreate,
    ProfileUpdate,
    RequirementModel,
)
from idp.admin.models import InvalidInput, etag_of, field_error
from idp.errors import InvalidRequest
from idp.vault.errors import VaultSecretsLocked
from idp.vault.model import LoginType
from idp.vault.states import DEACTIVATION_REASONS, VaultStatus

M = TypeVar("M", bound=BaseModel)
ONE = "/keys/<serial>"
_STAGES = ("pairing", "connection", "storage")
_FLAGS = ("button", "pin", "master_key")
REASONS = sorted(r.value for r in DEACTIVATION_REASONS)


def employee_named(field: str) -> str:
    """The id of the employee whose username the form's ``field`` names (a 422 beside it)."""
    username = request.form.get(field, "").strip()[:128]
    employee = runtime().employees.get_by_username(username) if username else None
    if employee is None:
        raise field_error(field, f"no employee with username {username!r}")
    return employee.id


def form_errors(exc: InvalidRequest) -> dict[str, str]:
    if isinstance(exc, InvalidInput):
        return {e.field.split(".")[0]: e.message for e in exc.errors}
    return {"form": exc.description}


def model_of(model: type[M], values: dict[str, object]) -> M:
    """The form's values as ``model``, or the field errors as :class:`InvalidInput`."""
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise invalid_input(exc) from None


@bp.get("/keys")
def keys(errors: dict[str, str] | None = None, status: int = 200) -> Response:
    wanted = ("status", "sort", "cursor", "employee_id", "q")
    args = {k: v for k, v in request.args.items() if k in wanted and v}
    query = model_of(KeyQuery, {**args, "limit": 25})
    svc = services().keys
    return page(
        "keys.html", status, listing=svc.page(actor(), query), query=query,
        statuses=list(VaultStatus), errors=errors or {},
    )  # fmt: skip


@bp.post("/keys")
def import_keys() -> Response:
    """One key per line: serial,mac,model,firmware (the vendor's list without its header)."""
    posted()
    lines = [line.strip() for line in request.form.get("keys", "").splitlines() if line.strip()]
    try:
        items = []
        for number, line in enumerate(lines[:500], start=1):
            parts = [p.strip() for p in line.split(",")]
            if len(parts) != 4:
                raise field_error("keys", f"line {number}: expected serial,mac,model,firmware")
            items.append(dict(zip(("serial", "mac", "model", "firmware"), parts, strict=True)))
        body = model_of(KeyImportIn, {"keys": items})
        services().keys.import_keys(actor(), body)
    except InvalidRequest as exc:
        return keys(form_errors(exc), exc.status)
    return done("/console/keys", "keys_imported")


def _key_page(serial: str, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    svc, who = services(), actor()
    shown = svc.keys.get(who, serial)
    return page(
        "key.html", status, detail=shown, key=shown.key, etag=etag_of(shown),
        profiles=svc.keys.profiles(who).items, reasons=REASONS, errors=errors or {},
    )  # fmt: skip


@bp.get(ONE)
def key(serial: str) -> Response:
    return _key_page(serial)


def _code_page(done: KeyCodeOut, what: str) -> Response:
    response = page("key_code.html", key=done.key, code=done.activation_code, what=what)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post(f"{ONE}/assign")
def assign_key(serial: str) -> Response:
    posted()
    try:
        body = AssignIn(employee_id=employee_named("username"))
        assigned = services().keys.assign(actor(), serial, body)
    except InvalidRequest as exc:
        return _key_page(serial, form_errors(exc), exc.status)
    return _code_page(assigned, "assigned")


@bp.post(f"{ONE}/suspend")
def suspend_key(serial: str) -> Response:
    posted()
    return _code_page(services().keys.suspend(actor(), serial), "suspended")


@bp.post(f"{ONE}/cancel")
def cancel_key(serial: str) -> Response:
    posted()
    cancelled = services().keys.cancel(actor(), serial)
    return done(f"/console/keys/{cancelled.serial}", "key_cancelled")


@bp.post(f"{ONE}/deactivate")
def deactivate_key(serial: str) -> Response:
    posted()
    try:
        body = model_of(DeactivateIn, {"reason": request.form.get("reason", "")})
        gone = services().keys.deactivate(actor(), serial, body)
    except InvalidRequest as exc:
        return _key_page(serial, form_errors(exc), exc.status)
    return done(f"/console/keys/{gone.serial}", "key_deactivated")


@bp.post(f"{ONE}/compromise")
def compromise_key(serial: str) -> Response:
    """Cannot be undone: a sign-in of the last minutes, or off to sign in again and back."""
    posted()
    sensitive()
    marked = services().keys.compromise(actor(), serial)
    return done(f"/console/keys/{marked.serial}", "key_compromised")


@bp.post(f"{ONE}/profile")
def set_key_profile(serial: str) -> Response:
    posted()
    try:
        body = model_of(KeyProfileSet, {"profile_id": request.form.get("profile_id", "")})
        services().keys.set_profile(actor(), serial, body, if_match=request.form.get("etag"))
    except InvalidInput as exc:
        return _key_page(serial, form_errors(exc), exc.status)
    return done(f"/console/keys/{serial[:64]}", "saved")


def employee_keys(employee_id: str) -> dict[str, Any]:
    """What the employee's page shows about keys (``key_section``): their key, its accounts
    and the templates — or that the secrets are locked."""
    svc, who = services(), actor()
    try:
        return {
            "key_section": {
                "key": svc.keys.of_employee(who, employee_id),
                "accounts": svc.key_accounts.accounts(who, employee_id).items,
                "templates": svc.key_accounts.templates(who).items,
                "types": list(LoginType),
                "secrets": who.may(Permission.SECRETS),
            }
        }
    except VaultSecretsLocked as exc:
        return {"key_section": {"locked": exc.description}}


def keys_attention() -> dict[str, Any]:
    """What the dashboard shows about keys (``attention``): the keys waiting for an admin,
    or that the secrets are locked."""
    try:
        return {"attention": services().keys.attention(actor()), "attention_locked": None}
    except VaultSecretsLocked as exc:
        return {"attention": [], "attention_locked": exc.description}


# -- access profiles -------------------------------------------------------------------------


def _profile_values() -> dict[str, object]:
    form = request.form
    values: dict[str, object] = {
        stage: RequirementModel(**{f: form.get(f"{stage}_{f}") == "on" for f in _FLAGS})
        for stage in _STAGES
    }
    for name in ("name", "pin_length", "pin_attempts"):
        if form.get(name, "") != "":
            values[name] = form[name]
    hours = form.get("pin_expiry_hours", "")
    if hours != "":
        try:
            values["pin_expiry_seconds"] = round(float(hours) * 3600)
        except ValueError:
            message = f"expected a number of hours, got {hours[:20]!r}"
            raise field_error("pin_expiry_hours", message) from None
    return values


@bp.get("/key-profiles")
def profiles(errors: dict[str, str] | None = None, status: int = 200) -> Response:
    listing = services().keys.profiles(actor()).items
    return page("profiles.html", status, profiles=listing, errors=errors or {})


@bp.post("/key-profiles")
def create_profile() -> Response:
    posted()
    try:
        body = model_of(ProfileCreate, _profile_values())
        made = services().keys.create_profile(actor(), body)
    except InvalidRequest as exc:
        return profiles(form_errors(exc), exc.status)
    return done(f"/console/key-profiles/{made.id}", "added")


@bp.get("/key-profiles/<profile_id>")
def profile(profile_id: str, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    shown = services().keys.profile(actor(), profile_id)
    return page("profile.html", status, profile=shown, etag=etag_of(shown), errors=errors or {})


@bp.post("/key-profiles/<profile_id>")
def update_profile(profile_id: str) -> Response:
    posted()
    try:
        body = model_of(ProfileUpdate, _profile_values())
        services().keys.update_profile(
            actor(), profile_id, body, if_match=request.form.get("etag", "")
        )
    except InvalidRequest as exc:
        return profile(profile_id, form_errors(exc), exc.status)
    return done(f"/console/key-profiles/{profile_id[:64]}", "saved")


@bp.post("/key-profiles/<profile_id>/delete")
def delete_profile(profile_id: str) -> Response:
    posted()
    services().keys.delete_profile(actor(), profile_id, if_match=request.form.get("etag") or None)
    return done("/console/key-profiles", "deleted_it")

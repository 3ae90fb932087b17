"""Console pages for workstations (list, detail, approve/unapprove/remove/lock, proximity
settings) and the emergency alarm (raise; lift after a fresh sign-in)."""

from __future__ import annotations

from flask import Response, request
from pydantic import ValidationError

from flask_idp.api import services
from flask_idp.api.problems import invalid_input
from flask_idp.console import actor, bp, done, page, posted, sensitive
from idp.admin.models import InvalidInput, etag_of
from idp.admin.workstation_service import SettingsUpdate, StatusAction, WorkstationQuery
from idp.workstations.model import WorkstationStatus

ONE = "/workstations/<workstation_id>"


@bp.get("/workstations")
def workstations() -> Response:
    args = {k: v for k, v in request.args.items() if k in ("search", "status", "cursor") and v}
    try:
        query = WorkstationQuery.model_validate({**args, "limit": 25})
    except ValidationError as exc:
        raise invalid_input(exc) from None
    listing = services().workstations.page(actor(), query)
    return page("workstations.html", listing=listing, query=query, statuses=list(WorkstationStatus))


@bp.get(ONE)
def workstation(workstation_id: str) -> Response:
    found = services().workstations.get(actor(), workstation_id)
    return page("workstation.html", ws=found, etag=etag_of(found), errors={})


@bp.post(f"{ONE}/<any(approve,unapprove,remove):action>")
def workstation_status(workstation_id: str, action: str) -> Response:
    posted()
    changed = services().workstations.set_status(actor(), workstation_id, StatusAction(action))
    return done(f"/console/workstations/{changed.id}", "ws_status")


@bp.post(f"{ONE}/lock")
def lock_workstation(workstation_id: str) -> Response:
    posted()
    locked = services().workstations.lock(actor(), workstation_id)
    return done(f"/console/workstations/{locked.id}", "ws_locked")


@bp.post(f"{ONE}/settings")
def workstation_settings(workstation_id: str) -> Response:
    posted()
    fields = ("lock_proximity", "unlock_proximity", "lock_timeout")
    svc = services().workstations
    try:
        body = SettingsUpdate.model_validate({f: request.form.get(f, "") for f in fields})
        svc.update_settings(actor(), workstation_id, body, if_match=request.form.get("etag"))
    except ValidationError as exc:
        return _settings_again(workstation_id, invalid_input(exc))
    except InvalidInput as exc:
        return _settings_again(workstation_id, exc)
    return done(f"/console/workstations/{workstation_id[:64]}", "saved")


def _settings_again(workstation_id: str, exc: InvalidInput) -> Response:
    errors = {e.field: e.message for e in exc.errors}
    found = services().workstations.get(actor(), workstation_id)
    return page("workstation.html", 422, ws=found, etag=etag_of(found), errors=errors)


@bp.get("/alarm")
def alarm() -> Response:
    return page("alarm.html", alarm=services().workstations.alarm(actor()))


@bp.post("/alarm/on")
def alarm_on() -> Response:
    posted()
    services().workstations.raise_alarm(actor())
    return done("/console/alarm", "alarm_on")


@bp.post("/alarm/off")
def alarm_off() -> Response:
    posted()
    sensitive()  # a sign-in of the last minutes, or off to sign in again and back
    services().workstations.lift_alarm(actor())
    return done("/console/alarm", "alarm_off")

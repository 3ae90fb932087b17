"""Console pages for the workstation audit: the events, the sessions and the four summaries,
each with a CSV export of the same filter (every summary row; events and sessions up to the
export cap). The sessions' from/to fields are UTC times (a browser's datetime-local input
sends them without a zone)."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar

from flask import Response, request
from pydantic import BaseModel, ValidationError

from flask_idp.api import services
from flask_idp.api.problems import invalid_input
from flask_idp.console import actor, bp, page
from idp.admin.workstation_audit import (
    SummaryQuery,
    WorkstationEventQuery,
    WorkstationSessionQuery,
)
from idp.errors import NotFound
from idp.workstations.summaries import SummaryKind

Q = TypeVar("Q", bound=BaseModel)
_EVENT_ARGS = ("workstation_id", "employee", "cursor")
_SESSION_ARGS = ("workstation_id", "employee", "since", "until", "cursor")
_SUMMARY_ARGS = ("since", "until", "employee", "department_id", "workstation_id", "cursor")
TITLES = {
    SummaryKind.DAY_AND_EMPLOYEE: "By day and employee",
    SummaryKind.EMPLOYEE: "By employee",
    SummaryKind.DEPARTMENT: "By department",
    SummaryKind.WORKSTATION: "By workstation",
}


def _utc(value: str) -> str:
    """A time without a zone, as the console's from/to fields send it, is UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value  # the model says what is wrong with it
    return parsed.replace(tzinfo=parsed.tzinfo or dt.UTC).isoformat()


def _query(model: type[Q], names: tuple[str, ...], limit: int) -> Q:
    args = {k: v for k, v in request.args.items() if k in names and v}
    for name in ("since", "until"):
        if model is WorkstationSessionQuery and name in args:
            args[name] = _utc(args[name])
    try:
        return model.model_validate({**args, "limit": limit})
    except ValidationError as exc:
        raise invalid_input(exc) from None


def _csv(body: str, filename: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _kind(kind: str) -> SummaryKind:
    try:
        return SummaryKind(kind)
    except ValueError:
        raise NotFound(f"no summary {kind[:40]!r}") from None


@bp.get("/workstation-events")
def workstation_events() -> Response:
    query = _query(WorkstationEventQuery, _EVENT_ARGS, 50)
    listing = services().workstation_audit.events(actor(), query)
    return page("workstation_events.html", listing=listing, query=query)


@bp.get("/workstation-events.csv")
def workstation_events_csv() -> Response:
    query = _query(WorkstationEventQuery, _EVENT_ARGS, 50)
    listing = services().workstation_audit.events(actor(), query, everything=True)
    return _csv(listing.to_csv(), "workstation-events.csv")


@bp.get("/workstation-sessions")
def workstation_sessions() -> Response:
    query = _query(WorkstationSessionQuery, _SESSION_ARGS, 50)
    listing = services().workstation_audit.sessions(actor(), query)
    filters = {k: v for k, v in request.args.items() if k in _SESSION_ARGS[:-1] and v}
    return page("workstation_sessions.html", listing=listing, query=query, filters=filters)


@bp.get("/workstation-sessions.csv")
def workstation_sessions_csv() -> Response:
    query = _query(WorkstationSessionQuery, _SESSION_ARGS, 50)
    listing = services().workstation_audit.sessions(actor(), query, everything=True)
    return _csv(listing.to_csv(), "workstation-sessions.csv")


@bp.get("/workstation-summaries/<kind>")
def workstation_summary(kind: str) -> Response:
    chosen = _kind(kind)
    query = _query(SummaryQuery, _SUMMARY_ARGS, 100)
    listing = services().workstation_audit.summary(actor(), chosen, query)
    filters = {k: v for k, v in request.args.items() if k in _SUMMARY_ARGS[:-1] and v}
    return page("workstation_summary.html", listing=listing, query=query, kind=chosen,
                titles=TITLES, filters=filters)  # fmt: skip


@bp.get("/workstation-summaries/<kind>.csv")
def workstation_summary_csv(kind: str) -> Response:
    chosen = _kind(kind)
    query = _query(SummaryQuery, _SUMMARY_ARGS, 100)
    listing = services().workstation_audit.summary(actor(), chosen, query, everything=True)
    return _csv(listing.to_csv(), f"workstation-summary-{chosen.value}.csv")

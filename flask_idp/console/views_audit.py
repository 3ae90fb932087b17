"""Console pages for the audit trail (with a CSV export), relying parties and admin access."""

from __future__ import annotations

import csv
import io

from flask import Response, request
from pydantic import ValidationError

from flask_idp.api import services
from flask_idp.api.problems import invalid_input
from flask_idp.console import actor, bp, page
from idp.admin.audit_views import MAX_PAGE, AuditEventOut, AuditQuery
from idp.audit import AuditKind

#: a spreadsheet runs a cell that starts with one of these as a formula (CSV injection)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
#: the export's cap (newest first): a longer trail is exported in filtered pieces
CSV_ROWS = 5000


def _query(limit: int, cursor: str | None = None) -> AuditQuery:
    args = {k: v for k, v in request.args.items() if k in ("kind", "employee_id", "cursor") and v}
    if cursor:
        args["cursor"] = cursor
    try:
        return AuditQuery.model_validate({**args, "limit": limit})
    except ValidationError as exc:
        raise invalid_input(exc) from None


@bp.get("/audit")
def audit() -> Response:
    query = _query(50)
    listing = services().audit.page(actor(), query)
    chain = services().audit.verify(actor()) if request.args.get("verify") else None
    return page("audit.html", listing=listing, query=query, kinds=list(AuditKind), chain=chain)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def _row(e: AuditEventOut) -> list[str]:
    details = "; ".join(f"{k}={v}" for k, v in sorted(e.details.items()))
    values = (
        e.seq,
        e.at.isoformat(),
        e.kind.value,
        e.outcome.value,
        e.actor_username or e.actor,
        e.employee_username,
        e.relying_party,
        e.factor,
        e.reason,
        details,
    )
    return [_cell(v) for v in values]


@bp.get("/audit.csv")
def audit_csv() -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "seq",
            "at",
            "event",
            "outcome",
            "actor",
            "employee",
            "relying_party",
            "factor",
            "reason",
            "details",
        ]
    )
    cursor, written = None, 0
    while written < CSV_ROWS:
        listing = services().audit.page(actor(), _query(MAX_PAGE, cursor))
        writer.writerows(_row(e) for e in listing.items)
        written += len(listing.items)
        cursor = listing.next_cursor
        if cursor is None:
            break
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit.csv"'
    return response


@bp.get("/relying-parties")
def relying_parties() -> Response:
    return page("relying_parties.html", parties=services().relying_parties.all(actor()))


@bp.get("/access")
def access() -> Response:
    svc = services()
    admins = svc.accounts.list_admins(actor())
    owners = {a.id: a.username for a in admins}
    return page("access.html", admins=admins, keys=svc.accounts.list_keys(actor()), owners=owners)

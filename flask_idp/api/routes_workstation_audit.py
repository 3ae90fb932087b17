"""``/api/v1/workstation-events``, ``/api/v1/workstation-sessions`` and
``/api/v1/workstation-summaries/{kind}``: the workstation audit, as JSON pages or, with
``Accept: text/csv`` or ``?format=csv``, as one CSV export."""

from __future__ import annotations

from flask_idp.api import operation, services, wants_csv
from idp.admin.access import Actor
from idp.admin.workstation_audit import (
    SummaryPage,
    SummaryQuery,
    WorkstationEventPage,
    WorkstationEventQuery,
    WorkstationSessionPage,
    WorkstationSessionQuery,
)
from idp.admin.workstation_audit import WorkstationAudit as W
from idp.workstations.summaries import SummaryKind

TAG = "workstation audit"
_TITLES = {
    SummaryKind.DAY_AND_EMPLOYEE: "by day and employee",
    SummaryKind.EMPLOYEE: "by employee",
    SummaryKind.DEPARTMENT: "by department",
    SummaryKind.WORKSTATION: "by workstation",
}


@operation(
    "GET",
    "/workstation-events",
    summary="Workstation events, newest first (filter by workstation or employee; CSV: up to "
    "5,000 from the cursor on)",
    tag=TAG,
    needs=W.events,
    query=WorkstationEventQuery,
    response=WorkstationEventPage,
    csv=WorkstationEventPage.to_csv,
)
def list_workstation_events(actor: Actor, *, query: WorkstationEventQuery) -> WorkstationEventPage:
    return services().workstation_audit.events(actor, query, everything=wants_csv())


@operation(
    "GET",
    "/workstation-sessions",
    summary="Workstation sessions (who unlocked which workstation, when, how), newest first "
    "(filter by workstation, employee, since/until; CSV: up to 5,000 from the cursor on)",
    tag=TAG,
    needs=W.sessions,
    query=WorkstationSessionQuery,
    response=WorkstationSessionPage,
    csv=WorkstationSessionPage.to_csv,
)
def list_workstation_sessions(
    actor: Actor, *, query: WorkstationSessionQuery
) -> WorkstationSessionPage:
    return services().workstation_audit.sessions(actor, query, everything=wants_csv())


def _summary(kind: SummaryKind) -> None:
    def handler(actor: Actor, *, query: SummaryQuery) -> SummaryPage:
        return services().workstation_audit.summary(actor, kind, query, everything=wants_csv())

    handler.__name__ = "workstation_summary_by_" + kind.value.replace("-", "_")
    operation(
        "GET",
        f"/workstation-summaries/{kind.value}",
        summary=f"Workstation sessions {_TITLES[kind]} (CSV: every row)",
        tag=TAG,
        needs=W.summary,
        query=SummaryQuery,
        response=SummaryPage,
        csv=SummaryPage.to_csv,
    )(handler)


for _kind in SummaryKind:
    _summary(_kind)

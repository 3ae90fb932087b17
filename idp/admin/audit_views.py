"""The audit trail and the dashboard as admins read them: with usernames, never bare ids."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from idp.admin.access import Actor, Permission, requires
from idp.admin.models import (
    Input,
    Output,
    Page,
    aware,
    decode_cursor,
    encode_cursor,
    field_error,
)
from idp.audit import AuditEvent, AuditKind, Outcome
from idp.runtime import Runtime

HOURS = 24
MAX_PAGE = 200


class AuditEventOut(Output):
    seq: int
    at: dt.datetime
    kind: AuditKind
    outcome: Outcome
    actor: str
    actor_username: str | None = Field(description="the actor's username when it is a person")
    employee_id: str | None
    employee_username: str | None
    relying_party: str | None
    factor: str | None
    reason: str | None
    details: dict[str, str]


class AuditQuery(Input):
    kind: AuditKind | None = None
    employee_id: str | None = Field(default=None, max_length=64)
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    cursor: str | None = Field(default=None, max_length=512)
    limit: int = Field(default=50, ge=1, le=MAX_PAGE)


class ChainCheck(Output):
    ok: bool
    checked: int
    first_broken_seq: int | None
    reason: str


class HourCount(Output):
    hour: dt.datetime
    count: int


class Dashboard(Output):
    employees: int
    employees_disabled: int
    admins: int
    events_last_24h: int
    sign_ins_per_hour: list[HourCount] = Field(description=f"the last {HOURS} hours, oldest first")
    failed_sign_ins_last_24h: int


class AuditAdmin:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def _usernames(self, events: tuple[AuditEvent, ...]) -> dict[str, str]:
        found: dict[str, str] = {}
        for employee_id in {i for e in events for i in (e.employee_id, e.actor) if i}:
            employee = self._rt.employees.get(employee_id)
            if employee is not None:
                found[employee_id] = employee.username
        return found

    @requires(Permission.AUDIT_READ)
    def page(self, actor: Actor, query: AuditQuery) -> Page[AuditEventOut]:
        """Newest first; the cursor is the last seq shown, so new events never shift pages."""
        before = None
        if query.cursor:
            state = decode_cursor("audit", query.cursor)
            if not isinstance(state.get("seq"), int):
                raise field_error("cursor", "not a cursor of this listing")
            before = int(state["seq"])  # type: ignore[call-overload]
        page = self._rt.audit.list(
            kind=query.kind,
            employee_id=query.employee_id,
            since=aware(query.since, "since"),
            until=aware(query.until, "until"),
            limit=query.limit + 1,
            before_seq=before,
        )
        events = page.items[: query.limit]
        names = self._usernames(events)
        items = [_out(e, names) for e in events]
        more = len(page.items) > query.limit
        cursor = encode_cursor("audit", {"seq": events[-1].seq}) if more else None
        return Page[AuditEventOut](items=items, next_cursor=cursor)

    @requires(Permission.AUDIT_READ)
    def verify(self, actor: Actor) -> ChainCheck:
        report = self._rt.audit.verify()
        return ChainCheck(
            ok=report.ok,
            checked=report.checked,
            first_broken_seq=report.first_broken_seq,
            reason=report.reason,
        )

    @requires(Permission.EMPLOYEES_READ)
    def dashboard(self, actor: Actor, *, admins: int) -> Dashboard:
        now = self._rt.now()
        start = now.replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=HOURS - 1)
        hours = [start + dt.timedelta(hours=i) for i in range(HOURS)]
        counts = dict.fromkeys(hours, 0)
        for at in self._rt.audit.times(AuditKind.LOGIN_SUCCESS, since=start):
            bucket = at.replace(minute=0, second=0, microsecond=0)
            if bucket in counts:
                counts[bucket] += 1
        since = now - dt.timedelta(hours=24)
        total = self._rt.employees.count()
        return Dashboard(
            employees=total,
            employees_disabled=total - self._rt.employees.count(enabled=True),
            admins=admins,
            events_last_24h=self._rt.audit.list(since=since, limit=1).total,
            sign_ins_per_hour=[HourCount(hour=h, count=counts[h]) for h in hours],
            failed_sign_ins_last_24h=len(
                self._rt.audit.times(AuditKind.LOGIN_FAILURE, since=since)
            ),
        )


def _out(e: AuditEvent, names: dict[str, str]) -> AuditEventOut:
    actor_name = names.get(e.actor) or (
        e.actor.removeprefix("admin:") if e.actor.startswith("admin:") else None
    )
    return AuditEventOut(
        seq=e.seq,
        at=e.at,
        kind=e.kind,
        outcome=e.outcome,
        actor=e.actor,
        actor_username=actor_name,
        employee_id=e.employee_id,
        employee_username=names.get(e.employee_id or "") or e.details.get("username"),
        relying_party=e.relying_party,
        factor=e.factor,
        reason=e.reason,
        details=dict(e.details),
    )

"""The read-only ``workstation`` commands: list, show, events, sessions, summary."""

from __future__ import annotations

import argparse
import datetime as dt

from idp.errors import InvalidRequest
from idp.runtime import Runtime
from idp.workstations.model import WorkstationStatus
from idp.workstations.services import Workstations
from idp.workstations.summaries import COLUMNS, SummaryFilter, SummaryKind, to_csv


def _when(value: dt.datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}Z"


def show(runtime: Runtime, parts: Workstations, args: argparse.Namespace) -> int:
    action = args.action
    if action == "list":
        status = WorkstationStatus(args.status) if args.status else None
        page = parts.registry.list(status=status, text=args.search, limit=args.limit)
        for ws in page.items:
            print(
                f"{ws.id}  {ws.status.value:<10} {ws.info.name:<20} {ws.info.domain:<12} "
                f"{ws.info.ip:<15} seen {_when(ws.last_seen_at)}"
            )
        print(f"{page.total} workstations")
    elif action == "show":
        ws = parts.registry.require(args.workstation_id)
        for label, value in (
            ("id", ws.id),
            ("name", ws.info.name),
            ("domain", ws.info.domain),
            ("os", ws.info.os),
            ("ip", ws.info.ip),
            ("client", ws.info.client_version),
            ("status", ws.status.value),
            ("approved", f"{_when(ws.approved_at)} by {ws.approved_by or '-'}"),
            ("registered", _when(ws.registered_at)),
            ("last seen", _when(ws.last_seen_at)),
            ("proximity", str(ws.settings.to_wire())),
        ):
            print(f"{label + ':':<12}{value}")
    elif action == "events":
        parts.registry.require(args.workstation_id)
        events = parts.journal.events(workstation_id=args.workstation_id, limit=args.limit)
        for stored in events.items:
            e = stored.event
            flags = " clock-skew" if stored.clock_skew else ""
            flags += " during-alarm" if stored.during_alarm else ""
            print(
                f"{_when(e.at)} {e.type.value:<20} {e.account or '-':<20} "
                f"{e.unlocked_by.value if e.unlocked_by else '-':<10}{flags}"
            )
        print(f"{events.total} events")
    elif action == "sessions":
        sessions = parts.journal.sessions(workstation_id=args.workstation_id, limit=args.limit)
        for s in sessions.items:
            print(
                f"{_when(s.started_at)} → {_when(s.ended_at)} {s.workstation_id} "
                f"{s.account or '-':<20} {s.unlocked_by.value:<10} {s.end_reason or 'open'}"
            )
        print(f"{sessions.total} sessions")
    else:
        return _summary(runtime, parts, args)
    return 0


def _summary(runtime: Runtime, parts: Workstations, args: argparse.Namespace) -> int:
    kind = SummaryKind(args.kind)
    employee_id = None
    if args.employee:
        employee = runtime.employees.get_by_username(args.employee)
        if employee is None:
            raise InvalidRequest(f"--employee: no employee {args.employee!r}")
        employee_id = employee.id
    filters = SummaryFilter(
        since=args.since,
        until=args.until,
        employee_id=employee_id,
        workstation_id=args.workstation_id,
    )
    if args.csv is not None:
        rows = parts.summaries.all(kind, filters)
        args.csv.write_text(to_csv(kind, rows), encoding="utf-8")
        print(f"{len(rows)} rows written to {args.csv}")
        return 0
    page = parts.summaries.query(kind, filters, offset=args.offset, limit=args.limit)
    columns = COLUMNS[kind]
    print("  ".join(f"{c:<14}" for c in columns))
    for row in page.items:
        print("  ".join(f"{getattr(row, c)!s:<14}" for c in columns))
    print(
        f"rows {page.offset + 1 if page.items else 0}-{page.offset + len(page.items)} "
        f"of {page.total}"
    )
    return 0

"""The four workstation summaries (after the Hideez workstation audit) and their CSV export.

Each is one grouped query over the sessions: by day and employee, by employee, by department,
by workstation; with the same filters (days, employee, department, workstation) and paging.
Only ended sessions add to the time columns; open ones count as sessions.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

from idp.store.sql.database import Database
from idp.store.sql.models import DepartmentRow, EmployeeRow
from idp.store.sql.repositories.common import Page, check_paging
from idp.workstations.tables import WorkstationRow, WorkstationSessionRow

UNKNOWN = "(unknown)"


class SummaryKind(StrEnum):
    DAY_AND_EMPLOYEE = "day-employee"
    EMPLOYEE = "employee"
    DEPARTMENT = "department"
    WORKSTATION = "workstation"


#: the CSV columns of each summary (the key columns first)
COLUMNS: dict[SummaryKind, tuple[str, ...]] = {
    SummaryKind.DAY_AND_EMPLOYEE: (
        "day",
        "employee",
        "department",
        "workstations",
        "sessions",
        "total_seconds",
        "average_seconds",
    ),
    SummaryKind.EMPLOYEE: (
        "employee",
        "department",
        "days",
        "workstations",
        "sessions",
        "total_seconds",
        "average_seconds",
    ),
    SummaryKind.DEPARTMENT: (
        "department",
        "employees",
        "workstations",
        "sessions",
        "total_seconds",
        "average_seconds",
    ),
    SummaryKind.WORKSTATION: (
        "workstation",
        "employees",
        "days",
        "sessions",
        "total_seconds",
        "average_seconds",
    ),
}


@dataclass(frozen=True)
class SummaryFilter:
    """``since`` inclusive and ``until`` exclusive, as UTC days of the sessions' start."""

    since: dt.date | None = None
    until: dt.date | None = None
    employee_id: str | None = None
    department_id: str | None = None
    workstation_id: str | None = None


@dataclass(frozen=True)
class SummaryRow:
    day: str | None
    employee: str | None
    department: str | None
    workstation: str | None
    employees: int
    workstations: int
    days: int
    sessions: int
    total_seconds: int

    @property
    def average_seconds(self) -> int:
        return self.total_seconds // self.sessions if self.sessions else 0


_S, _E, _D, _W = WorkstationSessionRow, EmployeeRow, DepartmentRow, WorkstationRow


def _keys(kind: SummaryKind) -> list[Any]:
    employee, department = _E.username, _D.name
    return {
        SummaryKind.DAY_AND_EMPLOYEE: [_S.started_day, employee, department],
        SummaryKind.EMPLOYEE: [employee, department],
        SummaryKind.DEPARTMENT: [department],
        SummaryKind.WORKSTATION: [_W.name, _S.workstation_id],
    }[kind]


def _grouped(kind: SummaryKind, filters: SummaryFilter) -> Select[Any]:
    criteria: list[ColumnElement[bool]] = []
    if filters.since is not None:
        criteria.append(_S.started_day >= filters.since.isoformat())
    if filters.until is not None:
        criteria.append(_S.started_day < filters.until.isoformat())
    if filters.employee_id is not None:
        criteria.append(_S.employee_id == filters.employee_id)
    if filters.department_id is not None:
        criteria.append(_E.department_id == filters.department_id)
    if filters.workstation_id is not None:
        criteria.append(_S.workstation_id == filters.workstation_id)
    keys = _keys(kind)
    return (
        select(
            *keys,
            func.count(func.distinct(_S.employee_id)).label("employees"),
            func.count(func.distinct(_S.workstation_id)).label("workstations"),
            func.count(func.distinct(_S.started_day)).label("days"),
            func.count().label("sessions"),
            func.coalesce(func.sum(_S.duration_seconds), 0).label("total"),
        )
        .select_from(_S)
        .outerjoin(_E, _E.id == _S.employee_id)
        .outerjoin(_D, _D.id == _E.department_id)
        .outerjoin(_W, _W.id == _S.workstation_id)
        .where(*criteria)
        .group_by(*keys)
    )


def _row(kind: SummaryKind, values: Any) -> SummaryRow:
    keys = list(values[: len(_keys(kind))])
    employees, workstations, days, sessions, total = values[len(keys) :]
    named: dict[str, str | None] = {
        "day": None,
        "employee": None,
        "department": None,
        "workstation": None,
    }
    if kind is SummaryKind.DAY_AND_EMPLOYEE:
        named.update(day=keys[0], employee=keys[1] or UNKNOWN, department=keys[2] or UNKNOWN)
    elif kind is SummaryKind.EMPLOYEE:
        named.update(employee=keys[0] or UNKNOWN, department=keys[1] or UNKNOWN)
    elif kind is SummaryKind.DEPARTMENT:
        named.update(department=keys[0] or UNKNOWN)
    else:
        named.update(workstation=keys[0] or keys[1])
    return SummaryRow(
        **named,
        employees=int(employees),
        workstations=int(workstations),
        days=int(days),
        sessions=int(sessions),
        total_seconds=int(total),
    )


class Summaries:
    def __init__(self, db: Database) -> None:
        self._db = db

    def query(
        self,
        kind: SummaryKind,
        filters: SummaryFilter | None = None,
        *,
        offset: int = 0,
        limit: int = 100,
    ) -> Page[SummaryRow]:
        check_paging(offset, limit)
        grouped = _grouped(kind, filters or SummaryFilter())
        # Newest day first; names in order; NULL keys (unknown employees) sort the same in
        # both databases because they are ordered by a coalesced copy.
        order = [
            func.coalesce(k, "").desc() if k is _S.started_day else func.coalesce(k, "")
            for k in _keys(kind)
        ]
        with self._db.transaction() as s:
            total = s.scalar(select(func.count()).select_from(grouped.subquery())) or 0
            rows = s.execute(grouped.order_by(*order).offset(offset).limit(limit)).all()
        items = tuple(_row(kind, r) for r in rows)
        return Page(items=items, total=total, offset=offset, limit=limit)

    def all(self, kind: SummaryKind, filters: SummaryFilter | None = None) -> list[SummaryRow]:
        """Every row, page by page (for the CSV export)."""
        rows: list[SummaryRow] = []
        offset = 0
        while True:
            page = self.query(kind, filters, offset=offset, limit=500)
            rows.extend(page.items)
            offset += len(page.items)
            if offset >= page.total or not page.items:
                return rows


def to_csv(kind: SummaryKind, rows: Iterable[SummaryRow]) -> str:
    """RFC 4180 CSV with a header; a cell that a spreadsheet would run as a formula is quoted
    with a leading apostrophe (OWASP CSV injection)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    columns = COLUMNS[kind]
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(getattr(row, c)) for c in columns])
    return out.getvalue()


def csv_cell(value: object) -> str:
    """A CSV cell; one a spreadsheet would run as a formula starts with an apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text

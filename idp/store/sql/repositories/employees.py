"""Employees and their group memberships."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from idp.directory.model import Employee, Group, SsoMode
from idp.store.errors import DuplicateRecord, RecordNotFound
from idp.store.sql.database import Database
from idp.store.sql.models import DepartmentRow, EmployeeGroupRow, EmployeeRow, GroupRow
from idp.store.sql.repositories.common import (
    Page,
    check_paging,
    conflicts_as,
    like_pattern,
    require_aware,
)
from idp.store.sql.repositories.organisation import group_from_row


class DuplicateEmployee(DuplicateRecord):
    """Another employee has this id, username, email or directory object id."""


class EmployeeNotFound(RecordNotFound):
    pass


class UnknownGroup(RecordNotFound):
    pass


#: the orders :meth:`EmployeeRepository.seek` can page in (name → column)
_SORT_COLUMNS = {
    "username": EmployeeRow.username_lower,
    "email": EmployeeRow.email_lower,
    "last_name": EmployeeRow.last_name,
    "created_at": EmployeeRow.created_at,
}
SORT_KEYS = tuple(_SORT_COLUMNS)

_UNIQUE_FIELDS = ("id", "username_lower", "email_lower", "ad_object_guid", "entra_object_id")


def _row_values(employee: Employee) -> dict[str, object]:
    return {
        "username": employee.username,
        "username_lower": employee.username.lower(),
        "email": employee.email,
        "email_lower": employee.email.lower(),
        "first_name": employee.first_name,
        "last_name": employee.last_name,
        "enabled": employee.enabled,
        "sso_mode": str(employee.sso_mode),
        "phone": employee.phone,
        "company_id": employee.company_id,
        "department_id": employee.department_id,
        "position_id": employee.position_id,
        "ad_object_guid": employee.ad_object_guid,
        "ad_object_sid": employee.ad_object_sid,
        "entra_object_id": employee.entra_object_id,
        "entra_tenant_id": employee.entra_tenant_id,
        "external_ids": dict(employee.external_ids),
    }


def _from_row(row: EmployeeRow, groups: Iterable[str], departments: dict[str, str]) -> Employee:
    return Employee(
        id=row.id,
        username=row.username,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        enabled=row.enabled,
        sso_mode=SsoMode(row.sso_mode),
        phone=row.phone,
        company_id=row.company_id,
        department_id=row.department_id,
        department=departments.get(row.department_id) if row.department_id else None,
        position_id=row.position_id,
        ad_object_guid=row.ad_object_guid,
        ad_object_sid=row.ad_object_sid,
        entra_object_id=row.entra_object_id,
        entra_tenant_id=row.entra_tenant_id,
        external_ids=dict(row.external_ids),
        groups=tuple(sorted(groups)),
        created_at=row.created_at,
    )


def _groups_of(s: Session, employee_ids: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {i: [] for i in employee_ids}
    if employee_ids:
        query = select(EmployeeGroupRow).where(EmployeeGroupRow.employee_id.in_(employee_ids))
        for link in s.scalars(query):
            found[link.employee_id].append(link.group_id)
    return found


def _departments_of(s: Session, department_ids: Iterable[str | None]) -> dict[str, str]:
    """Department id → name, for the ids given (no query when there are none)."""
    wanted = {i for i in department_ids if i}
    if not wanted:
        return {}
    query = select(DepartmentRow.id, DepartmentRow.name).where(DepartmentRow.id.in_(wanted))
    return {i: name for i, name in s.execute(query)}


def _matches(text: str) -> ColumnElement[bool]:
    """Username, email or name contains ``text``, any case."""
    pattern = like_pattern(text)
    return or_(
        EmployeeRow.username_lower.like(pattern, escape="\\"),
        EmployeeRow.email_lower.like(pattern, escape="\\"),
        func.lower(EmployeeRow.first_name).like(pattern, escape="\\"),
        func.lower(EmployeeRow.last_name).like(pattern, escape="\\"),
    )


class EmployeeRepository:
    """Each method is one transaction and returns :class:`~idp.directory.model.Employee`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def _check_unique(self, s: Session, values: dict[str, object], employee_id: str) -> None:
        for name in _UNIQUE_FIELDS[1:]:
            value = values[name]
            if value is None:
                continue
            column = getattr(EmployeeRow, name)
            other = s.scalar(
                select(EmployeeRow.id).where(column == value, EmployeeRow.id != employee_id)
            )
            if other is not None:
                raise DuplicateEmployee(
                    f"{name.removesuffix('_lower')} {value!r} already belongs to employee {other!r}"
                )

    def _set_groups(self, s: Session, employee_id: str, groups: Iterable[str]) -> None:
        wanted = set(groups)
        if wanted:
            known = set(s.scalars(select(GroupRow.id).where(GroupRow.id.in_(wanted))))
            if missing := wanted - known:
                raise UnknownGroup(f"no group(s) {sorted(missing)!r}")
        s.execute(delete(EmployeeGroupRow).where(EmployeeGroupRow.employee_id == employee_id))
        s.add_all(EmployeeGroupRow(employee_id=employee_id, group_id=g) for g in sorted(wanted))

    def add(self, employee: Employee, *, now: dt.datetime) -> Employee:
        """Store a new employee (``created_at`` = ``now`` unless already set)."""
        created_at = require_aware(employee.created_at or now, "created_at")
        values = _row_values(employee)
        with (
            conflicts_as(DuplicateEmployee, f"employee {employee.username!r}"),
            self._db.transaction(write=True) as s,
        ):
            if s.get(EmployeeRow, employee.id) is not None:
                raise DuplicateEmployee(f"employee id {employee.id!r} already exists")
            self._check_unique(s, values, employee.id)
            s.add(EmployeeRow(id=employee.id, created_at=created_at, **values))
            s.flush()
            self._set_groups(s, employee.id, employee.groups)
            department = _departments_of(s, [employee.department_id]).get(
                employee.department_id or ""
            )
        return dataclasses.replace(
            employee,
            created_at=created_at,
            groups=tuple(sorted(set(employee.groups))),
            department=department,
        )

    def update(self, employee: Employee) -> Employee:
        """Replace every field (groups included) of an existing employee."""
        values = _row_values(employee)
        with (
            conflicts_as(DuplicateEmployee, f"employee {employee.username!r}"),
            self._db.transaction(write=True) as s,
        ):
            row = s.get(EmployeeRow, employee.id, with_for_update=True)
            if row is None:
                raise EmployeeNotFound(f"no employee {employee.id!r}")
            self._check_unique(s, values, employee.id)
            for name, value in values.items():
                setattr(row, name, value)
            self._set_groups(s, employee.id, employee.groups)
            s.flush()
            return _from_row(row, set(employee.groups), _departments_of(s, [row.department_id]))

    def _one(self, *criteria: ColumnElement[bool]) -> Employee | None:
        with self._db.transaction() as s:
            row = s.scalars(select(EmployeeRow).where(*criteria)).first()
            if row is None:
                return None
            departments = _departments_of(s, [row.department_id])
            return _from_row(row, _groups_of(s, [row.id])[row.id], departments)

    def get(self, employee_id: str) -> Employee | None:
        return self._one(EmployeeRow.id == employee_id)

    def get_by_username(self, username: str) -> Employee | None:
        """Case-insensitive, like the directories usernames come from."""
        return self._one(EmployeeRow.username_lower == username.lower())

    def get_by_email(self, email: str) -> Employee | None:
        """Case-insensitive."""
        return self._one(EmployeeRow.email_lower == email.strip().lower())

    def get_by_ad_object_guid(self, guid: str) -> Employee | None:
        return self._one(EmployeeRow.ad_object_guid == guid)

    def get_by_entra_object_id(self, object_id: str) -> Employee | None:
        return self._one(EmployeeRow.entra_object_id == object_id)

    def set_enabled(self, employee_id: str, enabled: bool) -> Employee:
        with self._db.transaction(write=True) as s:
            row = s.get(EmployeeRow, employee_id, with_for_update=True)
            if row is None:
                raise EmployeeNotFound(f"no employee {employee_id!r}")
            row.enabled = enabled
            s.flush()
            departments = _departments_of(s, [row.department_id])
            return _from_row(row, _groups_of(s, [row.id])[row.id], departments)

    def delete(self, employee_id: str) -> None:
        """Delete the employee with their factors, links and memberships (the caller audits)."""
        with self._db.transaction(write=True) as s:
            deleted = s.execute(delete(EmployeeRow).where(EmployeeRow.id == employee_id))
            if deleted.rowcount == 0:  # type: ignore[attr-defined]
                raise EmployeeNotFound(f"no employee {employee_id!r}")

    def list(self, *, text: str | None = None, offset: int = 0, limit: int = 50) -> Page[Employee]:
        """Employees by username; ``text`` matches username, email or name, any case."""
        check_paging(offset, limit)
        query = select(EmployeeRow)
        if text:
            query = query.where(_matches(text))
        with self._db.transaction() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = list(
                s.scalars(query.order_by(EmployeeRow.username_lower).offset(offset).limit(limit))
            )
            groups = _groups_of(s, [r.id for r in rows])
            departments = _departments_of(s, [r.department_id for r in rows])
            items = tuple(_from_row(r, groups[r.id], departments) for r in rows)
        return Page(items=items, total=total, offset=offset, limit=limit)

    def seek(
        self,
        *,
        text: str | None = None,
        enabled: bool | None = None,
        sso_mode: SsoMode | None = None,
        sort: str = "username",
        descending: bool = False,
        after: tuple[object, str] | None = None,
        limit: int = 50,
    ) -> tuple[tuple[Employee, ...], bool]:
        """One page in ``sort`` order (ties by id) after the row ``after`` = (sort value, id):
        keyset paging, as fast on the last page as on the first. Returns the page and whether
        more rows follow."""
        check_paging(0, limit)
        column = _SORT_COLUMNS[sort]
        query = select(EmployeeRow)
        if text:
            query = query.where(_matches(text))
        if enabled is not None:
            query = query.where(EmployeeRow.enabled == enabled)
        if sso_mode is not None:
            query = query.where(EmployeeRow.sso_mode == str(sso_mode))
        if after is not None:
            value, last_id = after
            beyond = (column < value) if descending else (column > value)
            tie = EmployeeRow.id < last_id if descending else EmployeeRow.id > last_id
            query = query.where(or_(beyond, and_(column == value, tie)))
        if descending:
            query = query.order_by(column.desc(), EmployeeRow.id.desc())
        else:
            query = query.order_by(column, EmployeeRow.id)
        with self._db.transaction() as s:
            rows = list(s.scalars(query.limit(limit + 1)))
            more = len(rows) > limit
            rows = rows[:limit]
            groups = _groups_of(s, [r.id for r in rows])
            departments = _departments_of(s, [r.department_id for r in rows])
            return tuple(_from_row(r, groups[r.id], departments) for r in rows), more

    def count(self, *, enabled: bool | None = None) -> int:
        query = select(func.count()).select_from(EmployeeRow)
        if enabled is not None:
            query = query.where(EmployeeRow.enabled == enabled)
        with self._db.transaction() as s:
            return s.scalar(query) or 0

    def add_to_group(self, employee_id: str, group_id: str) -> None:
        """Idempotent: adding a member twice keeps one membership."""
        with self._db.transaction(write=True) as s:
            if s.get(EmployeeRow, employee_id) is None:
                raise EmployeeNotFound(f"no employee {employee_id!r}")
            if s.get(GroupRow, group_id) is None:
                raise UnknownGroup(f"no group {group_id!r}")
            if s.get(EmployeeGroupRow, (employee_id, group_id)) is None:
                s.add(EmployeeGroupRow(employee_id=employee_id, group_id=group_id))

    def remove_from_group(self, employee_id: str, group_id: str) -> None:
        with self._db.transaction(write=True) as s:
            s.execute(
                delete(EmployeeGroupRow).where(
                    EmployeeGroupRow.employee_id == employee_id,
                    EmployeeGroupRow.group_id == group_id,
                )
            )

    def groups(self, employee_id: str) -> tuple[Group, ...]:
        query = (
            select(GroupRow)
            .join(EmployeeGroupRow, EmployeeGroupRow.group_id == GroupRow.id)
            .where(EmployeeGroupRow.employee_id == employee_id)
            .order_by(GroupRow.name)
        )
        with self._db.transaction() as s:
            return tuple(group_from_row(r) for r in s.scalars(query))

"""Companies, departments, positions and groups."""

from __future__ import annotations

from sqlalchemy import select

from idp.directory.model import Company, Department, Group, Position
from idp.store.errors import DuplicateRecord, RecordNotFound
from idp.store.sql.database import Database
from idp.store.sql.models import CompanyRow, DepartmentRow, GroupRow, PositionRow
from idp.store.sql.repositories.common import conflicts_as


class DuplicateOrganisationUnit(DuplicateRecord):
    """A company, department, position or group with that id or name exists."""


class UnknownCompany(RecordNotFound):
    pass


class OrganisationRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add_company(self, company: Company) -> Company:
        with (
            conflicts_as(DuplicateOrganisationUnit, f"company {company.name!r}"),
            self._db.transaction(write=True) as s,
        ):
            s.add(CompanyRow(id=company.id, name=company.name))
        return company

    def get_company(self, company_id: str) -> Company | None:
        with self._db.transaction() as s:
            row = s.get(CompanyRow, company_id)
            return None if row is None else Company(row.id, row.name)

    def list_companies(self) -> tuple[Company, ...]:
        with self._db.transaction() as s:
            rows = s.scalars(select(CompanyRow).order_by(CompanyRow.name))
            return tuple(Company(r.id, r.name) for r in rows)

    def add_department(self, department: Department) -> Department:
        with (
            conflicts_as(DuplicateOrganisationUnit, f"department {department.name!r}"),
            self._db.transaction(write=True) as s,
        ):
            if s.get(CompanyRow, department.company_id) is None:
                raise UnknownCompany(f"no company {department.company_id!r}")
            s.add(
                DepartmentRow(
                    id=department.id, name=department.name, company_id=department.company_id
                )
            )
        return department

    def get_department(self, department_id: str) -> Department | None:
        with self._db.transaction() as s:
            row = s.get(DepartmentRow, department_id)
            return None if row is None else Department(row.id, row.name, row.company_id)

    def list_departments(self, *, company_id: str | None = None) -> tuple[Department, ...]:
        query = select(DepartmentRow).order_by(DepartmentRow.name)
        if company_id is not None:
            query = query.where(DepartmentRow.company_id == company_id)
        with self._db.transaction() as s:
            return tuple(Department(r.id, r.name, r.company_id) for r in s.scalars(query))

    def add_position(self, position: Position) -> Position:
        with (
            conflicts_as(DuplicateOrganisationUnit, f"position {position.name!r}"),
            self._db.transaction(write=True) as s,
        ):
            s.add(PositionRow(id=position.id, name=position.name))
        return position

    def get_position(self, position_id: str) -> Position | None:
        with self._db.transaction() as s:
            row = s.get(PositionRow, position_id)
            return None if row is None else Position(row.id, row.name)

    def list_positions(self) -> tuple[Position, ...]:
        with self._db.transaction() as s:
            rows = s.scalars(select(PositionRow).order_by(PositionRow.name))
            return tuple(Position(r.id, r.name) for r in rows)

    def add_group(self, group: Group) -> Group:
        with (
            conflicts_as(DuplicateOrganisationUnit, f"group {group.name!r}"),
            self._db.transaction(write=True) as s,
        ):
            s.add(
                GroupRow(
                    id=group.id,
                    name=group.name,
                    description=group.description,
                    email=group.email,
                )
            )
        return group

    def get_group(self, group_id: str) -> Group | None:
        with self._db.transaction() as s:
            row = s.get(GroupRow, group_id)
            return None if row is None else group_from_row(row)

    def list_groups(self) -> tuple[Group, ...]:
        with self._db.transaction() as s:
            return tuple(
                group_from_row(r) for r in s.scalars(select(GroupRow).order_by(GroupRow.name))
            )


def group_from_row(row: GroupRow) -> Group:
    return Group(id=row.id, name=row.name, description=row.description, email=row.email)

"""Companies, departments and positions, as admins list and add them."""

from __future__ import annotations

import secrets

from pydantic import Field

from idp.admin.access import Actor, Permission, requires
from idp.admin.models import Input, Output, field_error
from idp.audit import AuditKind, Outcome
from idp.directory.model import Company, Department, Position
from idp.runtime import Runtime
from idp.store.sql.repositories.organisation import OrganisationRepository, UnknownCompany

_NAME = Field(min_length=1, max_length=255)


class CompanyOut(Output):
    id: str
    name: str


class DepartmentOut(Output):
    id: str
    name: str
    company_id: str


class PositionOut(Output):
    id: str
    name: str


class CompanyCreate(Input):
    name: str = _NAME


class PositionCreate(Input):
    name: str = _NAME


class DepartmentCreate(Input):
    name: str = _NAME
    company_id: str = Field(min_length=1, max_length=64)


class DepartmentQuery(Input):
    company_id: str | None = Field(default=None, max_length=64)


def _name(value: str) -> str:
    cleaned = value.strip()
    if not cleaned or not cleaned.isprintable():
        raise field_error("name", "expected printable characters, not only spaces")
    return cleaned


class OrganisationAdmin:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._org = OrganisationRepository(runtime.db)

    @requires(Permission.EMPLOYEES_READ)
    def companies(self, actor: Actor) -> list[CompanyOut]:
        return [CompanyOut(id=c.id, name=c.name) for c in self._org.list_companies()]

    @requires(Permission.ORGANISATION_WRITE)
    def add_company(self, actor: Actor, body: CompanyCreate) -> CompanyOut:
        company = self._org.add_company(Company(id=secrets.token_hex(8), name=_name(body.name)))
        self._audit(actor, "company_added", company.id, company.name)
        return CompanyOut(id=company.id, name=company.name)

    @requires(Permission.EMPLOYEES_READ)
    def departments(self, actor: Actor, query: DepartmentQuery) -> list[DepartmentOut]:
        found = self._org.list_departments(company_id=query.company_id)
        return [DepartmentOut(id=d.id, name=d.name, company_id=d.company_id) for d in found]

    @requires(Permission.ORGANISATION_WRITE)
    def add_department(self, actor: Actor, body: DepartmentCreate) -> DepartmentOut:
        unit = Department(
            id=secrets.token_hex(8), name=_name(body.name), company_id=body.company_id
        )
        try:
            self._org.add_department(unit)
        except UnknownCompany:
            raise field_error("company_id", f"no company {body.company_id!r}") from None
        self._audit(actor, "department_added", unit.id, unit.name)
        return DepartmentOut(id=unit.id, name=unit.name, company_id=unit.company_id)

    @requires(Permission.EMPLOYEES_READ)
    def positions(self, actor: Actor) -> list[PositionOut]:
        return [PositionOut(id=p.id, name=p.name) for p in self._org.list_positions()]

    @requires(Permission.ORGANISATION_WRITE)
    def add_position(self, actor: Actor, body: PositionCreate) -> PositionOut:
        position = self._org.add_position(Position(id=secrets.token_hex(8), name=_name(body.name)))
        self._audit(actor, "position_added", position.id, position.name)
        return PositionOut(id=position.id, name=position.name)

    def _audit(self, actor: Actor, action: str, unit_id: str, name: str) -> None:
        self._rt.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE,
            at=self._rt.now(),
            actor=actor.name,
            outcome=Outcome.SUCCESS,
            details={"action": action, "id": unit_id, "name": name},
        )

"""``/api/v1/companies``, ``/departments``, ``/positions``: the organisation structure."""

from __future__ import annotations

from flask_idp.api import operation, services
from idp.admin.access import Actor
from idp.admin.models import Items
from idp.admin.organisation import (
    CompanyCreate,
    CompanyOut,
    DepartmentCreate,
    DepartmentOut,
    DepartmentQuery,
    PositionCreate,
    PositionOut,
)
from idp.admin.organisation import OrganisationAdmin as O

TAG = "organisation"


@operation(
    "GET",
    "/companies",
    summary="List companies",
    tag=TAG,
    needs=O.companies,
    response=Items[CompanyOut],
)
def list_companies(actor: Actor) -> Items[CompanyOut]:
    return Items[CompanyOut](items=services().organisation.companies(actor))


@operation(
    "POST",
    "/companies",
    summary="Add a company",
    tag=TAG,
    needs=O.add_company,
    body=CompanyCreate,
    response=CompanyOut,
    status=201,
    idempotent=True,
)
def create_company(actor: Actor, *, body: CompanyCreate) -> CompanyOut:
    return services().organisation.add_company(actor, body)


@operation(
    "GET",
    "/departments",
    summary="List departments (of one company)",
    tag=TAG,
    needs=O.departments,
    query=DepartmentQuery,
    response=Items[DepartmentOut],
)
def list_departments(actor: Actor, *, query: DepartmentQuery) -> Items[DepartmentOut]:
    return Items[DepartmentOut](items=services().organisation.departments(actor, query))


@operation(
    "POST",
    "/departments",
    summary="Add a department to a company",
    tag=TAG,
    needs=O.add_department,
    body=DepartmentCreate,
    response=DepartmentOut,
    status=201,
    idempotent=True,
)
def create_department(actor: Actor, *, body: DepartmentCreate) -> DepartmentOut:
    return services().organisation.add_department(actor, body)


@operation(
    "GET",
    "/positions",
    summary="List positions",
    tag=TAG,
    needs=O.positions,
    response=Items[PositionOut],
)
def list_positions(actor: Actor) -> Items[PositionOut]:
    return Items[PositionOut](items=services().organisation.positions(actor))


@operation(
    "POST",
    "/positions",
    summary="Add a position",
    tag=TAG,
    needs=O.add_position,
    body=PositionCreate,
    response=PositionOut,
    status=201,
    idempotent=True,
)
def create_position(actor: Actor, *, body: PositionCreate) -> PositionOut:
    return services().organisation.add_position(actor, body)

"""The console's organisation page (companies with their departments, positions) and the
directory sync page (sources and runs, read-only)."""

from __future__ import annotations

from flask import Response, make_response, redirect, request
from pydantic import ValidationError

from flask_idp.api import services
from flask_idp.api.problems import invalid_input
from flask_idp.console import actor, bp, page, posted
from idp.admin.models import InvalidInput
from idp.admin.organisation import CompanyCreate, DepartmentCreate, DepartmentQuery, PositionCreate
from idp.admin.sync_runs import SyncRunQuery


def _page(status: int = 200, errors: dict[str, str] | None = None) -> Response:
    org = services().organisation
    companies = org.companies(actor())
    departments = org.departments(actor(), DepartmentQuery())
    return page("organisation.html", status, companies=companies, departments=departments,
                positions=org.positions(actor()), errors=errors or {})  # fmt: skip


@bp.get("/organisation")
def organisation() -> Response:
    return _page()


@bp.post("/organisation/<any(company,department,position):kind>")
def add_unit(kind: str) -> Response:
    posted()
    org, name = services().organisation, request.form.get("name", "")
    try:
        if kind == "company":
            org.add_company(actor(), CompanyCreate(name=name))
        elif kind == "position":
            org.add_position(actor(), PositionCreate(name=name))
        else:
            company = request.form.get("company_id", "")
            org.add_department(actor(), DepartmentCreate(name=name, company_id=company))
    except ValidationError as exc:
        return _again(kind, invalid_input(exc))
    except InvalidInput as exc:
        return _again(kind, exc)
    return make_response(redirect("/console/organisation?done=added", code=303))


def _again(kind: str, exc: InvalidInput) -> Response:
    return _page(422, {f"{kind}-{e.field.split('.')[0]}": e.message for e in exc.errors})


@bp.get("/sync")
def sync_runs() -> Response:
    args = {k: v for k, v in request.args.items() if k in ("source", "cursor") and v}
    try:
        query = SyncRunQuery.model_validate({**args, "limit": 25})
    except ValidationError as exc:
        raise invalid_input(exc) from None
    svc = services().sync
    return page("sync.html", sources=svc.sources(actor()), listing=svc.page(actor(), query),
                query=query)  # fmt: skip

"""``hideez-idp company|department|position list|add``: the organisation structure at a
shell, through :class:`idp.admin.organisation.OrganisationAdmin` (as the API and console)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeAlias

from idp.admin.access import CLI
from idp.admin.models import field_error
from idp.admin.organisation import (
    CompanyCreate,
    CompanyOut,
    DepartmentCreate,
    DepartmentOut,
    DepartmentQuery,
    PositionCreate,
    PositionOut,
)

if TYPE_CHECKING:
    from idp.admin.services import AdminServices

_Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_Command: TypeAlias = Callable[[_Sub, str, str], argparse.ArgumentParser]
_Group: TypeAlias = Callable[[_Sub, str, str], _Sub]
COMMANDS = frozenset({"company", "department", "position"})


def add_parsers(sub: _Sub, command: _Command, group: _Group) -> None:
    for name, plural in (("company", "companies"), ("department", "departments"),
                         ("position", "positions")):  # fmt: skip
        actions = group(sub, name, f"list and add {plural}")
        listing = command(actions, "list", f"list {plural}")
        listing.add_argument("--json", action="store_true", help="print JSON (as the API does)")
        add = command(actions, "add", f"add a {name}")
        add.add_argument("name")
        if name == "department":
            listing.add_argument("--company", help="only this company's (name or id)")
            add.add_argument("--company", required=True, help="the company (name or id)")


def _company_id(svc: AdminServices, given: str) -> str:
    for company in svc.organisation.companies(CLI):
        if given in (company.id, company.name) or given.casefold() == company.name.casefold():
            return company.id
    raise field_error("company", f"no company named {given[:100]!r} (see: company list)")


def run(svc: AdminServices, args: argparse.Namespace) -> None:
    org = svc.organisation
    if args.action == "add":
        made: CompanyOut | DepartmentOut | PositionOut
        if args.command == "company":
            made = org.add_company(CLI, CompanyCreate(name=args.name))
        elif args.command == "position":
            made = org.add_position(CLI, PositionCreate(name=args.name))
        else:
            body = DepartmentCreate(name=args.name, company_id=_company_id(svc, args.company))
            made = org.add_department(CLI, body)
        print(f"added {args.command} {made.name} ({made.id})")
        return
    if args.command == "company":
        rows = [(c.id, c.name, "") for c in org.companies(CLI)]
        found = [c.model_dump(mode="json") for c in org.companies(CLI)]
    elif args.command == "position":
        rows = [(p.id, p.name, "") for p in org.positions(CLI)]
        found = [p.model_dump(mode="json") for p in org.positions(CLI)]
    else:
        company = _company_id(svc, args.company) if args.company else None
        units = org.departments(CLI, DepartmentQuery(company_id=company))
        names = {c.id: c.name for c in org.companies(CLI)}
        rows = [(d.id, d.name, names.get(d.company_id, d.company_id)) for d in units]
        found = [d.model_dump(mode="json") for d in units]
    if args.json:
        print(json.dumps(found, indent=2))
        return
    print(f"{'ID':<18} {'NAME':<40} {'COMPANY' if args.command == 'department' else ''}".rstrip())
    for unit_id, name, company_name in rows:
        print(f"{unit_id:<18} {name[:40]:<40} {company_name}".rstrip())

"""``hideez-idp employee list|show|edit|disable|enable|delete|sessions|end-sessions``,
``passkey list|revoke``, ``admin-user …`` and ``api-key …``: the admin services at a shell
(the admin-user sign-in credentials are in :mod:`flask_idp.cli_admin_signin`, the
organisation structure in :mod:`flask_idp.cli_organisation`).

The CLI acts as :data:`idp.admin.access.CLI` (an operator at the server's shell owns its
database) through the same service methods as the REST API and the console, so it refuses
the same input with the same messages. ``--json`` prints what the API would return; without
it, tables for people.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

from pydantic import BaseModel, ValidationError

from flask_idp import cli_admin_signin, cli_organisation
from flask_idp.cli_args import add_id_argument
from idp.admin.access import CLI, Permission, Role
from idp.admin.accounts import AdminCreate, AdminOut, AdminUpdate, ApiKeyCreate, ApiKeyOut
from idp.admin.employee_models import EmployeeOut, EmployeeQuery
from idp.admin.models import InvalidInput
from idp.admin.services import AdminServices, build_admin_services
from idp.config.schema import IdpConfig
from idp.directory.model import SsoMode
from idp.errors import InvalidRequest, NotFound

_Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_Command: TypeAlias = Callable[[_Sub, str, str], argparse.ArgumentParser]
_Group: TypeAlias = Callable[[_Sub, str, str], _Sub]
#: the ``employee`` actions this module runs (``add``/``update`` stay in commands.py)
EMPLOYEE_ACTIONS = frozenset(
    {"list", "show", "edit", "disable", "enable", "delete", "sessions", "end-sessions", "unlock"}
)
COMMANDS = frozenset({"passkey", "admin-user", "api-key"}) | cli_organisation.COMMANDS


class DeleteNotConfirmed(InvalidRequest):
    error = "not_confirmed"


def add_admin_parsers(sub: _Sub, employees: _Sub, command: _Command, group: _Group) -> None:
    listing, show = employees.choices["list"], employees.choices["show"]
    switch = listing.add_mutually_exclusive_group()
    switch.add_argument(
        "--enabled", dest="enabled", action="store_const", const=True, help="only enabled employees"
    )
    switch.add_argument(
        "--disabled",
        dest="enabled",
        action="store_const",
        const=False,
        help="only disabled employees",
    )
    listing.add_argument("--sso-mode", choices=[m.value for m in SsoMode])
    listing.add_argument(
        "--sort",
        default="username",
        help="username, email, last_name or created_at; descending with '-' (--sort=-created_at)",
    )
    listing.add_argument("--cursor", help="the next page's cursor a previous list printed")
    for parser in (listing, show):
        parser.add_argument("--json", action="store_true", help="print JSON (as the API does)")
    _edit_parser(employees, command)
    for name, text in (
        ("disable", "stop an employee signing in (their sessions end at once)"),
        ("enable", "let a disabled employee sign in again"),
        ("sessions", "list an employee's live sessions"),
        ("end-sessions", "end an employee's sessions (all, or one with --session)"),
        ("delete", "delete an employee with every factor (asks for --yes)"),
        ("unlock", "lift the lock that wrong passwords set (two-factor mode)"),
    ):
        parser = command(employees, name, text)
        parser.add_argument("username")
    employees.choices["sessions"].add_argument("--json", action="store_true")
    employees.choices["end-sessions"].add_argument(
        "--session", metavar="HANDLE", help="only this session (see sessions)"
    )
    employees.choices["delete"].add_argument(
        "--yes", action="store_true", help="confirm: this cannot be undone"
    )
    passkeys = group(sub, "passkey", "list and revoke employees' passkeys")
    command(passkeys, "list", "list an employee's passkeys").add_argument("username")
    revoke = command(passkeys, "revoke", "revoke a passkey (after a clone alarm, a lost key)")
    revoke.add_argument("username")
    add_id_argument(revoke, "credential_id", text="the passkey's credential id (passkey list)")
    passkeys.choices["list"].add_argument("--json", action="store_true")
    _account_parsers(sub, command, group)
    cli_organisation.add_parsers(sub, command, group)


def _edit_parser(employees: _Sub, command: _Command) -> None:
    from flask_idp.cli import _employee_fields, enable_switch

    edit = command(employees, "edit", "change an employee (same as update)")
    edit.add_argument("username")
    edit.add_argument("--email")
    _employee_fields(edit)
    enable_switch(edit)


def _account_parsers(sub: _Sub, command: _Command, group: _Group) -> None:
    admins = group(sub, "admin-user", "who may use the console and the API, in which role")
    add = command(admins, "add", "make an employee an admin")
    add.add_argument("username")
    add.add_argument("--role", choices=[r.value for r in Role], required=True)
    command(admins, "list", "list admin accounts").add_argument("--json", action="store_true")
    role = command(admins, "set-role", "change an admin's role")
    role.add_argument("username")
    role.add_argument("role", choices=[r.value for r in Role])
    command(admins, "remove", "remove an admin account (and its API keys)").add_argument("username")
    cli_admin_signin.add_parsers(admins, command)
    keys = group(sub, "api-key", "API keys for scripts (hashed, scoped, expiring)")
    create = command(keys, "create", "create a key for an admin; its secret is printed once")
    create.add_argument("--admin", required=True, metavar="USERNAME", help="the key's owner")
    create.add_argument("--name", required=True, help="what the key is for")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        dest="scopes",
        choices=[p.value for p in Permission],
        help="repeatable",
    )
    create.add_argument("--days", type=int, default=90, help="lifetime in days (default 90)")
    command(keys, "list", "list API keys (never their secrets)").add_argument(
        "--json", action="store_true"
    )
    command(keys, "revoke", "revoke a key at once").add_argument("key_id")


def run_admin_command(args: argparse.Namespace, config: IdpConfig) -> int:
    from idp.runtime import build_runtime

    if args.command == "employee" and args.action == "edit":
        from flask_idp import commands

        args.action = "update"
        return commands.employee(config, args)
    svc = build_admin_services(build_runtime(config))
    try:
        if args.command == "admin-user" and args.action in cli_admin_signin.ACTIONS:
            cli_admin_signin.run(svc, args)
        elif args.command in cli_organisation.COMMANDS:
            cli_organisation.run(svc, args)
        else:
            _HANDLERS[(args.command, args.action)](svc, args)
    except ValidationError as exc:
        from flask_idp.api.problems import invalid_input

        raise _for_people(invalid_input(exc)) from None
    except InvalidInput as exc:
        raise _for_people(exc) from None
    return 0


def _for_people(exc: InvalidInput) -> InvalidRequest:
    return InvalidRequest("; ".join(f"{e.field}: {e.message}" for e in exc.errors))


def _employee_id(svc: AdminServices, username: str) -> str:
    return svc.employees.find(CLI, username).id


def _print_json(value: BaseModel | Sequence[BaseModel]) -> None:
    data: Any = (
        value.model_dump(mode="json")
        if isinstance(value, BaseModel)
        else [v.model_dump(mode="json") for v in value]
    )
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) if c not in (None, "") else "-" for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _list(svc: AdminServices, args: argparse.Namespace) -> None:
    query = EmployeeQuery(
        search=args.search,
        enabled=args.enabled,
        sso_mode=args.sso_mode,
        sort=args.sort,
        cursor=args.cursor,
        limit=args.limit,
    )
    page = svc.employees.page(CLI, query)
    if args.json:
        _print_json(page)
        return
    print(f"{'USERNAME':<24} {'EMAIL':<32} {'NAME':<28} {'SSO MODE':<13} ENABLED")
    for e in page.items:
        name = f"{e.first_name} {e.last_name}".strip() or "-"
        print(
            f"{e.username:<24} {e.email:<32} {name:<28} {e.sso_mode.value:<13} "
            f"{'yes' if e.enabled else 'no'}"
        )
    count = len(page.items)
    noun = "employee" if count == 1 else "employees"
    if page.next_cursor:
        print(f"({count} {noun}; more with --cursor {page.next_cursor})")
    else:
        print(f"({count} {noun})")


def _show(svc: AdminServices, args: argparse.Namespace) -> None:
    e = svc.employees.find(CLI, args.username)
    if args.json:
        _print_json(e)
        return
    rows = [
        ("username", e.username),
        ("id", e.id),
        ("email", e.email),
        ("first name", e.first_name),
        ("last name", e.last_name),
        ("phone", e.phone),
        ("enabled", "yes" if e.enabled else "no"),
        ("sso mode", e.sso_mode.value),
        ("entra object id", e.entra_object_id),
        ("entra tenant id", e.entra_tenant_id),
        ("ad object sid", e.ad_object_sid),
        ("ad object guid", e.ad_object_guid),
        ("groups", ", ".join(e.groups)),
        ("created", f"{e.created_at:%Y-%m-%d %H:%M:%S}" if e.created_at else None),
    ]
    rows += [(f"external id {name}", value) for name, value in sorted(e.external_ids.items())]
    print("\n".join(f"{label + ':':<22}{value or '-'}" for label, value in rows))


def _switch(enabled: bool) -> Callable[[AdminServices, argparse.Namespace], None]:
    def run(svc: AdminServices, args: argparse.Namespace) -> None:
        out: EmployeeOut = svc.employees.set_enabled(CLI, _employee_id(svc, args.username), enabled)
        print(f"{out.username}: {'enabled' if out.enabled else 'disabled'}")

    return run


def _delete(svc: AdminServices, args: argparse.Namespace) -> None:
    if not args.yes:
        raise DeleteNotConfirmed(
            f"deleting {args.username} removes their passkeys, password and links for good; "
            "add --yes to confirm"
        )
    svc.employees.delete(CLI, _employee_id(svc, args.username))
    print(f"deleted {args.username}")


def _sessions(svc: AdminServices, args: argparse.Namespace) -> None:
    sessions = svc.employees.sessions(CLI, _employee_id(svc, args.username))
    if args.json:
        _print_json(sessions)
        return
    _table(
        ["HANDLE", "STARTED (UTC)", "SIGNED IN (UTC)", "FACTORS", "RELYING PARTIES"],
        [
            (
                s.handle,
                f"{s.created_at:%Y-%m-%d %H:%M}",
                f"{s.auth_time:%Y-%m-%d %H:%M}",
                ",".join(f.kind for f in s.factors),
                ", ".join(s.relying_parties),
            )
            for s in sessions
        ],
    )
    print(f"({len(sessions)} live session{'' if len(sessions) == 1 else 's'})")


def _end_sessions(svc: AdminServices, args: argparse.Namespace) -> None:
    employee_id = _employee_id(svc, args.username)
    ended = svc.employees.end_sessions(CLI, employee_id, handle=args.session).ended
    print(f"ended {ended} session{'' if ended == 1 else 's'} of {args.username}")


def _unlock(svc: AdminServices, args: argparse.Namespace) -> None:
    state = svc.employees.unlock_password(CLI, _employee_id(svc, args.username))
    if not state.set:
        print(f"{args.username} has no password (not in the two-factor mode)")
    else:
        print(f"{args.username}: " + ("unlocked" if state.unlocked else "was not locked"))


def _passkeys(svc: AdminServices, args: argparse.Namespace) -> None:
    passkeys = svc.employees.passkeys(CLI, _employee_id(svc, args.username))
    if args.json:
        _print_json(passkeys)
        return
    _table(
        ["CREDENTIAL ID", "NAME", "KIND", "CREATED (UTC)", "LAST USED (UTC)"],
        [
            (
                p.credential_id,
                p.name,
                p.kind,
                f"{p.created_at:%Y-%m-%d %H:%M}",
                f"{p.last_used_at:%Y-%m-%d %H:%M}" if p.last_used_at else None,
            )
            for p in passkeys
        ],
    )
    print(f"({len(passkeys)} passkey{'' if len(passkeys) == 1 else 's'})")


def _revoke_passkey(svc: AdminServices, args: argparse.Namespace) -> None:
    svc.employees.revoke_passkey(CLI, _employee_id(svc, args.username), args.credential_id)
    print(f"revoked passkey {args.credential_id} of {args.username}")


def _admin_by_username(svc: AdminServices, username: str) -> AdminOut:
    for admin in svc.accounts.list_admins(CLI):
        if admin.username.lower() == username.lower():
            return admin
    raise NotFound(f"{username} has no admin account")


def _admin_add(svc: AdminServices, args: argparse.Namespace) -> None:
    admin = svc.accounts.create_admin(CLI, AdminCreate(username=args.username, role=args.role))
    print(f"{admin.username} is now an admin ({admin.role.value}); admin id {admin.id}")


def _admin_list(svc: AdminServices, args: argparse.Namespace) -> None:
    admins = svc.accounts.list_admins(CLI)
    if args.json:
        _print_json(admins)
        return
    _table(
        ["USERNAME", "ROLE", "ADMIN ID", "CREATED (UTC)", "BY"],
        [
            (a.username, a.role.value, a.id, f"{a.created_at:%Y-%m-%d %H:%M}", a.created_by)
            for a in admins
        ],
    )


def _admin_role(svc: AdminServices, args: argparse.Namespace) -> None:
    admin = _admin_by_username(svc, args.username)
    done = svc.accounts.set_role(CLI, admin.id, AdminUpdate(role=args.role))
    print(f"{done.username} is now {done.role.value}")


def _admin_remove(svc: AdminServices, args: argparse.Namespace) -> None:
    svc.accounts.remove_admin(CLI, _admin_by_username(svc, args.username).id)
    print(f"{args.username} is no longer an admin")


def _key_create(svc: AdminServices, args: argparse.Namespace) -> None:
    owner = _admin_by_username(svc, args.admin)
    made = svc.accounts.create_key(
        CLI,
        ApiKeyCreate(
            name=args.name, scopes=args.scopes, expires_in_days=args.days, admin_id=owner.id
        ),
    )
    print(
        f"created API key {made.key.id} for {owner.username}, "
        f"expires {made.key.expires_at:%Y-%m-%d}; the key (shown once):"
    )
    print(made.secret)


def _key_list(svc: AdminServices, args: argparse.Namespace) -> None:
    keys: list[ApiKeyOut] = svc.accounts.list_keys(CLI)
    if args.json:
        _print_json(keys)
        return
    owners = {a.id: a.username for a in svc.accounts.list_admins(CLI)}
    _table(
        ["KEY ID", "OWNER", "NAME", "SCOPES", "EXPIRES (UTC)", "STATE"],
        [
            (
                k.id,
                owners.get(k.admin_id, k.admin_id),
                k.name,
                ",".join(k.scopes),
                f"{k.expires_at:%Y-%m-%d %H:%M}",
                "revoked" if k.revoked_at else "active",
            )
            for k in keys
        ],
    )


def _key_revoke(svc: AdminServices, args: argparse.Namespace) -> None:
    key = svc.accounts.revoke_key(CLI, args.key_id)
    print(f"revoked API key {key.id} ({key.name})")


_HANDLERS: dict[tuple[str, str], Callable[[AdminServices, argparse.Namespace], None]] = {
    ("employee", "list"): _list,
    ("employee", "show"): _show,
    ("employee", "disable"): _switch(False),
    ("employee", "enable"): _switch(True),
    ("employee", "delete"): _delete,
    ("employee", "sessions"): _sessions,
    ("employee", "end-sessions"): _end_sessions,
    ("employee", "unlock"): _unlock,
    ("passkey", "list"): _passkeys,
    ("passkey", "revoke"): _revoke_passkey,
    ("admin-user", "add"): _admin_add,
    ("admin-user", "list"): _admin_list,
    ("admin-user", "set-role"): _admin_role,
    ("admin-user", "remove"): _admin_remove,
    ("api-key", "create"): _key_create,
    ("api-key", "list"): _key_list,
    ("api-key", "revoke"): _key_revoke,
}

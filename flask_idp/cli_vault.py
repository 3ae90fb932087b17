"""``hideez-idp key …``, ``key-profile …``, ``key-account …`` and ``key-template …``: the
Hideez Key admin actions over :class:`idp.vault.service.VaultService` (registered by
:mod:`flask_idp.cli`). Secrets are read from files or a prompt, never from the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeAlias

from flask_idp import cli_backup, cli_reauth
from flask_idp.cli_args import read_secret
from idp.admin.access import CLI, ROLE_PERMISSIONS, Permission, PermissionDenied
from idp.admin.keys import KeyAdmin
from idp.admin.keys_models import KeyOut
from idp.config.loader import load_config
from idp.errors import IdpError
from idp.runtime import Runtime, build_runtime
from idp.store.sql.repositories.admins import AdminRepository
from idp.vault.errors import EmployeeNotFound, InvalidVaultInput, ProfileNotFound
from idp.vault.model import AccessProfile, AccountInput, KeyImport, LoginType, Requirement
from idp.vault.service import VaultService, build_vault_service, parse_key_csv
from idp.vault.states import DEACTIVATION_REASONS, VaultReason, VaultStatus

COMMANDS = frozenset({"key", "key-profile", "key-account", "key-template"})
#: the CLI operator administers the server it runs on
OPERATOR = CLI
_FLAGS = ("button", "pin", "master_key")
_STAGES = ("pairing", "connection", "storage")
Subs: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
Command: TypeAlias = Callable[..., argparse.ArgumentParser]


def add_parsers(sub: Subs, command: Command) -> None:
    def group(name: str, text: str) -> Subs:
        return command(sub, name, text).add_subparsers(
            dest="action", required=True, metavar="ACTION"
        )

    _key_parsers(
        group("key", "Hideez Keys: import, assign, suspend, deactivate, compromise"), command
    )
    _profile_parsers(group("key-profile", "access profiles of the keys"), command)
    _account_parsers(group("key-account", "accounts on the keys: personal and shared"), command)
    templates = group("key-template", "account templates (name, URLs, apps)")
    tadd = command(templates, "add", "add a template")
    tadd.add_argument("name")
    tadd.add_argument("--url", action="append", default=[], dest="urls")
    tadd.add_argument("--app", action="append", default=[], dest="apps")
    tedit = command(templates, "edit", "change a template (only the options given)")
    tedit.add_argument("name")
    tedit.add_argument("--rename", help="a new name")
    urls = tedit.add_mutually_exclusive_group()
    urls.add_argument("--url", action="append", dest="urls", help="repeatable; replaces the URLs")
    urls.add_argument("--no-urls", action="store_const", const=[], dest="urls")
    apps = tedit.add_mutually_exclusive_group()
    apps.add_argument("--app", action="append", dest="apps", help="repeatable; replaces the apps")
    apps.add_argument("--no-apps", action="store_const", const=[], dest="apps")
    _with_json(command(templates, "list", "list templates"))
    command(templates, "delete", "delete a template").add_argument("name")


def _with_json(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--json", action="store_true", help="print JSON")
    return parser


def _key_parsers(key: Subs, command: Command) -> None:
    imp = _with_json(command(key, "import", "import keys (Ready) from the vendor's CSV or a list"))
    imp.add_argument("--csv", type=Path, help="CSV with the header serial,mac,model,firmware")
    imp.add_argument("--key", action="append", default=[], metavar="SERIAL,MAC,MODEL,FIRMWARE")
    listing = _with_json(command(key, "list", "list keys by serial"))
    listing.add_argument("--status", choices=[s.value for s in VaultStatus])
    listing.add_argument("--search", help="the serial or the holder's username or name contains")
    listing.add_argument("--limit", type=int, default=100)
    show = _with_json(command(key, "show", "show one key"))
    show.add_argument("serial")
    show.add_argument("--code", action="store_true", help="also print its activation code")
    assign = command(key, "assign", "assign a Ready key to an employee (prints the code)")
    assign.add_argument("serial")
    assign.add_argument("--employee", required=True, help="username")
    for name, text in (
        ("cancel", "cancel an assignment before the key was linked"),
        ("suspend", "issue a new activation code for an Active or Locked key"),
    ):
        command(key, name, text).add_argument("serial")
    compromise = command(
        key, "compromise", "mark a key compromised, refused forever (an admin re-enters a password)"
    )
    compromise.add_argument("serial")
    cli_reauth.add_arguments(compromise, who="an employee with an admin or helpdesk account")
    deactivate = command(key, "deactivate", "remove a key from its employee; wiped next time")
    deactivate.add_argument("serial")
    reasons = sorted(r.value for r in DEACTIVATION_REASONS)
    deactivate.add_argument("--reason", required=True, choices=reasons)
    profile = command(key, "profile", "set a key's access profile")
    profile.add_argument("serial")
    profile.add_argument("profile", help="the profile's name")


def _profile_parsers(profiles: Subs, command: Command) -> None:
    for name, text in (("add", "add an access profile"), ("edit", "change an access profile")):
        parser = command(profiles, name, text)
        parser.add_argument("name")
        if name == "edit":
            parser.add_argument("--rename", help="a new name")
        for stage in _STAGES:
            parser.add_argument(
                f"--{stage}",
                metavar="FLAGS",
                help=f"what {stage} needs: comma-separated from {','.join(_FLAGS)}, or none",
            )
        parser.add_argument("--pin-length", type=int, help="4-8 (default 4)")
        parser.add_argument("--pin-expiry-hours", type=float, help="default 24")
        parser.add_argument("--pin-attempts", type=int, help="3-15 (default 10)")
    _with_json(command(profiles, "list", "list access profiles"))
    command(profiles, "delete", "delete an unused access profile").add_argument("name")


def _account_parsers(accounts: Subs, command: Command) -> None:
    add = command(accounts, "add", "add a personal (--employee) or shared (--shared) account")
    owner = add.add_mutually_exclusive_group(required=True)
    owner.add_argument("--employee", help="username")
    owner.add_argument("--shared", action="store_true", help="a shared account")
    _account_fields(add)
    add.add_argument("--template", help="take the name, URLs and apps of this template")
    edit = command(accounts, "edit", "change an account (only the options given)")
    edit.add_argument("account_id")
    edit.add_argument("--shared", action="store_true", help="a shared account (fans out)")
    _account_fields(edit)
    delete = command(accounts, "delete", "delete an account (from the key at its next connection)")
    delete.add_argument("account_id")
    delete.add_argument("--shared", action="store_true")
    alist = _with_json(command(accounts, "list", "an employee's (or the shared) accounts"))
    who = alist.add_mutually_exclusive_group(required=True)
    who.add_argument("--employee", help="username")
    who.add_argument("--shared", action="store_true")
    command(accounts, "primary", "make the account the Windows logon one").add_argument(
        "account_id"
    )
    password = command(accounts, "password", "an admin's new password (never shown again)")
    password.add_argument("account_id")
    password.add_argument("--password-file", type=Path, help="'-' for stdin; else a prompt")
    otp = command(accounts, "otp", "set or remove an account's OTP secret")
    otp.add_argument("account_id")
    source = otp.add_mutually_exclusive_group(required=True)
    source.add_argument("--otp-file", type=Path, help="base32 or otpauth:// URI; '-' stdin")
    source.add_argument("--remove", action="store_true")
    share = command(accounts, "share", "give an employee a copy of a shared account")
    share.add_argument("shared_id")
    share.add_argument("--employee", required=True, help="username")
    cli_backup.add_parsers(accounts, command)


def _account_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--login", help=r"WebApp: as is; Local: .\login; Domain: DOMAIN\login")
    parser.add_argument("--type", dest="login_type", choices=[t.value for t in LoginType])
    parser.add_argument("--url", action="append", dest="urls", help="repeatable")
    parser.add_argument("--app", action="append", dest="apps", help="repeatable")
    parser.add_argument("--password-file", type=Path, help="'-' for stdin")
    parser.add_argument("--otp-file", type=Path, help="base32 or otpauth:// URI; '-' stdin")
    parser.add_argument(
        "--skip-password",
        action="store_true",
        default=None,
        help="the user types the password at the workstation",
    )


def run(args: argparse.Namespace, config_path: Path) -> int:
    runtime = build_runtime(load_config(config_path))
    try:
        service = build_vault_service(runtime)
        handler = {
            "key": _key,
            "key-profile": _profile,
            "key-account": _account,
            "key-template": _template,
        }[args.command]
        return handler(runtime, service, args)
    finally:
        runtime.close()


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return int(value.total_seconds())
    return value


def _print(args: argparse.Namespace, value: Any, lines: Callable[[], None]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(_plain(value), indent=2, sort_keys=True))
    else:
        lines()


def _employee(runtime: Runtime, username: str) -> str:
    employee = runtime.employees.get_by_username(username)
    if employee is None:
        raise EmployeeNotFound(f"no employee {username!r}")
    return employee.id


def _when(value: dt.datetime | None) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}Z"


def _key(runtime: Runtime, service: VaultService, args: argparse.Namespace) -> int:
    serial = getattr(args, "serial", "")
    if args.action == "import":
        keys = _imports(args)
        imported = service.import_keys(actor=OPERATOR, keys=keys)
        _print(args, imported, lambda: print(f"{len(imported)} keys imported (ready)"))
    elif args.action == "list":
        status = VaultStatus(args.status) if args.status else None
        vaults = service.list_keys(status=status, text=args.search, limit=args.limit)

        def lines() -> None:
            for v in vaults:
                print(
                    f"{v.serial:<14} {v.status.value:<12} {v.reason or '-':<24} {v.mac} "
                    f"battery {v.battery if v.battery is not None else '-'}% "
                    f"tasks {v.pending_tasks} seen {_when(v.last_seen_at)}"
                )
            print(f"{len(vaults)} keys")

        _print(args, vaults, lines)
    elif args.action == "show":
        vault = service.show_key(serial=serial)
        code = service.activation_code(actor=OPERATOR, serial=serial) if args.code else None

        def show() -> None:
            for name, value in _plain(vault).items():
                print(f"{name.replace('_', ' ') + ':':<20}{'-' if value is None else value}")
            if code is not None:
                print(f"{'activation code:':<20}{code}")

        _print(args, {**_plain(vault), **({"activation_code": code} if code else {})}, show)
    elif args.action == "assign":
        employee_id = _employee(runtime, args.employee)
        assigned = service.assign(actor=OPERATOR, serial=serial, employee_id=employee_id)
        print(f"{serial} reserved for {args.employee}; activation code {assigned.activation_code}")
    elif args.action == "suspend":
        suspended = service.suspend(actor=OPERATOR, serial=serial)
        print(f"{serial} suspended; new activation code {suspended.activation_code}")
    elif args.action == "cancel":
        print(f"{service.cancel(actor=OPERATOR, serial=serial).serial} is ready again")
    elif args.action == "deactivate":
        reason = VaultReason(args.reason)
        service.deactivate(actor=OPERATOR, serial=serial, reason=reason)
        print(f"{serial} deactivated ({reason.value}); it is wiped at its next connection")
    elif args.action == "compromise":
        done = _compromise(runtime, service, args)
        print(f"{done.serial} marked compromised by {args.admin}: every connection is refused")
    else:
        profile = _profile_named(service, args.profile)
        service.set_profile(actor=OPERATOR, serial=serial, profile_id=profile.id)
        print(f"{serial} uses access profile {profile.name}")
    return 0


def _compromise(runtime: Runtime, service: VaultService, args: argparse.Namespace) -> KeyOut:
    """As for lifting the alarm: the admin re-enters their password first (a refusal is
    audited), and the core checks that the proof is fresh."""
    keys = KeyAdmin(runtime, service)
    try:
        employee = runtime.employees.get_by_username(args.admin)
        admin = AdminRepository(runtime.db).for_employee(employee.id) if employee else None
        if admin is None or Permission.KEYS_WRITE not in ROLE_PERMISSIONS[admin.role]:
            raise PermissionDenied(
                f"{args.admin!r} is no admin or helpdesk account ('admin-user list')",
                permission=Permission.KEYS_WRITE,
            )
        proof = cli_reauth.reauthenticate(runtime, args, role=admin.role, admin_id=admin.id)
    except IdpError as exc:
        keys.compromise_refused(f"admin:{args.admin}", args.serial, exc.description)
        raise
    return keys.compromise(proof, args.serial)


def _imports(args: argparse.Namespace) -> Sequence[KeyImport]:
    keys: list[KeyImport] = []
    if args.csv is not None:
        keys.extend(parse_key_csv(read_secret(args.csv, "")))
    for given in args.key:
        parts = given.split(",")
        if len(parts) != 4:
            raise InvalidVaultInput(f"--key is SERIAL,MAC,MODEL,FIRMWARE, got {given!r}")
        keys.append(KeyImport(*parts))
    if not keys:
        raise InvalidVaultInput("give --csv FILE or at least one --key")
    return keys


def _profile_named(service: VaultService, name: str) -> AccessProfile:
    for profile in service.list_profiles():
        if profile.name.lower() == name.lower():
            return profile
    raise ProfileNotFound(f"no access profile named {name!r}")


def _requirement(raw: str | None, current: Requirement) -> Requirement:
    if raw is None:
        return current
    flags = {f.strip().replace("-", "_") for f in raw.split(",") if f.strip()} - {"none"}
    unknown = flags - set(_FLAGS)
    if unknown:
        raise InvalidVaultInput(f"unknown requirement {sorted(unknown)}; use {','.join(_FLAGS)}")
    return Requirement(**{f: f in flags for f in _FLAGS})


def _profile(runtime: Runtime, service: VaultService, args: argparse.Namespace) -> int:
    if args.action == "list":
        profiles = service.list_profiles()

        def lines() -> None:
            for p in profiles:
                stages = " ".join(
                    f"{s}={'+'.join(f for f in _FLAGS if getattr(getattr(p, s), f)) or 'none'}"
                    for s in _STAGES
                )
                print(
                    f"{p.name:<20} {stages} PIN {p.pin_length} digits, "
                    f"{p.pin_expiry.total_seconds() / 3600:g} h, {p.pin_attempts} tries"
                )

        _print(args, profiles, lines)
        return 0
    if args.action == "delete":
        service.delete_profile(actor=OPERATOR, profile_id=_profile_named(service, args.name).id)
        print(f"access profile {args.name} deleted")
        return 0
    create = args.action == "add"
    base = AccessProfile("", args.name) if create else _profile_named(service, args.name)
    hours = args.pin_expiry_hours
    if hours is not None and not 0 < hours <= 24 * 30:
        raise InvalidVaultInput(f"--pin-expiry-hours: 1 minute to 30 days, got {hours}")
    changed = dataclasses.replace(
        base,
        name=(None if create else args.rename) or base.name,
        pairing=_requirement(args.pairing, base.pairing),
        connection=_requirement(args.connection, base.connection),
        storage=_requirement(args.storage, base.storage),
        pin_length=base.pin_length if args.pin_length is None else args.pin_length,
        pin_expiry=base.pin_expiry if hours is None else dt.timedelta(seconds=round(hours * 3600)),
        pin_attempts=base.pin_attempts if args.pin_attempts is None else args.pin_attempts,
    )
    saved = service.save_profile(actor=OPERATOR, profile=changed, create=create)
    print(f"access profile {saved.name} {'added' if create else 'changed'}")
    return 0


def _account_input(args: argparse.Namespace) -> AccountInput:
    password = None
    if args.password_file is not None:
        password = read_secret(args.password_file, "")
    otp = None if args.otp_file is None else read_secret(args.otp_file, "")
    return AccountInput(
        name=args.name,
        login=args.login,
        login_type=LoginType(args.login_type) if args.login_type else None,
        urls=tuple(args.urls) if args.urls is not None else None,
        apps=tuple(args.apps) if args.apps is not None else None,
        password=password,
        otp_secret=otp,
        skip_password=args.skip_password,
    )


def _account(runtime: Runtime, service: VaultService, args: argparse.Namespace) -> int:
    action = args.action
    if action in cli_backup.ACTIONS:
        return cli_backup.run(runtime, service, args, read_secret)
    if action == "list":
        if args.shared:
            found = service.list_shared_accounts()
        else:
            found = service.list_accounts(employee_id=_employee(runtime, args.employee))

        def lines() -> None:
            for a in found:
                marks = " primary" if a.primary else ""
                marks += " skip-password" if a.skip_password else ""
                marks += " otp" if a.has_otp else ""
                marks += f" shared:{a.shared_id}" if a.shared_id else ""
                print(f"{a.id}  {a.name:<20} {a.login_type.value:<9} {a.login:<28}{marks}")
            print(f"{len(found)} accounts")

        _print(args, found, lines)
        return 0
    if action == "add":
        data = _account_input(args)
        if args.shared:
            account = service.add_shared_account(actor=OPERATOR, data=data)
        else:
            employee_id = _employee(runtime, args.employee)
            account = service.add_account(
                actor=OPERATOR, employee_id=employee_id, data=data, template=args.template
            )
        print(f"account {account.id} added: {account.name} ({account.login})")
    elif action == "edit" and args.shared:
        _, serials = service.edit_shared_account(
            actor=OPERATOR, shared_id=args.account_id, data=_account_input(args)
        )
        print(f"shared account {args.account_id} changed; queued for {len(serials)} key(s)")
    elif action == "edit":
        service.edit_account(actor=OPERATOR, account_id=args.account_id, data=_account_input(args))
        print(f"account {args.account_id} changed")
    elif action == "delete":
        if args.shared:
            service.delete_shared_account(actor=OPERATOR, shared_id=args.account_id)
        else:
            service.delete_account(actor=OPERATOR, account_id=args.account_id)
        print(f"account {args.account_id} deleted")
    else:
        return _account_secret(runtime, service, args)
    return 0


def _account_secret(runtime: Runtime, service: VaultService, args: argparse.Namespace) -> int:
    action = args.action
    if action == "primary":
        account = service.set_primary(actor=OPERATOR, account_id=args.account_id)
        print(f"{account.name} ({account.login}) is the primary account")
    elif action == "password":
        password = read_secret(args.password_file, "new password: ")
        service.change_password(actor=OPERATOR, account_id=args.account_id, password=password)
        print(f"password of account {args.account_id} changed; the key gets it next time")
    elif action == "otp":
        secret = None if args.remove else read_secret(args.otp_file, "")
        service.set_otp(actor=OPERATOR, account_id=args.account_id, otp_secret=secret)
        print(f"OTP secret of account {args.account_id} {'removed' if args.remove else 'set'}")
    else:
        copy = service.share_account(
            actor=OPERATOR, shared_id=args.shared_id, employee_id=_employee(runtime, args.employee)
        )
        print(f"shared account {args.shared_id} given to {args.employee} as {copy.id}")
    return 0


def _template(runtime: Runtime, service: VaultService, args: argparse.Namespace) -> int:
    if args.action == "add":
        template = service.add_template(
            actor=OPERATOR, name=args.name, urls=tuple(args.urls), apps=tuple(args.apps)
        )
        print(f"template {template.name} added")
    elif args.action == "edit":
        template = service.edit_template(
            actor=OPERATOR, name=args.name, rename=args.rename,
            urls=None if args.urls is None else tuple(args.urls),
            apps=None if args.apps is None else tuple(args.apps),
        )  # fmt: skip
        print(f"template {template.name} changed: {' '.join(template.urls + template.apps)}")
    elif args.action == "list":
        templates = service.list_templates()

        def lines() -> None:
            for t in templates:
                print(f"{t.name:<24} {' '.join(t.urls)} {' '.join(t.apps)}")
            print(f"{len(templates)} templates")

        _print(args, templates, lines)
    else:
        service.delete_template(actor=OPERATOR, name=args.name)
        print(f"template {args.name} deleted")
    return 0

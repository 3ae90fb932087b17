"""``hideez-idp authenticator …`` (the reference authenticator) and ``hideez-idp device …``
(the administrator's view of employees' apps and TOTP).

The authenticator commands need no IdP configuration: they talk to the server named in the
enrolment code, with the device key and state kept under ``--state``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from idp.errors import IdpError

if TYPE_CHECKING:
    from idp.runtime import Runtime

_Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_Command: TypeAlias = Callable[[_Sub, str, str], argparse.ArgumentParser]


class AuthenticatorCommandFailed(IdpError):
    """What the server (or the local state) refused, as one clear line."""

    error = "authenticator_command_failed"
    status = 400


def add_authenticator_parsers(sub: _Sub, command: _Command) -> None:
    enrol = command(sub, "enrol", "enrol this authenticator with the code under the QR code")
    enrol.add_argument("code", help="the QR code's content: hideez-idp://enrol?server=…&token=…")
    enrol.add_argument("--name", default="Reference authenticator", help="the device's name")
    enrol.add_argument("--platform", default="desktop", help="android, ios, desktop or other")
    command(sub, "list", "list waiting sign-in requests (context and three numbers)")
    approve = command(sub, "approve", "approve a waiting sign-in with the number it shows")
    approve.add_argument("--number", type=int, required=True, help="the number on the page")
    approve.add_argument("--transaction", help="which request (default: the waiting one)")
    approve.add_argument("--no-user-verification", action="store_true",
                         help="do not claim the person was verified on this device")  # fmt: skip
    deny = command(sub, "deny", "deny a waiting sign-in")
    deny.add_argument("--reason", choices=("declined", "not_me"), default="declined",
                      help="not_me reports a request you did not make")  # fmt: skip
    deny.add_argument("--transaction", help="which request (default: the waiting one)")
    totp = command(sub, "totp", "print the current one-time code (or add an account first)")
    totp.add_argument("--add", metavar="URI", help="keep an otpauth://totp/… account first")
    totp.add_argument("--account", help="which account (default: the first)")
    _add_pc_parsers(sub, command)
    for parser in sub.choices.values():
        parser.add_argument("--state", type=Path, required=True, metavar="DIR",
                            help="the directory holding the device key and state")  # fmt: skip


def _add_pc_parsers(sub: _Sub, command: _Command) -> None:
    login = command(sub, "pc-login", "unlock a PC: approve the login its lock-screen QR shows")
    login.add_argument("--qr", required=True, help="the QR code's content: hideez-idp://pc-login?…")
    login.add_argument("--account", help="the OS account (DOMAIN\\user) for a password login")
    login.add_argument("--password-file", type=Path, metavar="FILE",
                       help="its password from FILE (- for stdin); none: passwordless")  # fmt: skip
    lock = command(sub, "lock-pc", "lock the PCs you unlocked (or one of them)")
    lock.add_argument("--workstation", help="which workstation (default: every one)")
    code = command(sub, "offline-code", "print the next offline code for a PC that is offline")
    code.add_argument("--workstation", help="which workstation (default: the only one)")


def run_authenticator_command(args: argparse.Namespace) -> int:
    from authenticator import Authenticator, AuthenticatorError

    app = Authenticator(args.state)
    try:
        return _run(app, args)
    except AuthenticatorError as exc:
        raise AuthenticatorCommandFailed(f"{exc} ({exc.error})") from None


def _run(app: object, args: argparse.Namespace) -> int:
    from authenticator import Authenticator

    assert isinstance(app, Authenticator)
    action = args.action
    if action == "enrol":
        done = app.enrol(args.code, display_name=args.name, platform=args.platform)
        print(f"enrolled device {done.device_id} for {done.username} at {done.server}")
    elif action == "list":
        waiting = app.pending()
        if not waiting:
            print("no sign-in request is waiting")
        for p in waiting:
            where = f", location {p.location}" if p.location else ""
            print(f"{p.transaction_id}: sign-in to {p.relying_party} from {p.ip}{where} "
                  f"({p.user_agent[:60]}); numbers {' '.join(map(str, p.choices))}")  # fmt: skip
    elif action == "approve":
        decision = app.approve(args.number, transaction_id=args.transaction,
                               user_verified=not args.no_user_verification)  # fmt: skip
        print(f"answer sent: {decision}")
    elif action == "deny":
        print(f"answer sent: {app.deny(reason=args.reason, transaction_id=args.transaction)}")
    elif action in ("pc-login", "lock-pc", "offline-code"):
        _pc_action(app, args)
    else:
        if args.add:
            print(f"added {app.add_totp(args.add)}")
        print(app.totp_code(args.account))
    return 0


def _pc_action(app: object, args: argparse.Namespace) -> None:
    from authenticator import Authenticator
    from authenticator.pc import PcClient

    assert isinstance(app, Authenticator)
    pc = PcClient(app)
    if args.action == "pc-login":
        if (args.account is None) != (args.password_file is None):
            raise AuthenticatorCommandFailed("--account and --password-file go together")
        password = None
        if args.password_file is not None:
            password = _read_secret(args.password_file)
        done = pc.login(args.qr, account=args.account, password=password)
        extra = f"; {done.offline_codes} offline codes kept" if done.offline_codes else ""
        print(f"{done.workstation_name} ({done.workstation_id}): {done.method} login sent{extra}")
    elif args.action == "lock-pc":
        locked = pc.lock(args.workstation)
        print(f"lock sent to {', '.join(locked)}")
    else:
        workstation, code, left = pc.next_offline_code(args.workstation)
        print(f"{code}  (for {workstation}; {left} left)")


def _read_secret(path: Path) -> str:
    import sys

    text = sys.stdin.read() if str(path) == "-" else path.read_text()
    return text.rstrip("\r\n")


def add_device_parsers(sub: _Sub, command: _Command) -> None:
    command(sub, "list", "list enrolled authenticator apps (status, push, reports)")
    for name, text in (
        ("show", "show an employee's app and whether TOTP is set up (never the secret)"),
        ("disable", "stop an employee's app from approving sign-ins (it stays enrolled)"),
        ("enable", "let a disabled app approve sign-ins again"),
        ("remove", "remove an employee's app (they enrol again from the account page)"),
        ("remove-totp", "remove an employee's TOTP set-up"),
    ):
        command(sub, name, text).add_argument("username")
    pc = command(sub, "pc-logon", "let an employee's app unlock PCs (enable) or not (disable)")
    pc.add_argument("switch", choices=("enable", "disable", "show"))
    pc.add_argument("username")


def run_device_command(args: argparse.Namespace, config_path: Path) -> int:
    from idp.config.loader import load_config
    from idp.runtime import build_runtime

    rt = build_runtime(load_config(config_path), run_migrations=False)
    try:
        _device_action(rt, args)
        return 0
    finally:
        rt.close()


def _device_action(rt: Runtime, args: argparse.Namespace) -> None:
    from idp.admin import devices as admin
    from idp.factors.authenticator.model import DeviceStatus
    from idp.workstations.offline_revocations import OfflineRevocations

    action, devices, totp = args.action, rt.authenticator.devices, rt.authenticator.totp
    if action == "list":
        _print_devices(rt)
    elif action == "show":
        found = admin.summary(employees=rt.employees, devices=devices, totp=totp,
                              username=args.username)  # fmt: skip
        d = found.device
        app = f"{d.display_name} ({d.platform}, {d.status.value})" if d else "none"
        totp_state = "set up" if found.totp_enrolled else "not set up"
        print(f"{found.username}: app {app}; TOTP {totp_state}")
    elif action in ("disable", "enable"):
        status = DeviceStatus.DISABLED if action == "disable" else DeviceStatus.ACTIVE
        device = admin.set_device_status(
            employees=rt.employees, devices=devices, audit=rt.audit, username=args.username,
            revocations=OfflineRevocations(rt.db, rt.ephemeral), status=status, actor="cli",
            now=rt.now(),
        )  # fmt: skip
        print(f"{args.username}: app {device.display_name} is {device.status.value}")
    elif action == "remove":
        device = admin.remove_device(
            employees=rt.employees, devices=devices, audit=rt.audit, username=args.username,
            revocations=OfflineRevocations(rt.db, rt.ephemeral), actor="cli", now=rt.now(),
        )  # fmt: skip
        print(f"{args.username}: app {device.display_name} removed")
    elif action == "pc-logon":
        _pc_logon_action(rt, args)
    else:
        admin.remove_totp(employees=rt.employees, totp=totp, audit=rt.audit,
                          username=args.username, actor="cli", now=rt.now())  # fmt: skip
        print(f"{args.username}: TOTP removed")


def _pc_logon_action(rt: Runtime, args: argparse.Namespace) -> None:
    from idp.admin.pc_logon import pc_logon_of, set_pc_logon
    from idp.workstations.offline_revocations import OfflineRevocations
    from idp.workstations.pc_logon import PcLogonRepository

    default = rt.config.workstations.pc_login.default_enabled
    repo = PcLogonRepository(rt.db, default_enabled=default)
    devices = rt.authenticator.devices
    if args.switch == "show":
        setting = pc_logon_of(employees=rt.employees, devices=devices, pc_logon=repo,
                              username=args.username)  # fmt: skip
    else:
        setting = set_pc_logon(
            employees=rt.employees, devices=devices, pc_logon=repo, audit=rt.audit,
            revocations=OfflineRevocations(rt.db, rt.ephemeral), username=args.username,
            enabled=args.switch == "enable",
            actor="cli", now=rt.now(),
        )  # fmt: skip
    state = "enabled" if setting.enabled else "disabled"
    source = f"set by {setting.changed_by}" if setting.explicit else "the configured default"
    print(f"{args.username}: PC logon {state} ({source})")


def _print_devices(rt: Runtime) -> None:
    devices = rt.authenticator.devices.list(limit=1000)
    print(f"{'USERNAME':<20} {'DEVICE':<28} {'PLATFORM':<9} {'STATUS':<9} {'PUSH':<14} "
          f"{'REPORTED':>8} LAST SEEN")  # fmt: skip
    for d in devices:
        employee = rt.employees.get(d.employee_id)
        push = "unregistered" if d.push_unregistered_at else (d.push_provider or "polling")
        seen = f"{d.last_seen_at:%Y-%m-%d %H:%M}" if d.last_seen_at else "-"
        name = employee.username if employee else "?"
        print(f"{name:<20} {d.display_name[:28]:<28} {d.platform:<9} {d.status.value:<9} "
              f"{push:<14} {d.reported_count:>8} {seen}")  # fmt: skip
    reports = rt.authenticator.devices.total_reports()
    print(f"{len(devices)} apps; 'this wasn't me' reports: {reports}")

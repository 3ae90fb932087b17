"""``hideez-idp workstation …``, ``alarm …``, ``link serve``, ``gateway run`` and
``workstation-sim``: parsers and handlers, registered by :mod:`flask_idp.cli`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

from flask_idp import cli_reauth
from idp.admin.access import CLI, Actor, Permission, PermissionDenied, Role
from idp.admin.workstations import WorkstationAdmin
from idp.audit import AuditKind, Outcome
from idp.config.loader import load_config
from idp.errors import IdpError, InvalidRequest
from idp.runtime import Runtime, build_runtime
from idp.workstations.model import ProximitySettings, WorkstationStatus
from idp.workstations.services import Workstations, build_workstations
from idp.workstations.summaries import SummaryKind

#: the top-level commands this module handles
COMMANDS = frozenset({"workstation", "alarm", "link", "gateway", "workstation-sim", "key-sim"})
#: the CLI operator administers the server it runs on
OPERATOR = CLI
_STATUS_ACTIONS = {
    "approve": WorkstationStatus.APPROVED,
    "unapprove": WorkstationStatus.UNAPPROVED,
    "remove": WorkstationStatus.REMOVED,
}


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    command: Callable[..., argparse.ArgumentParser],
) -> None:
    def group(name: str, text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        return command(sub, name, text).add_subparsers(
            dest="action", required=True, metavar="ACTION"
        )

    ws = group("workstation", "list, approve and lock workstations; events, sessions, summaries")
    listing = command(ws, "list", "list workstations by name")
    listing.add_argument("--status", choices=[s.value for s in WorkstationStatus])
    listing.add_argument("--search", help="only those whose name, domain or id has this")
    listing.add_argument("--limit", type=int, default=100)
    for name, text in (
        ("show", "show one workstation"),
        ("approve", "approve a workstation"),
        ("unapprove", "refuse a workstation (it may be approved again)"),
        ("remove", "remove a workstation for good"),
        ("lock", "lock a connected workstation now"),
    ):
        command(ws, name, text).add_argument("workstation_id")
    settings = command(ws, "settings", "change an approved workstation's proximity settings")
    settings.add_argument("workstation_id")
    for option in ("--lock-proximity", "--unlock-proximity", "--lock-timeout"):
        settings.add_argument(option, type=int, help="default: the workstation's current value")
    events = command(ws, "events", "a workstation's newest events")
    events.add_argument("workstation_id")
    events.add_argument("--limit", type=int, default=50)
    sessions = command(ws, "sessions", "newest sessions (who unlocked which PC, when, how)")
    sessions.add_argument("--workstation", dest="workstation_id")
    sessions.add_argument("--limit", type=int, default=50)
    summary = command(ws, "summary", "a summary of sessions, as a table or CSV")
    summary.add_argument("kind", choices=[k.value for k in SummaryKind])
    summary.add_argument("--since", type=_day, help="first day (YYYY-MM-DD, UTC)")
    summary.add_argument("--until", type=_day, help="day after the last (YYYY-MM-DD)")
    summary.add_argument("--employee", help="username")
    summary.add_argument("--workstation", dest="workstation_id")
    summary.add_argument("--csv", type=Path, help="write every row as CSV to this file")
    summary.add_argument("--offset", type=int, default=0)
    summary.add_argument("--limit", type=int, default=100)
    ca = command(ws, "ca-init", "create the local CA for passwordless PC login")
    ca.add_argument("--key", type=Path, required=True)
    ca.add_argument("--cert", type=Path, required=True)
    ca.add_argument("--common-name", default="hideez-idp logon CA")

    alarm = group("alarm", "the emergency alarm: lock every workstation, refuse unlocks")
    command(alarm, "on", "raise the alarm")
    off = command(alarm, "off", "lift the alarm (an alarm admin re-enters their password)")
    cli_reauth.add_arguments(off, who="an employee named in workstations.alarm_admins")
    command(alarm, "status", "show the alarm and the workstations")

    link = group("link", "the workstations' link server")
    serve = command(link, "serve", "serve the workstation link (WebSocket)")
    serve.add_argument("--host", help="default: workstations.link.host")
    serve.add_argument("--port", type=int, help="default: workstations.link.port")

    gateway = group("gateway", "the device gateway that runs on a workstation")
    run = command(gateway, "run", "run the gateway agent")
    run.add_argument("--server", required=True, help="the link URL, wss://idp.example.com:8765/")
    run.add_argument("--state-dir", type=Path, required=True, help="identity key and spool")
    run.add_argument("--name", help="the workstation's name (default: the host name)")
    run.add_argument("--domain", default="")
    run.add_argument(
        "--ca-file", type=Path, help="trust this CA (PEM) for the server's wss:// certificate"
    )
    run.add_argument(
        "--refused-retry",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how often to ask again while not approved (default 5)",
    )
    run.add_argument(
        "--actuator", default="auto", choices=["auto", "windows", "linux", "recording"]
    )
    run.add_argument(
        "--keys",
        default="none",
        metavar="RADIO",
        help="Hideez Keys: none (default), system (bleak's platform Bluetooth) or "
        "bumble:TRANSPORT (e.g. bumble:tcp-client:127.0.0.1:PORT of hideez-idp key-sim)",
    )
    run.add_argument(
        "--pin-script",
        type=Path,
        metavar="FILE",
        help="answer the keys' PIN prompts from FILE, one PIN per line in turn (for the "
        "simulator; default: typed at the terminal)",
    )
    run.add_argument(
        "--password-script",
        type=Path,
        metavar="FILE",
        help="answer the prompts for key accounts' passwords from FILE, one line per prompt in "
        "order, then skip (a simulated user; default: typed at this terminal)",
    )

    sim = sub.add_parser("workstation-sim", help="run simulated gateways against a link server")
    sim.add_argument("--server", required=True, help="the link URL")
    sim.add_argument("--state-dir", type=Path, required=True)
    sim.add_argument("--count", type=int, default=1, help="how many gateways (default 1)")
    sim.add_argument("--interval", type=float, default=1.0, help="seconds between events")
    sim.add_argument("--duration", type=float, default=10.0, help="seconds to run")

    # key-sim's module imports bumble (the keysim extra): only when the command runs
    keys = sub.add_parser("key-sim", help="run virtual Hideez Keys behind a TCP HCI controller")
    keys.add_argument(
        "--serial", action="append", required=True, help="a key's serial (repeat for more keys)"
    )
    keys.add_argument("--host", default="127.0.0.1", help="where the HCI server listens")
    keys.add_argument("--port", type=int, default=0, help="its port (default: any free one)")
    keys.add_argument("--rssi", type=int, default=-50, help="every key's RSSI in dBm (-50)")
    keys.add_argument(
        "--walk",
        type=Path,
        metavar="FILE",
        help="script every key's RSSI over time: lines 'SECONDS RSSI' or 'SECONDS gone'",
    )
    keys.add_argument(
        "--duration", type=float, default=0.0, help="seconds to run (default: until Ctrl-C)"
    )


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {text!r}") from None


def run(args: argparse.Namespace, config_path: Path) -> int:
    if args.command == "gateway":
        from flask_idp.cli_gateway import run_gateway

        return run_gateway(args)
    if args.command == "workstation-sim":
        from flask_idp.cli_gateway import run_simulator

        return run_simulator(args)
    if args.command == "key-sim":
        from flask_idp.cli_keysim import run_key_sim

        return run_key_sim(args)
    runtime = build_runtime(load_config(config_path))
    try:
        parts = build_workstations(runtime)
        if args.command == "link":
            from flask_idp.cli_gateway import serve_link

            return serve_link(runtime, parts, host=args.host, port=args.port)
        if args.command == "alarm":
            return _alarm(runtime, parts, args)
        return _workstation(runtime, parts, args)
    finally:
        runtime.close()


def single_process_note(runtime: Runtime) -> None:
    if runtime.config.ephemeral_url.startswith("memory"):
        print(
            "note: ephemeral_url is memory://, so a link server in another process does not "
            "hear this command now; workstations get the stored state when they next connect "
            "(set ephemeral_url: redis://… to reach them at once)",
            file=sys.stderr,
        )


def _workstation(runtime: Runtime, parts: Workstations, args: argparse.Namespace) -> int:
    action = args.action
    if action in {*_STATUS_ACTIONS, "lock", "settings"}:
        single_process_note(runtime)
    actions = WorkstationAdmin(
        parts.registry,
        runtime.audit,
        runtime.ephemeral,
        calibration=runtime.config.workstations.proximity.calibration,
    )
    now = runtime.now()
    if action in _STATUS_ACTIONS:
        changed = actions.set_status(
            now=now,
            actor=OPERATOR,
            workstation_id=args.workstation_id,
            status=_STATUS_ACTIONS[action],
        )
        print(f"{changed.id} ({changed.info.name}) is now {changed.status.value}")
    elif action == "lock":
        locked = actions.lock_workstation(
            now=now, actor=OPERATOR, workstation_id=args.workstation_id
        )
        print(f"lock sent to {locked.id} ({locked.info.name})")
    elif action == "settings":
        current = parts.registry.require(args.workstation_id).settings.to_wire()
        given = {n: getattr(args, n) for n in current if getattr(args, n) is not None}
        settings = ProximitySettings(**{**current, **given})
        actions.update_settings(
            now=now, actor=OPERATOR, workstation_id=args.workstation_id, settings=settings
        )
        print(f"settings of {args.workstation_id}: {settings.to_wire()}")
    elif action == "ca-init":
        from idp.workstations.ca import LocalCa

        if args.key.exists() or args.cert.exists():
            raise InvalidRequest(f"refusing to overwrite {args.key} or {args.cert}")
        LocalCa.create(args.common_name, now=runtime.now()).save(args.key, args.cert)
        print(f"local logon CA written: {args.cert} (key {args.key}, mode 0600)")
    else:
        from flask_idp.cli_workstation_views import show

        return show(runtime, parts, args)
    return 0


def _alarm(runtime: Runtime, parts: Workstations, args: argparse.Namespace) -> int:
    actions = WorkstationAdmin(parts.registry, runtime.audit, runtime.ephemeral)
    now = runtime.now()
    if args.action in ("on", "off"):
        single_process_note(runtime)
    if args.action == "on":
        actions.raise_alarm(now=now, actor=OPERATOR)
        print("alarm ON: every connected workstation is locked; unlocks are refused")
    elif args.action == "off":
        try:
            proof = _reauthenticate(runtime, args)
        except IdpError as exc:
            runtime.audit.append_event(
                kind=AuditKind.ALARM_LIFTED,
                at=runtime.now(),
                actor=f"admin:{args.admin}"[:255],
                outcome=Outcome.FAILURE,
                reason=exc.description,
            )
            raise
        actions.lift_alarm(now=now, actor=proof)
        print(f"alarm lifted by {proof.username}")
    else:
        state, counts = parts.registry.alarm(), parts.registry.counts()
        print(f"alarm: {'ON' if state.active else 'off'}")
        if state.raised_at:
            print(f"raised: {state.raised_at:%Y-%m-%d %H:%M:%S}Z by {state.raised_by}")
        if state.lifted_at:
            print(f"last lifted: {state.lifted_at:%Y-%m-%d %H:%M:%S}Z by {state.lifted_by}")
        print(
            "registered: " + ", ".join(f"{s.value} {counts.get(s, 0)}" for s in WorkstationStatus)
        )
    return 0


def _reauthenticate(runtime: Runtime, args: argparse.Namespace) -> Actor:
    """The lifting admin is one of ``workstations.alarm_admins`` and proves who they are now,
    with their password: the actor that comes back carries the time of that proof."""
    if args.admin not in runtime.config.workstations.alarm_admins:
        raise PermissionDenied(
            f"{args.admin!r} is not in workstations.alarm_admins", permission=Permission.ALARM_LIFT
        )
    return cli_reauth.reauthenticate(runtime, args, role=Role.ADMIN)

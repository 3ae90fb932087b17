"""The ``hideez-idp`` command: serve, demo, check-config, metadata, enrol, employee, passkey,
admin-user, api-key, audit, keygen, purge, client, export, import."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from idp.config.reader import ConfigErrors
from idp.directory.model import SsoMode
from idp.errors import IdpError

CONFIG_ENV = "HIDEEZ_IDP_CONFIG"
DEFAULT_CONFIG = Path("config/idp.yaml")
_CONFIG_HELP = f"the IdP's YAML configuration (default: ${CONFIG_ENV}, else {DEFAULT_CONFIG})"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin set-up is noise here
    try:
        return _dispatch(args)
    except ConfigErrors as exc:
        for error in exc.errors:
            print(f"error: {error.description}", file=sys.stderr)
        print(f"{len(exc.errors)} configuration errors", file=sys.stderr)
        return 2
    except IdpError as exc:
        print(f"error: {exc.description}", file=sys.stderr)
        return 2


def config_path(args: argparse.Namespace) -> Path:
    """``--config`` if given, else ``$HIDEEZ_IDP_CONFIG``, else ``config/idp.yaml``."""
    given: Path | None = getattr(args, "config", None)
    return given or Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def _config_option(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: given at any level (``hideez-idp --config X employee list`` or after the
    # sub-command), a nested parser's default must not overwrite it.
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE",
                        help=_CONFIG_HELP)  # fmt: skip


def _grace(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"expected 0 to 3600 seconds, got {text}")
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hideez-idp", description=__doc__)
    _config_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = _command(sub, "serve", "run the IdP with a configuration file")
    serve.add_argument("--threads", type=int, default=8, help="worker threads (default 8)")
    serve.add_argument(
        "--grace", type=_grace, default=30.0, metavar="SECONDS",
        help="on SIGTERM, requests in flight may finish this long (default 30)",
    )  # fmt: skip
    serve.add_argument(
        "--unready-delay", type=_grace, default=0.0, metavar="SECONDS",
        help="on SIGTERM, answer /readyz 503 and serve on this long before the socket closes "
        "(default 0; set it above the load balancer's readiness interval)",
    )  # fmt: skip
    demo = sub.add_parser("demo", help="run the IdP on localhost with demo data and a demo SP")
    demo.add_argument("--dir", type=Path, default=Path("var/demo"), help="state directory")
    demo.add_argument("--port", type=int, default=8080, help="the IdP's port (default 8080)")
    demo.add_argument("--sp-port", type=int, default=8081, help="the demo SP's port (8081)")
    demo.add_argument("--no-sp", action="store_true", help="do not start the demo SP")
    _command(sub, "check-config", "validate the configuration, list what it loaded, and exit")
    _command(sub, "metadata", "print the IdP's signed SAML metadata")
    enrol = _command(sub, "enrol", "create a one-time passkey enrolment link")
    enrol.add_argument("username")
    employees = _group(sub, "employee", "add, change, show, list, disable and delete employees")
    _employee_parsers(employees)
    from flask_idp.cli_admin import add_admin_parsers

    add_admin_parsers(sub, employees, _command, _group)
    audit = _group(sub, "audit", "verify the audit chain or show recent events")
    _command(audit, "verify", "check the whole hash chain (exit 1 if broken)")
    recent = _command(audit, "recent", "show the newest events, newest first")
    recent.add_argument("--limit", type=int, default=20, help="how many (default 20)")
    keygen = sub.add_parser("keygen", help="create a signing key and a self-signed certificate")
    keygen.add_argument("--key", type=Path, required=True, help="private key file to write")
    keygen.add_argument("--cert", type=Path, required=True, help="certificate file to write")
    keygen.add_argument("--common-name", required=True, help="e.g. idp.example.com SAML signing")
    keygen.add_argument("--ec", action="store_true", help="EC P-256 instead of RSA-2048")
    keygen.add_argument("--days", type=int, default=3650)
    _command(sub, "purge", "delete expired rows (run daily, e.g. from cron)")
    from flask_idp.cli_oidc import add_client_parsers

    add_client_parsers(_group(sub, "client", "manage OpenID Connect clients"), _command)
    from flask_idp.cli_sync import add_password_parsers, add_sync_parsers

    add_sync_parsers(_group(sub, "sync", "import employees from AD / Entra ID"), _command)
    add_password_parsers(
        _group(sub, "password", "domain passwords: reset, change, rotate"), _command
    )
    from flask_idp.cli_authenticator import add_authenticator_parsers, add_device_parsers

    add_authenticator_parsers(_group(sub, "authenticator", "the reference authenticator"), _command)
    add_device_parsers(_group(sub, "device", "employees' authenticator apps and TOTP"), _command)
    from flask_idp import cli_proximity, cli_transfer, cli_vault, cli_workstations

    cli_workstations.add_parsers(sub, _command)
    cli_proximity.add_parsers(sub, _command)
    cli_vault.add_parsers(sub, _command)
    cli_transfer.add_parsers(sub, _command)
    return parser


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
             text: str) -> argparse.ArgumentParser:  # fmt: skip
    parser = sub.add_parser(name, help=text, description=text)
    _config_option(parser)
    return parser


def _group(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    parser = _command(sub, name, text)
    return parser.add_subparsers(dest="action", required=True, metavar="ACTION")


def enable_switch(parser: argparse.ArgumentParser) -> None:
    """``--enable`` / ``--disable`` of ``employee update`` and ``edit``."""
    switch = parser.add_mutually_exclusive_group()
    switch.add_argument("--enable", dest="enabled", action="store_const", const=True,
                        help="allow the employee to sign in again")  # fmt: skip
    switch.add_argument("--disable", dest="enabled", action="store_const", const=False,
                        help="stop the employee signing in; their sessions end")  # fmt: skip


def _employee_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    add = _command(sub, "add", "add an employee")
    add.add_argument("username")
    add.add_argument("--email", required=True)
    _employee_fields(add)
    update = _command(sub, "update", "change an employee (only the options given)")
    update.add_argument("username")
    update.add_argument("--email")
    _employee_fields(update)
    enable_switch(update)
    show = _command(sub, "show", "show one employee")
    show.add_argument("username")
    listing = _command(sub, "list", "list employees by username")
    listing.add_argument("--search", help="only those whose username, e-mail or name has this")
    listing.add_argument("--limit", type=int, default=100, help="how many (default 100)")


def _employee_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--first-name")
    parser.add_argument("--last-name")
    parser.add_argument("--phone", help="a phone number; '' removes it")
    for name, what in (
        ("--entra-object-id", "Entra ID object id (GUID) that EAM hints are linked by"),
        ("--entra-tenant-id", "Entra ID tenant id (GUID) of that object"),
        ("--ad-object-sid", "Active Directory objectSid (WS-Fed primarysid)"),
        ("--ad-object-guid", "Active Directory objectGUID"),
    ):
        parser.add_argument(name, help=f"{what}; '' removes it")
    parser.add_argument("--upn", help="user principal name (WS-Fed upn claim); '' removes it")
    parser.add_argument("--external-id", action="append", default=[], metavar="NAME=VALUE",
                        dest="external_ids",
                        help="an external id (repeatable); NAME= removes it")  # fmt: skip
    parser.add_argument("--sso-mode", choices=[m.value for m in SsoMode],
                        help="how the employee signs in")  # fmt: skip


def _dispatch(args: argparse.Namespace) -> int:
    from flask_idp import commands
    from idp.config.loader import load_config

    command = args.command
    if command == "demo":
        from flask_idp.demo import run_demo

        return run_demo(args.dir, port=args.port, sp_port=None if args.no_sp else args.sp_port)
    if command == "keygen":
        return commands.keygen(args)
    if command == "authenticator":
        from flask_idp.cli_authenticator import run_authenticator_command

        return run_authenticator_command(args)
    path = config_path(args)
    if command == "device":
        from flask_idp.cli_authenticator import run_device_command

        return run_device_command(args, path)
    if command == "check-config":
        return commands.check_config(path)
    if command == "client":
        from flask_idp.cli_oidc import run_client_command

        return run_client_command(args, path)
    from flask_idp import cli_proximity, cli_transfer, cli_vault, cli_workstations

    if command in cli_workstations.COMMANDS:
        return cli_workstations.run(args, path)
    if command in cli_proximity.COMMANDS:
        return cli_proximity.run(args, path)
    if command in cli_vault.COMMANDS:
        return cli_vault.run(args, path)
    if command in cli_transfer.COMMANDS:
        return cli_transfer.run(args, path)
    config = load_config(path)
    if command == "serve":
        return commands.serve(config, threads=args.threads, grace=args.grace,
                              unready_delay=args.unready_delay)  # fmt: skip
    if command == "metadata":
        return commands.print_metadata(config)
    if command == "enrol":
        return commands.enrol(config, args.username)
    from flask_idp.cli_admin import COMMANDS, EMPLOYEE_ACTIONS, run_admin_command

    if command in COMMANDS or (command == "employee" and args.action in EMPLOYEE_ACTIONS):
        return run_admin_command(args, config)
    if command == "employee":
        return commands.employee(config, args)
    if command == "audit":
        return commands.audit(config, args.action, limit=getattr(args, "limit", 20))
    if command == "purge":
        return commands.purge(config)
    if command in ("sync", "password"):
        from flask_idp import cli_sync

        if command == "sync":
            return cli_sync.run_sync_command(config, args)
        return cli_sync.run_password_command(config, args)
    raise AssertionError(command)  # pragma: no cover - argparse guards this


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

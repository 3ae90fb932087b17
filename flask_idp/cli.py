"""The ``hideez-idp`` command: serve, demo, check-config, metadata, enrol, employee, audit,
client."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from idp.config.loader import load_config
from idp.errors import IdpError

DEFAULT_CONFIG = Path("config/idp.yaml")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hideez-idp", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the IdP with a configuration file")
    serve.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    serve.add_argument("--threads", type=int, default=8)
    demo = sub.add_parser("demo", help="run the IdP on localhost with demo data and a demo SP")
    demo.add_argument("--dir", type=Path, default=Path("var/demo"))
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--sp-port", type=int, default=8081)
    demo.add_argument("--no-sp", action="store_true", help="do not start the demo SP")
    check = sub.add_parser("check-config", help="validate the configuration and exit")
    check.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    meta = sub.add_parser("metadata", help="print the IdP's signed SAML metadata")
    meta.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    enrol = sub.add_parser("enrol", help="create a one-time passkey enrolment link")
    enrol.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    enrol.add_argument("username")
    emp = sub.add_parser("employee", help="add an employee")
    emp.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    emp.add_argument("action", choices=["add"])
    emp.add_argument("username")
    emp.add_argument("--email", required=True)
    emp.add_argument("--first-name", default="")
    emp.add_argument("--last-name", default="")
    audit = sub.add_parser("audit", help="verify the audit chain or show recent events")
    audit.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    audit.add_argument("action", choices=["verify", "recent"])
    audit.add_argument("--limit", type=int, default=20)
    keygen = sub.add_parser("keygen", help="create a signing key and a self-signed certificate")
    keygen.add_argument("--key", type=Path, required=True, help="private key file to write")
    keygen.add_argument("--cert", type=Path, required=True, help="certificate file to write")
    keygen.add_argument("--common-name", required=True, help="e.g. idp.example.com SAML signing")
    keygen.add_argument("--ec", action="store_true", help="EC P-256 instead of RSA-2048")
    keygen.add_argument("--days", type=int, default=3650)
    purge = sub.add_parser("purge", help="delete expired rows (run daily, e.g. from cron)")
    purge.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    client = sub.add_parser("client", help="manage OpenID Connect clients", add_help=False)
    client.add_argument("rest", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its plugin set-up is noise here
    try:
        return _dispatch(args)
    except IdpError as exc:
        print(f"error: {exc.description}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    from flask_idp import commands

    if args.command == "serve":
        return commands.serve(load_config(args.config), threads=args.threads)
    if args.command == "demo":
        from flask_idp.demo import run_demo

        return run_demo(args.dir, port=args.port, sp_port=None if args.no_sp else args.sp_port)
    if args.command == "check-config":
        return commands.check_config(args.config)
    if args.command == "metadata":
        return commands.print_metadata(load_config(args.config))
    if args.command == "enrol":
        return commands.enrol(load_config(args.config), args.username)
    if args.command == "employee":
        return commands.add_employee(load_config(args.config), args)
    if args.command == "audit":
        return commands.audit(load_config(args.config), args.action, limit=args.limit)
    if args.command == "keygen":
        return commands.keygen(args)
    if args.command == "purge":
        return commands.purge(load_config(args.config))
    if args.command == "client":
        from flask_idp.cli_oidc import add_client

        return add_client(args.rest)
    raise AssertionError(args.command)  # pragma: no cover - argparse guards this


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

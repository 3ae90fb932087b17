"""What the ``hideez-idp`` sub-commands do (kept apart from argument parsing)."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from idp.audit import AuditKind, Outcome
from idp.config.loader import load_config
from idp.config.schema import IdpConfig
from idp.directory.model import Employee
from idp.errors import NotFound
from idp.runtime import Runtime, build_runtime


def serve(config: IdpConfig, *, threads: int = 8) -> int:
    from waitress import serve as waitress_serve

    from flask_idp.app import create_app

    runtime = build_runtime(config)
    app = create_app(runtime)
    print(
        f"hideez-idp listening on http://{config.listen.host}:{config.listen.port} "
        f"(external URL {config.base_url})",
        flush=True,
    )
    waitress_serve(
        app,
        host=config.listen.host,
        port=config.listen.port,
        threads=threads,
        ident="hideez-idp",
        max_request_body_size=config.limits.max_request_bytes * 2,
    )
    return 0


def check_config(path: Path) -> int:
    config = load_config(path)
    runtime = build_runtime(config, run_migrations=False)
    parts = ", ".join(
        f"{name}: {_describe(getattr(runtime.protocols, name))}" for name in runtime.protocols
    )
    print(f"{path}: OK ({parts or 'no protocols enabled'})")
    return 0


def _describe(protocol_runtime: object) -> str:
    describe = getattr(protocol_runtime, "describe", None)
    return describe() if callable(describe) else "enabled"


def print_metadata(config: IdpConfig) -> int:
    runtime = build_runtime(config, run_migrations=False)
    saml = runtime.protocols.saml
    if saml is None:
        print("error: SAML is not enabled in this configuration", file=sys.stderr)
        return 2
    from idp.saml.metadata import build_metadata

    xml = build_metadata(
        settings=saml.settings, keys=runtime.keys, signer=saml.signer, now=runtime.now()
    )
    sys.stdout.write(xml.decode() + "\n")
    return 0


def enrol(config: IdpConfig, username: str) -> int:
    runtime = build_runtime(config)
    print(enrolment_link(runtime, username))
    return 0


def enrolment_link(runtime: Runtime, username: str) -> str:
    employee = runtime.employees.get_by_username(username)
    if employee is None:
        raise NotFound(f"no employee with username {username!r}")
    token, _ = runtime.enrolment.create(
        employee_id=employee.id, created_by="cli", now=runtime.now()
    )
    runtime.audit.append_event(
        kind=AuditKind.ENROLMENT_LINK_CREATED,
        at=runtime.now(),
        actor="cli",
        employee_id=employee.id,
        outcome=Outcome.SUCCESS,
    )
    return runtime.config.url(f"/enrol/{token}")


def add_employee(config: IdpConfig, args: argparse.Namespace) -> int:
    runtime = build_runtime(config)
    employee = Employee(
        id=secrets.token_hex(8),
        username=args.username,
        email=args.email,
        first_name=args.first_name,
        last_name=args.last_name,
    )
    runtime.employees.add(employee, now=runtime.now())
    runtime.audit.append_event(
        kind=AuditKind.EMPLOYEE_CREATED,
        at=runtime.now(),
        actor="cli",
        employee_id=employee.id,
        outcome=Outcome.SUCCESS,
    )
    print(f"added {employee.username} ({employee.id})")
    return 0


def audit(config: IdpConfig, action: str, *, limit: int = 20) -> int:
    """``verify``: check the whole hash chain (exit 1 if broken); ``recent``: newest events."""
    runtime = build_runtime(config, run_migrations=False)
    if action == "verify":
        report = runtime.audit.verify()
        if report.ok:
            print(f"audit chain OK: {report.checked} events")
            return 0
        print(f"audit chain BROKEN at seq {report.first_broken_seq}: {report.reason}")
        return 1
    for event in runtime.audit.list(limit=limit).items:
        print(
            f"{event.seq:>8} {event.at:%Y-%m-%d %H:%M:%S} {event.kind.value:<24} "
            f"{event.outcome.value:<8} {event.actor:<20} {event.relying_party or '-':<24} "
            f"{event.reason or ''}"
        )
    return 0


def purge(config: IdpConfig) -> int:
    """Delete what has expired and is only kept for refusal: OIDC refresh-token families
    and remembered consents. (Expired rows are refused anyway; this keeps tables small.)"""
    from idp.oidc.store import SqlConsents, SqlRefreshFamilies

    runtime = build_runtime(config)
    now = runtime.now()
    families = SqlRefreshFamilies(runtime.db).purge_expired(now=now)
    consents = SqlConsents(runtime.db).purge_expired(now=now)
    print(f"purged {families} expired refresh-token families and {consents} expired consents")
    return 0


def keygen(args: argparse.Namespace) -> int:
    """Write a new key (mode 0600) and a self-signed certificate; never overwrite a key."""
    from idp.keys import generate_self_signed

    for path in (args.key, args.cert):
        if path.exists():
            print(f"error: {path} exists; refusing to overwrite a key", file=sys.stderr)
            return 2
    key = generate_self_signed(args.key, args.cert, common_name=args.common_name,
                               kind="ec" if args.ec else "rsa", days=args.days)  # fmt: skip
    print(f"wrote {args.key} and {args.cert} ({key.algorithm}, kid {key.kid})")
    return 0

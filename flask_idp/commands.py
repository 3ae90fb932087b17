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
    parts = ", ".join(f"{name}: {_describe(value)}" for name, value in runtime.protocols.items())
    print(f"{path}: OK ({parts or 'no protocols enabled'})")
    return 0


def _describe(protocol_runtime: object) -> str:
    describe = getattr(protocol_runtime, "describe", None)
    return describe() if callable(describe) else "enabled"


def print_metadata(config: IdpConfig) -> int:
    runtime = build_runtime(config, run_migrations=False)
    saml = runtime.protocols.get("saml")
    if saml is None:
        print("error: SAML is not enabled in this configuration", file=sys.stderr)
        return 2
    sys.stdout.write(saml.metadata_xml(now=runtime.now()).decode())
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

"""What the ``hideez-idp`` sub-commands do (kept apart from argument parsing)."""

from __future__ import annotations

import argparse
import errno
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from idp.admin.employees import (
    check_changes,
    check_username,
    create_employee,
    find_employee,
    update_employee,
)
from idp.config.loader import load_config
from idp.config.schema import IdpConfig
from idp.config.workstations import MAX_OFFLINE_HOURS
from idp.directory.sync.store import SyncStore
from idp.errors import IdpError, InvalidRequest
from idp.runtime import Runtime, build_runtime

if TYPE_CHECKING:
    from flask import Flask


class Server(Protocol):
    """What the demo and ``serve`` use of a bound waitress server."""

    def run(self) -> None: ...
    def close(self) -> None: ...


class ListenFailed(IdpError):
    """The built-in server cannot listen where the configuration says (port in use, ...)."""

    error = "listen_failed"


def bind(app: Flask, config: IdpConfig, *, threads: int = 8) -> Server:
    """Bind the server's socket now, so a port in use is one clear line before anything else."""
    from waitress import create_server

    host, port = config.listen.host, config.listen.port
    try:
        server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="hideez-idp",
            max_request_body_size=config.limits.max_request_bytes * 2,
        )
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ListenFailed(
                f"cannot listen on {host}:{port}: the port is in use by another process "
                "(another hideez-idp?); stop it or set listen.port"
            ) from None
        raise ListenFailed(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound: Server = server
    return bound


def serve(
    config: IdpConfig, *, threads: int = 8, grace: float = 30.0, unready_delay: float = 0.0
) -> int:
    """Serve until SIGTERM/SIGINT; then answer ``/readyz`` 503 for ``unready_delay`` seconds
    while serving on, and drain for up to ``grace`` seconds (flask_idp.serving)."""
    from flask_idp.app import create_app
    from flask_idp.operations import start_draining
    from flask_idp.serving import serve_until_terminated
    from idp import logs

    logs.configure(log_format=config.observability.log_format)
    runtime = build_runtime(config)
    app = create_app(runtime)
    server = bind(app, config, threads=threads)
    print(
        f"hideez-idp listening on http://{config.listen.host}:{config.listen.port} "
        f"(external URL {config.base_url})",
        flush=True,
    )
    serve_until_terminated(server, grace=grace, unready_delay=unready_delay,
                           on_draining=lambda: start_draining(app),
                           on_stopped=runtime.close)  # fmt: skip
    print("hideez-idp stopped", flush=True)
    return 0


def check_config(path: Path) -> int:
    """Parse everything, load the keys, and list what was loaded (errors: all of them)."""
    config = load_config(path)
    runtime = build_runtime(config, run_migrations=False)
    runtime.db.engine.dispose()
    print(f"{path}: OK")
    for line in describe(config) + (
        runtime.protocols.saml.federation_status() if runtime.protocols.saml else []
    ):
        print(line)
    return 0


def describe(config: IdpConfig) -> list[str]:
    """What a configuration switches on: every relying party with where answers go."""
    from idp.config.oidc import OidcSettings
    from idp.config.saml import SamlConfig
    from idp.wsfed.model import WsFedSettings

    lines = [f"base URL {config.base_url}; relying parties from {config.relying_parties_dir}"]
    saml = config.protocols.get("saml")
    if isinstance(saml, SamlConfig):
        lines.append(
            f"SAML: entity id {saml.settings.entity_id}, "
            f"{len(saml.service_providers)} service providers"
        )
        for sp in saml.service_providers.values():
            acs = ", ".join(e.url for e in sp.acs)
            extra = ", IdP-initiated allowed" if sp.allow_idp_initiated else ""
            lines.append(f"  SP {sp.name}: entity id {sp.entity_id}, ACS {acs}{extra}")
    else:
        lines.append("SAML: off")
    oidc = config.protocols.get("oidc")
    if isinstance(oidc, OidcSettings):
        lines.append(f"OIDC: issuer {oidc.issuer}, {len(oidc.clients.clients)} clients")
        for client in oidc.clients.clients.values():
            uris = ", ".join(client.redirect_uris)
            lines.append(f"  client {client.client_id} ({client.token_endpoint_auth_method}): "
                         f"redirect URIs {uris}")  # fmt: skip
        if oidc.eam is not None:
            lines.append(f"  EAM clients {', '.join(oidc.eam.client_ids)}")
            lines.extend(f"  EAM tenant {tenant}" for tenant in sorted(oidc.eam.tenants))
    else:
        lines.append("OIDC: off")
    wsfed = config.protocols.get("wsfed")
    if isinstance(wsfed, WsFedSettings):
        lines.append(f"WS-Fed: issuer {wsfed.issuer}, {len(wsfed.relying_parties)} realms")
        for rp in wsfed.relying_parties:
            replies = ", ".join(rp.reply_urls)
            lines.append(f"  realm {rp.realm} ({rp.name}): reply URLs {replies}")
    else:
        lines.append("WS-Fed: off")
    return lines


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
    """A one-time enrolment link, made by the admin service as the CLI (and audited)."""
    from idp.admin.access import CLI
    from idp.admin.services import build_admin_services

    employees = build_admin_services(runtime).employees
    return employees.enrolment_link(CLI, find_employee(runtime.employees, username).id).url


def employee(config: IdpConfig, args: argparse.Namespace) -> int:
    """``employee add|update``: every input is checked before the database opens (the other
    ``employee`` actions are in cli_admin.py)."""
    check_username(args.username)
    changes = check_changes(
        email=args.email, first_name=args.first_name, last_name=args.last_name,
        phone=args.phone, entra_object_id=args.entra_object_id,
        entra_tenant_id=args.entra_tenant_id, ad_object_guid=args.ad_object_guid,
        ad_object_sid=args.ad_object_sid, upn=args.upn, external_ids=args.external_ids,
        sso_mode=args.sso_mode, enabled=getattr(args, "enabled", None),
    )  # fmt: skip
    runtime = build_runtime(config)
    if args.action == "add":
        added = create_employee(employees=runtime.employees, audit=runtime.audit,
                                username=args.username, changes=changes, actor="cli",
                                now=runtime.now())  # fmt: skip
        print(f"added {added.employee.username} ({added.employee.id})")
    else:
        done = update_employee(employees=runtime.employees, audit=runtime.audit,
                               username=args.username, changes=changes, actor="cli",
                               now=runtime.now(), passwords=runtime.passwords,
                               directory_owned=SyncStore(runtime.db).owned)  # fmt: skip
        what = ", ".join(done.fields) if done.fields else "nothing changed"
        print(f"updated {done.employee.username}: {what}")
        if changes.enabled is False:  # as ``employee disable``: the one sign-out, at once
            from idp.flows.logout import Logout

            runtime.directory.invalidate(done.employee.id)
            ended = Logout(runtime).end_everywhere(
                done.employee.id, reason="employee_disabled", actor="cli"
            )
            print(f"ended {ended} session{'' if ended == 1 else 's'} of {done.employee.username}")
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
    if not 1 <= limit <= 1000:
        raise InvalidRequest(f"--limit: expected 1-1000, got {limit}")
    events = runtime.audit.list(limit=limit).items
    names = _usernames(runtime, {i for e in events for i in (e.employee_id, e.actor) if i})
    print(f"{'SEQ':>8} {'TIME (UTC)':<19} {'EVENT':<27} {'OUTCOME':<8} {'ACTOR':<16} "
          f"{'EMPLOYEE':<16} {'RELYING PARTY':<24} REASON / DETAILS")  # fmt: skip
    for event in events:
        employee_name = names.get(event.employee_id or "") or event.details.get("username")
        details = ", ".join(f"{k}={v}" for k, v in event.details.items() if k != "username")
        notes = "; ".join(p for p in (event.reason, details) if p)
        print(f"{event.seq:>8} {event.at:%Y-%m-%d %H:%M:%S} {event.kind.value:<27} "
              f"{event.outcome.value:<8} {names.get(event.actor, event.actor):<16} "
              f"{employee_name or '-':<16} {event.relying_party or '-':<24} {notes}")  # fmt: skip
    return 0


def _usernames(runtime: Runtime, ids: set[str]) -> dict[str, str]:
    """Employee ids → usernames (actors such as ``cli`` or ``system`` are not employees)."""
    found = {}
    for employee_id in ids:
        employee = runtime.employees.get(employee_id)
        if employee is not None:
            found[employee_id] = employee.username
    return found


def purge(config: IdpConfig) -> int:
    """Delete what has expired and is only kept for refusal: OIDC refresh-token families,
    remembered consents and revocations of offline grants that have all expired. (Expired
    rows are refused anyway; this keeps tables small.)"""
    from idp.oidc.store import SqlConsents, SqlRefreshFamilies
    from idp.workstations.offline_revocations import OfflineRevocations

    runtime = build_runtime(config)
    now = runtime.now()
    families = SqlRefreshFamilies(runtime.db).purge_expired(now=now)
    consents = SqlConsents(runtime.db).purge_expired(now=now)
    revocations = OfflineRevocations(runtime.db, runtime.ephemeral).purge_expired(now=now)
    print(
        f"purged {families} expired refresh-token families, {consents} expired consents "
        f"and {revocations} offline-grant revocations older than {MAX_OFFLINE_HOURS} hours"
    )
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

"""``hideez-idp sync …`` and ``hideez-idp password …``: directory sync and domain passwords.

Only translation: arguments in, :mod:`idp.directory.sync` and :mod:`idp.directory.passwords`
do the work, errors are the core's (rendered once by ``cli.main``). A password the directory
took is handed to the vault (``directory_password_changed``): the key's copy follows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeAlias

from idp.config.directory import DirectorySettings, EntraSource, LdapSource, Source
from idp.config.schema import IdpConfig
from idp.directory.model import Employee
from idp.directory.passwords import (
    AdPasswords,
    PasswordChanged,
    PasswordDirectory,
    PasswordRefused,
    Refusal,
    change_password,
    reset_password,
    rotate_passwords,
)
from idp.directory.passwords_entra import GraphPasswords
from idp.directory.sync.engine import Progress, format_summary
from idp.directory.sync.records import Action, SyncError
from idp.directory.sync.secrets import store_secret
from idp.directory.sync.service import run_sync, secret_of
from idp.directory.sync.store import SyncStore
from idp.errors import InvalidRequest
from idp.runtime import Runtime, build_runtime
from idp.secrets import MASTER_KEY_ENV
from idp.vault.service import build_vault_service
from idp.vault.withdrawal import key_withdrawal

_Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
BAR_WIDTH = 30


class UnknownSource(InvalidRequest):
    error = "unknown_directory_source"


def add_sync_parsers(
    sub: _Sub, command: Callable[[_Sub, str, str], argparse.ArgumentParser]
) -> None:
    run = command(sub, "run", "synchronise employees from the directory sources now")
    schedule = command(sub, "schedule", "synchronise every interval until stopped (hourly default)")
    for parser in (run, schedule):
        parser.add_argument(
            "--source",
            action="append",
            dest="sources",
            metavar="NAME",
            help="only this source (repeatable; default: every source)",
        )
        parser.add_argument("--full", action="store_true", help="a full pass, not incremental")
    run.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    schedule.add_argument(
        "--interval", type=int, help="seconds between runs (default: directory.interval_seconds)"
    )
    schedule.add_argument("--runs", type=int, help="stop after this many runs (default: never)")
    command(sub, "status", "show each source's last sync and what it holds")
    secret = command(
        sub,
        "secret",
        "store a source's bind password or client secret, encrypted (read from standard input)",
    )
    secret.add_argument("source")


def add_password_parsers(
    sub: _Sub, command: Callable[[_Sub, str, str], argparse.ArgumentParser]
) -> None:
    reset = command(sub, "reset", "set an employee's domain password as the administrator")
    reset.add_argument("username")
    how = reset.add_mutually_exclusive_group(required=True)
    how.add_argument("--generate", action="store_true", help="a random password the policy accepts")
    how.add_argument(
        "--stdin", action="store_true", help="read the new password from standard input"
    )
    change = command(
        sub,
        "change",
        "change an employee's password with the current one "
        "(standard input: the current password, then the new one, one per line)",
    )
    change.add_argument("username")
    rotate = command(
        sub, "rotate", "renew the passwords of the rotation group that reached the maximum age"
    )
    rotate.add_argument("--source", action="append", dest="sources", metavar="NAME")
    policy = command(sub, "policy", "show a source's password policy, as the directory says it")
    policy.add_argument("source")


# -- sync ---------------------------------------------------------------------------------------


def run_sync_command(config: IdpConfig, args: argparse.Namespace) -> int:
    out, err = sys.stdout, sys.stderr
    if args.action == "secret":
        source = _source(config, args.source)
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            raise InvalidRequest("no secret on standard input")
        store_secret(build_runtime(config), source.name, text)
        print(f"stored the secret of {source.name}, encrypted", file=out)
        return 0
    runtime = build_runtime(config)
    if args.action == "status":
        return _status(runtime, out)
    sources = _sources(config, args.sources)
    if args.action == "run":
        return _run_once(runtime, sources, full=args.full, dry_run=args.dry_run, out=out, err=err)
    interval = args.interval or _settings(config).interval_seconds
    if interval < 1:
        raise InvalidRequest(f"--interval must be at least 1 second, got {interval}")
    done = 0
    while args.runs is None or done < args.runs:
        started = time.monotonic()
        try:
            _run_once(
                runtime, sources, full=args.full and done == 0, dry_run=False, out=out, err=err
            )
        except SyncError as exc:  # the next run tries again; the scheduler keeps going
            print(f"error: {exc.description}", file=err)
        done += 1
        if args.runs is None or done < args.runs:
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    return 0


def _settings(config: IdpConfig) -> DirectorySettings:
    if config.directory is None or not config.directory.sources:
        raise UnknownSource(f"{config.source} has no directory: section (see docs/directory.md)")
    return config.directory


def _source(config: IdpConfig, name: str) -> Source:
    settings = _settings(config)
    found = settings.source(name)
    if found is None:
        names = ", ".join(s.name for s in settings.sources)
        raise UnknownSource(f"no directory source {name!r}; configured: {names}")
    return found


def _sources(config: IdpConfig, names: list[str] | None) -> list[Source]:
    if not names:
        return list(_settings(config).sources)
    return [_source(config, n) for n in names]


def _run_once(
    runtime: Runtime, sources: list[Source], *, full: bool, dry_run: bool, out: TextIO, err: TextIO
) -> int:
    troubles = 0
    withdraw = key_withdrawal(runtime)
    for source in sources:
        with _progress_bar(err) as progress:
            summary = run_sync(
                runtime, source, full=full, dry_run=dry_run, progress=progress,
                on_withdrawn=withdraw,
            )  # fmt: skip
        print(format_summary(summary), file=out)
        troubles += summary.count(Action.CONFLICT) + len(summary.keys_not_withdrawn())
    return 1 if troubles else 0


@contextmanager
def _progress_bar(err: TextIO) -> Iterator[Callable[[Progress], None]]:
    """A bar on a terminal; nothing on a pipe or a log (the summary says it all)."""
    shown = [False]

    def show(p: Progress) -> None:
        if not err.isatty():
            return
        shown[0] = True
        if p.total:
            filled = BAR_WIDTH * min(p.done, p.total) // p.total
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            err.write(f"\r{p.source} [{bar}] {p.done}/{p.total} {p.phase}")
        else:
            err.write(f"\r{p.source} {p.phase}: {p.done} users")
        err.flush()

    try:
        yield show
    finally:
        if shown[0]:
            err.write("\n")


def _status(runtime: Runtime, out: TextIO) -> int:
    store = SyncStore(runtime.db)
    for source in _settings(runtime.config).sources:
        state = store.state(source.name)
        links = store.links(source.name)
        last = (
            state.last_success_at.isoformat(timespec="seconds")
            if state.last_success_at
            else "never"
        )
        pending = f", a {state.run_mode} pass interrupted" if state.run_id else ""
        mark = ""
        if state.highest_usn is not None:
            mark = f", USN {state.highest_usn} of DC {state.invocation_id}"
        elif state.delta_link:
            mark = ", delta links stored"
        print(
            f"{source.name} ({type(source).__name__.removesuffix('Source').lower()}): "
            f"{len(links)} employees, last success {last}{mark}{pending}",
            file=out,
        )
    return 0


# -- passwords ----------------------------------------------------------------------------------


def run_password_command(config: IdpConfig, args: argparse.Namespace) -> int:
    out = sys.stdout
    runtime = build_runtime(config)
    if args.action == "policy":
        with _directory(runtime, _source(config, args.source)) as directory:
            print(f"{args.source}: {directory.policy().describe()}", file=out)
        return 0
    if args.action == "rotate":
        return _rotate(runtime, _sources(config, args.sources), out)
    employee = runtime.employees.get_by_username(args.username)
    if employee is None:
        raise InvalidRequest(f"no employee {args.username!r}")
    source = _employee_source(runtime, employee)
    with _directory(runtime, source) as directory:
        if args.action == "reset":
            given = sys.stdin.readline().rstrip("\r\n") if args.stdin else None
            if args.stdin and not given:
                raise InvalidRequest("no password on standard input")
            done = reset_password(
                directory=directory,
                employee=employee,
                audit=runtime.audit,
                actor="cli",
                now=runtime.now(),
                password=given,
            )
            print(f"password of {employee.username} set in {source.name}", file=out)
            if args.generate:
                # Shown this once: only the key's copy (encrypted, as a vault task) keeps it.
                print(f"generated password (shown once): {done.password}", file=out)
            return _to_keys(runtime, [done], out)
        old = sys.stdin.readline().rstrip("\r\n")
        new = sys.stdin.readline().rstrip("\r\n")
        done = change_password(
            directory=directory,
            employee=employee,
            audit=runtime.audit,
            old=old,
            new=new,
            now=runtime.now(),
        )
        print(f"password of {employee.username} changed in {source.name}", file=out)
        return _to_keys(runtime, [done], out)


def _to_keys(runtime: Runtime, changed: list[PasswordChanged], out: TextIO) -> int:
    """The directory took the passwords; the employees' Domain/AzureAD accounts on their
    Hideez Keys follow as vault tasks (delivered at each key's next connection)."""
    if not changed:
        return 0
    if runtime.secrets.locked:
        print(
            "error: the directory has the new password, but the Hideez Key accounts were not "
            f"updated: the server's secrets are locked (set master_key or {MASTER_KEY_ENV})",
            file=sys.stderr,
        )
        return 1
    vault = build_vault_service(runtime)
    updated = sum(len(vault.directory_password_changed(changed=done)) for done in changed)
    if updated:
        print(f"{updated} account(s) on Hideez Keys updated (at the next connection)", file=out)
    return 0


def _employee_source(runtime: Runtime, employee: Employee) -> Source:
    link = SyncStore(runtime.db).link_for(employee.id)
    if link is None:
        raise PasswordRefused(
            Refusal.NOT_LINKED, f"{employee.username} was not imported from a directory"
        )
    return _source(runtime.config, link.source)


@contextmanager
def _directory(runtime: Runtime, source: Source) -> Iterator[PasswordDirectory]:
    if isinstance(source, EntraSource):
        from idp.directory.sync.entra_source import GraphDirectory

        graph = GraphDirectory(source, secret=secret_of(runtime, source))
        try:
            yield GraphPasswords(graph)
        finally:
            graph.close()
        return
    from idp.directory.sync.ldap_source import LdapDirectory

    assert isinstance(source, LdapSource)
    ldap = LdapDirectory(source, password=secret_of(runtime, source))
    try:
        yield AdPasswords(ldap, clock=runtime.now)
    finally:
        ldap.close()


def _rotate(runtime: Runtime, sources: list[Source], out: TextIO) -> int:
    refused = 0
    for source in sources:
        if not isinstance(source, LdapSource) or source.rotation_group is None:
            continue
        with _directory(runtime, source) as directory:
            assert isinstance(directory, AdPasswords)
            result = rotate_passwords(
                directory=directory,
                by_guid=runtime.employees.get_by_ad_object_guid,
                group=source.rotation_group,
                max_age=dt.timedelta(days=source.rotation_max_age_days),
                audit=runtime.audit,
                now=runtime.now(),
            )
        print(f"{source.name}: {len(result.changed)} passwords renewed", file=out)
        for username, why in result.refused:
            print(f"  refused: {username}: {why}", file=out)
        refused += len(result.refused)
        if _to_keys(runtime, list(result.changed), out):
            refused += 1
    return 1 if refused else 0

"""Directory sync over a built :class:`~idp.runtime.Runtime`: what the CLI and the scheduler run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from idp.config.directory import EntraSource, LdapSource, Source
from idp.directory.sync.engine import Progress, SyncContext
from idp.directory.sync.records import (
    DirectoryRefused,
    EmployeeWithdrawn,
    KeyWithdrawal,
    SyncSummary,
)
from idp.directory.sync.secrets import stored_secret
from idp.directory.sync.store import SyncStore

if TYPE_CHECKING:
    from idp.runtime import Runtime


def sync_context(
    runtime: Runtime,
    *,
    progress: Callable[[Progress], None] | None = None,
    on_withdrawn: Callable[[EmployeeWithdrawn], KeyWithdrawal | None] | None = None,
) -> SyncContext:
    from idp.flows.logout import Logout

    logout = Logout(runtime)

    def end_access(employee_id: str, reason: str) -> int:
        runtime.directory.invalidate(employee_id)
        return logout.end_everywhere(employee_id, reason=reason)

    return SyncContext(
        store=SyncStore(runtime.db),
        audit=runtime.audit,
        clock=runtime.now,
        end_access=end_access,
        on_withdrawn=on_withdrawn,
        progress=progress,
    )


def secret_of(runtime: Runtime, source: Source) -> str:
    """The bind password or client secret: from the configuration, or stored encrypted."""
    given = source.bind_password if isinstance(source, LdapSource) else source.client_secret
    if given is not None:
        return given
    found = stored_secret(runtime, source.name)
    if found is None:
        raise DirectoryRefused(
            f"source {source.name!r} uses a stored secret, but none is stored: "
            f"run 'hideez-idp sync secret {source.name}'"
        )
    return found


def run_sync(
    runtime: Runtime,
    source: Source,
    *,
    full: bool = False,
    dry_run: bool = False,
    progress: Callable[[Progress], None] | None = None,
    on_withdrawn: Callable[[EmployeeWithdrawn], KeyWithdrawal | None] | None = None,
) -> SyncSummary:
    ctx = sync_context(runtime, progress=progress, on_withdrawn=on_withdrawn)
    if isinstance(source, EntraSource):
        from idp.directory.sync.entra_pass import sync_entra
        from idp.directory.sync.entra_source import GraphDirectory

        graph = GraphDirectory(source, secret=secret_of(runtime, source))
        try:
            return sync_entra(ctx, graph, full=full, dry_run=dry_run)
        finally:
            graph.close()
    from idp.directory.sync.ldap_pass import sync_ldap
    from idp.directory.sync.ldap_source import LdapDirectory

    directory = LdapDirectory(source, password=secret_of(runtime, source))
    try:
        return sync_ldap(ctx, directory, full=full, dry_run=dry_run)
    finally:
        directory.close()

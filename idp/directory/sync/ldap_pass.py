"""One pass over an LDAP source: full or incremental (AD uSNChanged), then who left."""

from __future__ import annotations

from collections.abc import Iterator

from idp.config.directory import LdapSource
from idp.directory.sync.engine import PassRunner, SyncContext, prefetched
from idp.directory.sync.ldap_source import LdapDirectory, Watermark
from idp.directory.sync.records import DirectoryRefused, DirectoryUser, SyncSummary, Withdrawal
from idp.directory.sync.store import SyncState


def sync_ldap(
    ctx: SyncContext, directory: LdapDirectory, *, full: bool = False, dry_run: bool = False
) -> SyncSummary:
    source: LdapSource = directory.settings
    state = ctx.store.state(source.name)
    notes: list[str] = []
    mark = directory.watermark() if source.flavour == "ad" else None
    mode = _mode(directory, state, mark, full=full, notes=notes)
    scope_dn = None
    if source.scope_group is not None:
        scope_dn = directory.group_dn(source.scope_group)
        if scope_dn is None:
            # Never read "nobody is in scope" out of a missing group: that would deactivate all.
            raise DirectoryRefused(
                f"the scoping group {source.scope_group!r} does not exist under {source.base_dn}"
            )
    runner = PassRunner(ctx, source, dry_run=dry_run)
    run_id = runner.begin(state, mode)
    query = directory.user_filter(scope_dn)
    since = state.highest_usn if mode == "incremental" else None
    if since is not None:
        query = f"(&{query}(uSNChanged>={since + 1}))"
    for page in prefetched(_users(directory, query)):
        runner.apply(page, run_id)
    if mode == "full":
        runner.leave(ctx.store.not_seen(source.name, run_id), Withdrawal.LEFT_SCOPE)
    elif since is not None:
        if source.filter is not None:
            # Only the admin's filter can drop a changed user from the query: a membership
            # change is a group change, and that made this a full pass.
            left = directory.changed_keys(since) - runner.seen_keys
            runner.leave(_links(ctx, source.name, left), Withdrawal.LEFT_SCOPE)
        runner.leave(
            _links(ctx, source.name, set(directory.deleted_since(since))), Withdrawal.DELETED
        )
    after = state
    if mark is not None:
        after = SyncState(source.name, mark.invocation_id, mark.highest_usn)
    return runner.finish(after, mode, notes)


def _mode(
    directory: LdapDirectory,
    state: SyncState,
    mark: Watermark | None,
    *,
    full: bool,
    notes: list[str],
) -> str:
    if full or mark is None:
        return "full"
    if state.run_id is not None and state.run_mode == "full":
        notes.append("resuming the interrupted full pass")
        return "full"
    if state.highest_usn is None or state.invocation_id is None:
        return "full"
    if state.invocation_id != mark.invocation_id:
        notes.append(
            f"the DC's invocationId changed ({state.invocation_id} → "
            f"{mark.invocation_id}): full pass"
        )
        return "full"
    if directory.groups_changed_since(state.highest_usn):
        # memberOf is a back link: adding someone to a group changes the group, not the user.
        notes.append("group memberships changed: full pass")
        return "full"
    return "incremental"


def _users(directory: LdapDirectory, query: str) -> Iterator[list[DirectoryUser]]:
    for entries in directory.pages(query):
        yield [u for u in map(directory.to_user, entries) if u is not None]


def _links(ctx: SyncContext, source: str, keys: set[str]) -> list:  # type: ignore[type-arg]
    found = []
    for key in sorted(keys):
        link = ctx.store.link_by_key(source, key)
        if link is not None:
            found.append(link)
    return found

"""One pass over an Entra ID source: Graph ``groups/delta`` for the scoping group's members,
``users/delta`` for the users, both resumed from their stored deltaLinks next time.

The pass in progress records the next page to read (``resume_link``) in the same transaction
as each applied page, so a pass cut short continues where it stopped; the deltaLinks move only
after a complete pass.
"""

from __future__ import annotations

import json
from dataclasses import replace

from idp.directory.sync.engine import PassRunner, SyncContext, prefetched
from idp.directory.sync.entra_source import GraphDirectory, MemberChanges
from idp.directory.sync.records import DirectoryRefused, SyncSummary, Withdrawal
from idp.directory.sync.store import Link, SyncState


def _stored_links(state: SyncState) -> dict[str, str | None] | None:
    if not state.delta_link:
        return None
    try:
        links = json.loads(state.delta_link)
    except ValueError:
        return None  # unreadable: a full pass rebuilds it
    return links if isinstance(links, dict) and isinstance(links.get("users"), str) else None


def sync_entra(
    ctx: SyncContext, graph: GraphDirectory, *, full: bool = False, dry_run: bool = False
) -> SyncSummary:
    source = graph.settings
    state = ctx.store.state(source.name)
    stored = None if full else _stored_links(state)
    mode = "full" if stored is None else "incremental"
    notes: list[str] = []
    runner = PassRunner(ctx, source, dry_run=dry_run)
    run_id = runner.begin(state, mode)
    resume = state.resume_link if state.run_id == run_id else None
    if resume:
        notes.append("resuming the interrupted pass")
    members = _members(graph, stored if mode == "incremental" else None)
    scope = _scope(ctx, source.name, members, mode)
    start = resume or (stored["users"] if stored else graph.users_url())
    assert start is not None
    removed: set[str] = set()
    users_link: str | None = None
    for page in prefetched(graph.user_pages(start)):
        users = [u for u in page.users if scope is None or u.key in scope]
        after = replace(state, run_id=run_id, run_mode=mode, resume_link=page.next_link)
        runner.apply(users, run_id, after)
        removed.update(page.removed)
        users_link = page.delta_link or users_link
    if mode == "incremental" and members is not None:
        # Added to the group without any change to the user: users/delta does not list them.
        missing = sorted(members.added - runner.seen_keys)
        fetched = [u for u in map(graph.user, missing) if u is not None]
        if fetched:
            runner.apply(fetched, run_id)
    if mode == "full":
        runner.leave(ctx.store.not_seen(source.name, run_id), Withdrawal.LEFT_SCOPE)
    else:
        left = set(members.removed) - removed if members is not None else set()
        runner.leave(_links(ctx, source.name, left), Withdrawal.LEFT_SCOPE)
        runner.leave(_links(ctx, source.name, removed), Withdrawal.DELETED)
    links = {"users": users_link, "groups": members.delta_link if members else None}
    return runner.finish(SyncState(source.name, delta_link=json.dumps(links)), mode, notes)


def _members(graph: GraphDirectory, stored: dict[str, str | None] | None) -> MemberChanges | None:
    name = graph.settings.scope_group
    if name is None:
        return None
    group_id = graph.group_id(name)
    if group_id is None:
        raise DirectoryRefused(f"the scoping group {name!r} does not exist in Entra ID")
    return graph.members(group_id, stored.get("groups") if stored else None)


def _scope(
    ctx: SyncContext, source: str, members: MemberChanges | None, mode: str
) -> set[str] | None:
    if members is None:
        return None
    if mode == "full":
        return set(members.added)
    linked = {link.external_key for link in ctx.store.links(source)}
    return (linked | members.added) - members.removed


def _links(ctx: SyncContext, source: str, keys: set[str]) -> list[Link]:
    return [
        link for key in sorted(keys) if (link := ctx.store.link_by_key(source, key)) is not None
    ]

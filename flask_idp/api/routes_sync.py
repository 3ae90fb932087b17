"""``/api/v1/sync/sources`` and ``/api/v1/sync/runs``: directory sync, read-only."""

from __future__ import annotations

from flask_idp.api import operation, services
from idp.admin.access import Actor
from idp.admin.models import Items, Page
from idp.admin.sync_runs import SyncRunOut, SyncRunQuery, SyncSourceOut
from idp.admin.sync_runs import SyncRuns as S

TAG = "directory sync"


@operation(
    "GET",
    "/sync/sources",
    summary="The configured directory sources and their state",
    tag=TAG,
    needs=S.sources,
    response=Items[SyncSourceOut],
)
def list_sync_sources(actor: Actor) -> Items[SyncSourceOut]:
    return Items[SyncSourceOut](items=services().sync.sources(actor))


@operation(
    "GET",
    "/sync/runs",
    summary="Directory sync runs, newest first (cursor paging)",
    tag=TAG,
    needs=S.page,
    query=SyncRunQuery,
    response=Page[SyncRunOut],
)
def list_sync_runs(actor: Actor, *, query: SyncRunQuery) -> Page[SyncRunOut]:
    return services().sync.page(actor, query)


@operation(
    "GET",
    "/sync/runs/{run_id}",
    summary="One directory sync run",
    tag=TAG,
    needs=S.get,
    response=SyncRunOut,
)
def get_sync_run(actor: Actor, *, run_id: str) -> SyncRunOut:
    return services().sync.get(actor, run_id)

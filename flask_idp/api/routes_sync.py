"""``/api/v1/sync/sources``, ``/api/v1/sync/runs`` (list, show, start) and
``/api/v1/sync/jobs`` (the started runs, newest first; one's progress): directory sync."""

from __future__ import annotations

from flask_idp.api import operation, services
from idp.admin.access import Actor
from idp.admin.models import Items, Page
from idp.admin.sync_jobs import SyncJobOut, SyncJobQuery, SyncRunStart
from idp.admin.sync_jobs import SyncJobs as J
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


@operation(
    "POST",
    "/sync/runs",
    summary="Start a directory sync run now (202; one at a time across instances, 409 while "
    "one runs); follow Location for its progress",
    tag=TAG,
    needs=J.start,
    body=SyncRunStart,
    response=SyncJobOut,
    status=202,
    location=lambda job: f"/sync/jobs/{job.id}",
)
def start_sync_run(actor: Actor, *, body: SyncRunStart) -> SyncJobOut:
    return services().sync_jobs.start(actor, body)


@operation(
    "GET",
    "/sync/jobs",
    summary="The started sync runs still kept (24 hours after their last change), newest "
    "first (cursor paging)",
    tag=TAG,
    needs=J.page,
    query=SyncJobQuery,
    response=Page[SyncJobOut],
)
def list_sync_jobs(actor: Actor, *, query: SyncJobQuery) -> Page[SyncJobOut]:
    return services().sync_jobs.page(actor, query)


@operation(
    "GET",
    "/sync/jobs/{job_id}",
    summary="A started sync run: its state, progress and, when done, each source's result",
    tag=TAG,
    needs=J.get,
    response=SyncJobOut,
)
def get_sync_job(actor: Actor, *, job_id: str) -> SyncJobOut:
    return services().sync_jobs.get(actor, job_id)

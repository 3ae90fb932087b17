"""Console: start a directory sync run (admins: ``directory:sync``), follow it, and list the
started runs still kept."""

from __future__ import annotations

from flask import Response, make_response, redirect, request
from pydantic import ValidationError

from flask_idp.api import services
from flask_idp.api.problems import invalid_input
from flask_idp.console import actor, bp, page, posted
from idp.admin.sync_jobs import SyncJobQuery, SyncJobState, SyncRunStart


@bp.post("/sync/run")
def start_sync_run() -> Response:
    posted()
    body = SyncRunStart(full=request.form.get("full") == "on")
    job = services().sync_jobs.start(actor(), body)
    return make_response(redirect(f"/console/sync/jobs/{job.id}", code=303))


@bp.get("/sync/jobs")
def sync_jobs() -> Response:
    cursor = request.args.get("cursor")
    try:
        query = SyncJobQuery(limit=25, cursor=cursor or None)
    except ValidationError as exc:
        raise invalid_input(exc) from None
    return page("sync_jobs.html", listing=services().sync_jobs.page(actor(), query))


@bp.get("/sync/jobs/<job_id>")
def sync_job(job_id: str) -> Response:
    job = services().sync_jobs.get(actor(), job_id)
    return page("sync_job.html", job=job, running=job.state is SyncJobState.RUNNING)

"""Console: start a directory sync run (admins: ``directory:sync``) and follow it."""

from __future__ import annotations

from flask import Response, make_response, redirect, request

from flask_idp.api import services
from flask_idp.console import actor, bp, page, posted
from idp.admin.sync_jobs import SyncJobState, SyncRunStart


@bp.post("/sync/run")
def start_sync_run() -> Response:
    posted()
    body = SyncRunStart(full=request.form.get("full") == "on")
    job = services().sync_jobs.start(actor(), body)
    return make_response(redirect(f"/console/sync/jobs/{job.id}", code=303))


@bp.get("/sync/jobs/<job_id>")
def sync_job(job_id: str) -> Response:
    job = services().sync_jobs.get(actor(), job_id)
    return page("sync_job.html", job=job, running=job.state is SyncJobState.RUNNING)

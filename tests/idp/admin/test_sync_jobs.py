"""The started sync runs as a listing: newest first across the days' indexes, cursor paging,
jobs whose record expired dropped, a dead worker's job read as failed, and refusals. The
worker is not run here (the Samba tests in tests/flask_idp/api/test_api_sync_jobs.py run
real ones): ``spawn`` keeps the work, and the claim is let go as a finished worker does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flask_idp.demo import prepare
from idp.admin.access import Actor, Permission, PermissionDenied, Role
from idp.admin.models import InvalidInput
from idp.admin.sync_jobs import CLAIM, SyncJobQuery, SyncJobs, SyncJobState, SyncRunStart
from idp.config.loader import load_config
from idp.runtime import Runtime, build_runtime
from tests.idp.admin.conftest import ADMIN, AUDITOR, HELPDESK, NOW, Clock

DIRECTORY = """
directory:
  sources:
    - name: corp
      kind: ldap
      url: ldaps://dc1.corp.example
      bind_user: svc@corp
      bind_password: {file: bind.pw}
      base_dn: DC=corp,DC=example
"""


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, Clock]]:
    directory: Path = tmp_path_factory.mktemp("sync_jobs")
    config = prepare(directory, port=18093, sp_port=18094)
    (config.parent / "bind.pw").write_text("not used here\n")
    config.write_text(config.read_text() + DIRECTORY)
    clock = Clock()
    made = build_runtime(load_config(config), clock=clock)
    yield made, clock
    made.audit.flush()
    made.close()


@pytest.fixture
def jobs(runtime: tuple[Runtime, Clock]) -> Iterator[tuple[SyncJobs, Clock]]:
    rt, clock = runtime
    kept: list[Callable[[], None]] = []
    yield SyncJobs(rt, spawn=kept.append), clock
    clock.now = NOW


def _start(jobs: SyncJobs, rt: Runtime, *, full: bool = False) -> str:
    job = jobs.start(ADMIN, SyncRunStart(full=full))
    rt.ephemeral.delete(CLAIM)  # the worker is done with it (it was never run)
    return job.id


def test_jobs_newest_first_across_days_with_paging(
    jobs: tuple[SyncJobs, Clock], runtime: tuple[Runtime, Clock]
) -> None:
    service, clock = jobs
    rt = runtime[0]
    started = []
    for hours in (-30, -2, -1, 0):  # the first the day before, the others today
        clock.now = NOW + dt.timedelta(hours=hours)
        started.append(_start(service, rt, full=hours == 0))
    clock.now = NOW + dt.timedelta(minutes=5)
    first = service.page(AUDITOR, SyncJobQuery(limit=3))
    assert [j.id for j in first.items] == started[::-1][:3]
    assert first.items[0].full and first.items[0].started_by == ADMIN.name
    # never run, claim gone: each reads as a run whose worker stopped
    assert {j.state for j in first.items} == {SyncJobState.FAILED}
    assert first.next_cursor is not None
    rest = service.page(HELPDESK, SyncJobQuery(limit=3, cursor=first.next_cursor))
    assert [j.id for j in rest.items] == [started[0]] and rest.next_cursor is None
    # a job whose record expired drops out of the listing (its index entry stays)
    rt.ephemeral.delete("sync-job:" + started[1])
    assert started[1] not in [j.id for j in service.page(AUDITOR, SyncJobQuery()).items]


def test_the_running_job_is_listed_running(
    jobs: tuple[SyncJobs, Clock], runtime: tuple[Runtime, Clock]
) -> None:
    service, clock = jobs
    clock.now = NOW + dt.timedelta(hours=3)
    job = service.start(ADMIN, SyncRunStart())
    try:
        newest = service.page(AUDITOR, SyncJobQuery(limit=1)).items[0]
        assert (newest.id, newest.state) == (job.id, SyncJobState.RUNNING)
    finally:
        runtime[0].ephemeral.delete(CLAIM)


@pytest.mark.parametrize(
    "cursor",
    ["not-a-cursor", "eyJrIjoic3luYy1ydW5zIiwiYmVmb3JlIjoxfQ", "eyJrIjoic3luYy1qb2JzIn0"],
    ids=["garbage", "another-listing", "no-position"],
)
def test_foreign_cursors_are_refused(jobs: tuple[SyncJobs, Clock], cursor: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        jobs[0].page(AUDITOR, SyncJobQuery(cursor=cursor))
    assert refused.value.errors[0].field == "cursor"


def test_listing_needs_config_read(jobs: tuple[SyncJobs, Clock]) -> None:
    narrowed = Actor(name="admin:k", role=Role.AUDITOR, scopes=frozenset({Permission.AUDIT_READ}))
    with pytest.raises(PermissionDenied, match="config:read"):
        jobs[0].page(narrowed, SyncJobQuery())

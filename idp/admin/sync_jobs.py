"""Directory sync runs started by an admin (the REST API, the console): one at a time across
every instance, run in a background worker, their progress and result kept in the shared store.

Starting a run takes a *claim* in the short-lived store (set-if-absent with a TTL): a second
start, on this instance or another, while the claim is held is refused with
:class:`SyncRunInProgress` (409). The worker refreshes the claim while it runs and releases it
when done, so a crashed worker blocks new runs for at most :data:`CLAIM_TTL` seconds (and its
job then reads as failed). The job record (state, phase, counts, the result of each source or
the error) lives for :data:`JOB_TTL` after its last change; each finished source is also the
``directory_sync`` audit event that :mod:`idp.admin.sync_runs` lists. Jobs are listed newest
first from an index per UTC day of their start (a hash of job id → start time that expires by
itself a few days later, so nothing is ever pruned); a job whose record expired drops out.
The worker is whatever the shell passes as ``spawn`` (a
daemon thread by default): the core never waits on it.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from enum import StrEnum

from pydantic import Field

from idp.admin.access import Actor, Permission, requires
from idp.admin.models import Input, Output, Page, decode_cursor, encode_cursor, field_error
from idp.audit import AuditKind
from idp.config.directory import Source
from idp.directory.sync.engine import Progress
from idp.directory.sync.records import Action, SyncSummary
from idp.directory.sync.service import run_sync
from idp.errors import Conflict, IdpError, NotFound
from idp.runtime import Runtime
from idp.vault.withdrawal import key_withdrawal

log = logging.getLogger("hideez_idp.sync_jobs")
CLAIM = "sync-job:claim"
_JOB = "sync-job:"
_INDEX = "sync-jobs:started:"
_CURSOR = "sync-jobs"
#: a claim not refreshed for this long is a dead worker's: the next start may take it
CLAIM_TTL = 120
HEARTBEAT = 20.0
#: how long a job's record (and so GET of it) outlives its last change
JOB_TTL = 24 * 3600
#: a day's index is read for this many days (a long run's record outlives its start day)
_INDEX_DAYS = 3
_WORKER_LOST = "the worker stopped before the run finished (instance restarted?)"
Spawn = Callable[[Callable[[], None]], None]


class SyncJobState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class SyncRunInProgress(Conflict):
    error = "sync_run_in_progress"


class NoDirectory(Conflict):
    error = "no_directory_configured"


class SyncJobNotFound(NotFound):
    error = "sync_job_not_found"


class SyncRunStart(Input):
    sources: list[str] | None = Field(
        default=None, max_length=32, description="only these sources (default: every one)"
    )
    full: bool = Field(default=False, description="a full pass rather than an incremental one")


class KeyResult(Output):
    serial: str
    username: str
    withdrawn: bool
    error: str | None = Field(description="why the key could not be withdrawn")


class SourceResult(Output):
    source: str
    mode: str
    read: int
    unchanged: int
    #: how many employees each action touched (create, update, disable, conflict, …)
    changes: dict[str, int]
    sessions_ended: int
    notes: list[str]
    #: the Hideez Keys of withdrawn employees: deactivated (Withdrawal), or why not
    keys: list[KeyResult]

    @classmethod
    def of(cls, s: SyncSummary) -> SourceResult:
        counts = {a.value: s.count(a) for a in Action if s.count(a)}
        keys = [KeyResult(serial=k.serial, username=k.username, withdrawn=k.error is None,
                          error=k.error) for k in s.keys]  # fmt: skip
        return cls(
            source=s.source, mode=s.mode, read=s.read, unchanged=s.unchanged, changes=counts,
            sessions_ended=s.sessions_ended, notes=list(s.notes), keys=keys,
        )  # fmt: skip


class SyncJobOut(Output):
    id: str
    state: SyncJobState
    started_by: str
    started_at: str
    finished_at: str | None
    sources: list[str]
    full: bool
    #: the source being read, its phase (read, leavers, done) and how far it got
    current_source: str | None
    phase: str | None
    done: int
    total: int | None
    results: list[SourceResult]
    error: str | None = Field(description="why the run stopped (state failed)")


class SyncJobQuery(Input):
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)


class SyncJobs:
    def __init__(self, runtime: Runtime, *, spawn: Spawn | None = None) -> None:
        self._rt = runtime
        self._store = runtime.ephemeral
        self._spawn = spawn or _thread

    def _sources(self, names: list[str] | None) -> list[Source]:
        settings = self._rt.config.directory
        if settings is None or not settings.sources:
            raise NoDirectory("no directory source is configured (the directory: section)")
        if not names:
            return list(settings.sources)
        chosen = []
        for name in names:
            found = settings.source(name)
            if found is None:
                known = ", ".join(s.name for s in settings.sources)
                raise field_error("sources", f"no source {name[:64]!r}; configured: {known}")
            chosen.append(found)
        return chosen

    @requires(Permission.DIRECTORY_SYNC)
    def start(self, actor: Actor, body: SyncRunStart) -> SyncJobOut:
        """Claim the one run slot and start the worker; the job as it stands (running)."""
        sources = self._sources(body.sources)
        job_id = secrets.token_hex(8)
        if not self._store.add_if_absent(CLAIM, job_id.encode(), ttl=CLAIM_TTL):
            running = (self._store.get(CLAIM) or b"?").decode()
            raise SyncRunInProgress(
                f"a directory sync run is under way (job {running}); wait for it to finish"
            )
        started = self._rt.now().astimezone(dt.UTC)
        self._store.hash_put(
            _INDEX + started.date().isoformat(),
            {job_id: started.isoformat(timespec="microseconds").encode()},
            ttl=(_INDEX_DAYS + 1) * 24 * 3600,
        )
        now = started.isoformat(timespec="seconds")
        self._save(job_id, state=SyncJobState.RUNNING.value, started_by=actor.name,
                   started_at=now, sources=[s.name for s in sources], full=body.full,
                   results=[], done=0)  # fmt: skip
        self._rt.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE, at=self._rt.now(), actor=actor.name,
            details={"action": "sync_run_started", "job": job_id,
                     "sources": ",".join(s.name for s in sources)},
        )  # fmt: skip
        self._spawn(lambda: self._work(job_id, sources, full=body.full))
        return self._job(job_id)

    @requires(Permission.CONFIG_READ)
    def get(self, actor: Actor, job_id: str) -> SyncJobOut:
        return self._job(job_id[:32])

    @requires(Permission.CONFIG_READ)
    def page(self, actor: Actor, query: SyncJobQuery) -> Page[SyncJobOut]:
        """The jobs still kept, newest first (the cursor carries the last one shown)."""
        after: tuple[str, str] | None = None
        if query.cursor is not None:
            last = decode_cursor(_CURSOR, query.cursor).get("after")
            if not (isinstance(last, list) and len(last) == 2
                    and all(isinstance(v, str) for v in last)):  # fmt: skip
                raise field_error("cursor", "not a cursor of this listing; start again")
            after = (last[0], last[1])
        items: list[SyncJobOut] = []
        more = False
        for key in self._started(after):
            job = self._kept(key[1])
            if job is None:
                continue
            if len(items) == query.limit:
                more = True
                break
            items.append(job)
            after = key
        cursor = encode_cursor(_CURSOR, {"after": list(after)}) if more and after else None
        return Page[SyncJobOut](items=items, next_cursor=cursor)

    def _started(self, after: tuple[str, str] | None) -> Iterator[tuple[str, str]]:
        """(start time, job id) of the indexed jobs, newest first, those after ``after``."""
        today = self._rt.now().astimezone(dt.UTC).date()
        found: list[tuple[str, str]] = []
        for back in range(_INDEX_DAYS):
            day = (today - dt.timedelta(days=back)).isoformat()
            index = self._store.hash_get(_INDEX + day) or {}
            found.extend((at.decode(), job_id) for job_id, at in index.items())
        keys = sorted(found, reverse=True)
        return iter(keys if after is None else [k for k in keys if k < after])

    def _kept(self, job_id: str) -> SyncJobOut | None:
        try:
            return self._job(job_id)
        except SyncJobNotFound:  # its record expired; the index outlives it
            return None

    def _job(self, job_id: str) -> SyncJobOut:
        found = self._store.hash_get(_JOB + job_id) if job_id.isalnum() else None
        if not found:
            raise SyncJobNotFound(f"no directory sync job {job_id[:32]!r} (kept for 24 hours)")
        data = {k: json.loads(v) for k, v in found.items()}
        if data["state"] == SyncJobState.RUNNING and self._store.get(CLAIM) != job_id.encode():
            # the worker records its end before it lets go of the claim: a running job without
            # the claim lost its worker (the instance stopped) and will never finish
            data.update(state=SyncJobState.FAILED.value, error=_WORKER_LOST)
        return SyncJobOut.model_validate({
            "id": job_id, "finished_at": None, "current_source": None, "phase": None,
            "total": None, "error": None, **data,
        })  # fmt: skip

    def _save(self, job_id: str, **fields: object) -> None:
        values = {k: json.dumps(v).encode() for k, v in fields.items()}
        self._store.hash_put(_JOB + job_id, values, ttl=JOB_TTL)

    def _work(self, job_id: str, sources: list[Source], *, full: bool) -> None:
        """The worker: each source in turn; the claim kept fresh, and released at the end."""
        stop = threading.Event()
        threading.Thread(target=self._heartbeat, args=(job_id, stop), daemon=True).start()
        results: list[dict[str, object]] = []
        shown: list[tuple[str, str, int]] = [("", "", 0)]

        def progress(p: Progress) -> None:  # a store write per phase and per 100 users at most
            source, phase, done = shown[0]
            if (p.source, p.phase) != (source, phase) or p.done - done >= 100 or p.done == p.total:
                shown[0] = (p.source, p.phase, p.done)
                self._save(job_id, current_source=p.source, phase=p.phase, done=p.done,
                           total=p.total)  # fmt: skip

        current = ""
        withdraw = key_withdrawal(self._rt)
        try:
            for source in sources:
                current = source.name
                self._save(job_id, current_source=current, phase="connect", done=0, total=None)
                summary = run_sync(
                    self._rt, source, full=full, progress=progress, on_withdrawn=withdraw
                )
                results.append(SourceResult.of(summary).model_dump(mode="json"))
                self._save(job_id, results=results)
            self._finish(job_id, SyncJobState.SUCCEEDED, None)
        except IdpError as exc:
            self._finish(job_id, SyncJobState.FAILED, f"{current}: {exc.description}")
        except Exception:  # a worker must record its end whatever happened; the log has it
            log.exception("directory sync job %s failed", job_id)
            self._finish(job_id, SyncJobState.FAILED, f"{current}: an internal error stopped it")
        finally:
            stop.set()
            if self._store.get(CLAIM) == job_id.encode():
                self._store.delete(CLAIM)

    def _finish(self, job_id: str, state: SyncJobState, error: str | None) -> None:
        now = self._rt.now().isoformat(timespec="seconds")
        self._save(job_id, state=state.value, finished_at=now, error=error, current_source=None)

    def _heartbeat(self, job_id: str, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT):
            if self._store.get(CLAIM) == job_id.encode():
                self._store.put(CLAIM, job_id.encode(), ttl=CLAIM_TTL)


def _thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="directory-sync-job", daemon=True).start()

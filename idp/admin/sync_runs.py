"""Directory sync as an admin resource: the configured sources with their state, and the
runs — each run is the ``directory_sync`` audit event the sync engine writes (so the list is
as tamper-evident as the audit), newest first. Runs are started by the scheduler or the CLI
(``sync run``): a run can take minutes against a large directory, longer than a request."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from idp.admin.access import Actor, Permission, requires
from idp.admin.models import Input, Output, Page, decode_cursor, encode_cursor, field_error
from idp.audit import AuditEvent, AuditKind, Outcome
from idp.directory.sync.store import SyncStore
from idp.errors import NotFound
from idp.runtime import Runtime

_CURSOR = "sync-runs"
_ACTOR = "directory:"


class SyncRunNotFound(NotFound):
    error = "sync_run_not_found"


class SyncSourceOut(Output):
    name: str
    kind: str
    last_success_at: dt.datetime | None
    #: a run was interrupted (or is under way) and resumes where it stopped
    run_in_progress: bool


class SyncRunOut(Output):
    id: int = Field(description="the run's audit sequence number")
    at: dt.datetime
    source: str
    outcome: Outcome
    mode: str
    read: int
    unchanged: int
    #: how many employees each action touched (created, updated, disabled, conflict, …)
    changes: dict[str, int]

    @classmethod
    def of(cls, e: AuditEvent) -> SyncRunOut:
        counts = {k: int(v) for k, v in e.details.items() if k not in ("mode", "read", "unchanged")
                  and v.isdigit()}  # fmt: skip
        return cls(
            id=e.seq, at=e.at, source=e.actor.removeprefix(_ACTOR), outcome=e.outcome,
            mode=e.details.get("mode", ""), read=int(e.details.get("read", "0") or 0),
            unchanged=int(e.details.get("unchanged", "0") or 0), changes=counts,
        )  # fmt: skip


class SyncRunQuery(Input):
    source: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class SyncRuns:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._store = SyncStore(runtime.db)

    @requires(Permission.CONFIG_READ)
    def sources(self, actor: Actor) -> list[SyncSourceOut]:
        settings = self._rt.config.directory
        found = []
        for source in settings.sources if settings else ():
            state = self._store.state(source.name)
            found.append(SyncSourceOut(
                name=source.name, kind=type(source).__name__.removesuffix("Source").lower(),
                last_success_at=state.last_success_at, run_in_progress=state.run_id is not None,
            ))  # fmt: skip
        return found

    @requires(Permission.AUDIT_READ)
    def page(self, actor: Actor, query: SyncRunQuery) -> Page[SyncRunOut]:
        before: int | None = None
        if query.cursor is not None:
            saved = decode_cursor(_CURSOR, query.cursor)
            value = saved.get("before")
            if not isinstance(value, int) or saved.get("source") != query.source:
                raise field_error("cursor", "not a cursor of this filter; start again")
            before = value
        actor_filter = _ACTOR + query.source if query.source else None
        found = self._rt.audit.list(kind=AuditKind.DIRECTORY_SYNC, actor=actor_filter,
                                    before_seq=before, limit=query.limit + 1)  # fmt: skip
        items = [SyncRunOut.of(e) for e in found.items[: query.limit]]
        cursor = None
        if len(found.items) > query.limit:
            cursor = encode_cursor(_CURSOR, {"before": items[-1].id, "source": query.source})
        return Page[SyncRunOut](items=items, next_cursor=cursor)

    @requires(Permission.AUDIT_READ)
    def get(self, actor: Actor, run_id: str) -> SyncRunOut:
        seq = int(run_id) if run_id.isdigit() and len(run_id) < 19 else -1
        found = self._rt.audit.list(kind=AuditKind.DIRECTORY_SYNC, before_seq=seq + 1, limit=1)
        if seq < 0 or not found.items or found.items[0].seq != seq:
            raise SyncRunNotFound(f"no directory sync run {run_id[:40]!r}")
        return SyncRunOut.of(found.items[0])

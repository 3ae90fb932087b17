"""The audit trail: an append-only, hash-chained table.

Appends are serialised on the chain head row (PostgreSQL ``SELECT … FOR UPDATE``; on SQLite
the write transaction's ``BEGIN IMMEDIATE`` already holds the database's write lock), so two
writers can never give two events the same ``seq`` or fork the chain.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from idp.audit import AuditEntry, AuditEvent, AuditKind, ChainReport, Outcome, seal, verify_chain
from idp.store.errors import StoreError
from idp.store.sql.database import Database
from idp.store.sql.models import AuditChainHeadRow, AuditEventRow
from idp.store.sql.repositories.common import Page, check_paging

_HEAD_ID = 1
# Built once and run on a Core connection (no ORM unit of work): appends run on every sign-in.
_HEAD = AuditChainHeadRow
_READ_HEAD = select(_HEAD.last_seq, _HEAD.last_hash).where(_HEAD.id == _HEAD_ID).with_for_update()
_INSERT_EVENTS = insert(AuditEventRow)
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.id == _HEAD_ID)
    .values(last_seq=bindparam("new_seq"), last_hash=bindparam("new_hash"))
)
log = logging.getLogger(__name__)
ANONYMOUS = "anonymous"
VERIFY_BATCH = 1000


class _RefusedEntry(StoreError):
    """The database refused one audit row as such (not an outage)."""


def _store_error(exc: Exception) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    # The driver's message quotes the SQL and every parameter: it goes to the log only, as
    # the description reaches the error page.
    log.error("audit write failed", exc_info=exc)
    return _RefusedEntry(f"audit write failed ({type(exc).__name__}); see the server log")


# NUL is refused by PostgreSQL text columns and a lone surrogate cannot be encoded as UTF-8 by
# either database; both arrive in client-supplied text quoted by failure reasons.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_LIMITS = {"actor": 255, "employee_id": 64, "relying_party": 512, "factor": 64}


def _clean(value: str, limit: int | None = None) -> str:
    cleaned = _UNSTORABLE.sub("\ufffd", value)
    return cleaned if limit is None else cleaned[:limit]


def storable(entry: AuditEntry) -> AuditEntry:
    """``entry`` as both databases can store it (sealed as stored, so the chain still holds)."""
    changes: dict[str, Any] = {}
    for name, limit in _LIMITS.items():
        value = getattr(entry, name)
        if value is not None and _clean(value, limit) != value:
            changes[name] = _clean(value, limit)
    if entry.reason is not None and _UNSTORABLE.search(entry.reason):
        changes["reason"] = _clean(entry.reason)
    if any(_UNSTORABLE.search(k + v) for k, v in entry.details.items()):
        changes["details"] = {_clean(k): _clean(v) for k, v in entry.details.items()}
    return replace(entry, **changes) if changes else entry


def _from_row(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        at=row.at,
        kind=AuditKind(row.kind),
        actor=row.actor,
        outcome=Outcome(row.outcome),
        employee_id=row.employee_id,
        relying_party=row.relying_party,
        factor=row.factor,
        reason=row.reason,
        details=dict(row.details),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _row_values(event: AuditEvent) -> dict[str, object]:
    return {
        "seq": event.seq,
        "at": event.at,
        "kind": str(event.kind),
        "actor": event.actor,
        "outcome": str(event.outcome),
        "employee_id": event.employee_id,
        "relying_party": event.relying_party,
        "factor": event.factor,
        "reason": event.reason,
        "details": dict(event.details),
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def entry(
    *,
    kind: AuditKind,
    at: dt.datetime,
    actor: str | None,
    outcome: Outcome = Outcome.SUCCESS,
    employee_id: str | None = None,
    relying_party: str | None = None,
    factor: str | None = None,
    reason: str | None = None,
    details: Mapping[str, str] | None = None,
) -> AuditEntry:
    """An :class:`AuditEntry` for callers that have the fields at hand (no actor: anonymous)."""
    return AuditEntry(
        at=at,
        kind=kind,
        actor=actor if actor is not None else ANONYMOUS,
        outcome=outcome,
        employee_id=employee_id,
        relying_party=relying_party,
        factor=factor,
        reason=reason,
        details=details or {},
    )


class AuditRepository:
    """Appends are group-committed: threads that append while a commit is running are written
    together in the next transaction, and each :meth:`append` returns only once its event is
    stored. :meth:`append_later` queues an event for a background writer instead (for
    high-volume records such as each SSO answer to a relying party); :meth:`flush` drains it.
    """

    FLUSH_INTERVAL = 0.05
    MAX_QUEUED = 50_000

    def __init__(self, db: Database) -> None:
        self._db = db
        self._queue_lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._pending: list[tuple[int | None, AuditEntry]] = []
        self._done: dict[int, AuditEvent | StoreError] = {}
        self._tickets = itertools.count()
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._listeners: list[Callable[[AuditEntry], None]] = []
        self._depth_listeners: list[Callable[[int], None]] = []

    def listen(
        self,
        listener: Callable[[AuditEntry], None],
        *,
        depth: Callable[[int], None] | None = None,
    ) -> None:
        """Call ``listener`` with every entry appended from now on, and ``depth`` with the
        number of queued entries whenever the background queue grows or is written (metrics).
        Both must be fast and must not raise."""
        self._listeners.append(listener)
        if depth is not None:
            self._depth_listeners.append(depth)

    def _report_depth(self, depth: int) -> None:
        for listener in self._depth_listeners:
            listener(depth)

    def append(self, entry: AuditEntry) -> AuditEvent:
        for listener in self._listeners:
            listener(entry)
        with self._queue_lock:
            ticket = next(self._tickets)
            self._pending.append((ticket, entry))
        self._drain()
        with self._queue_lock:
            outcome = self._done.pop(ticket)
        if isinstance(outcome, StoreError):
            raise outcome
        return outcome

    def append_later(self, entry: AuditEntry) -> None:
        """Queue ``entry``; the background writer stores it within ~50 ms, in order."""
        for listener in self._listeners:
            listener(entry)
        with self._queue_lock:
            if len(self._pending) >= self.MAX_QUEUED:
                raise StoreError("the audit queue is full: the database is not keeping up")
            self._pending.append((None, entry))
            self._report_depth(len(self._pending))
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_loop, daemon=True, name="audit-writer"
                )
                self._writer.start()
        self._wake.set()

    def flush(self) -> None:
        """Store everything queued so far (at shutdown); raises if that failed."""
        error = self._drain()
        if error is not None:
            raise error

    def _write_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            time.sleep(self.FLUSH_INTERVAL)  # let a burst gather into one transaction
            error = self._drain()
            with self._queue_lock:
                self._report_depth(len(self._pending))
            if error is not None:  # the entries were re-queued; keep the writer alive
                log.error("audit writer could not store queued events (%s); will retry", error)
                time.sleep(1)
                self._wake.set()

    def _drain(self) -> StoreError | None:
        with self._commit_lock:
            with self._queue_lock:
                batch, self._pending = self._pending, []
            return self._commit(batch) if batch else None

    def _commit(self, batch: list[tuple[int | None, AuditEntry]]) -> StoreError | None:
        try:
            outcomes: list[AuditEvent | StoreError] = list(
                self.append_many([entry for _, entry in batch])
            )
        except Exception as exc:
            # One transaction: the whole batch failed and nothing of it was stored. A row the
            # database refuses must not take its neighbours down with it (nor, queued, block
            # every later event), so a failed group is retried one entry at a time.
            failed = _store_error(exc)
            if len(batch) > 1 and not isinstance(exc, StoreError):
                outcomes = [self._commit_one(entry) for _, entry in batch]
            else:
                outcomes = [failed] * len(batch)
        error = self._settle(batch, outcomes)
        with self._queue_lock:
            for (ticket, _), outcome in zip(batch, outcomes, strict=True):
                if ticket is not None:
                    self._done[ticket] = outcome
        return error

    def _commit_one(self, entry: AuditEntry) -> AuditEvent | StoreError:
        try:
            return self.append_many([entry])[0]
        except Exception as exc:
            return _store_error(exc)

    def _settle(
        self,
        batch: list[tuple[int | None, AuditEntry]],
        outcomes: list[AuditEvent | StoreError],
    ) -> StoreError | None:
        """Re-queue background entries that failed for a reason of the store (they are retried,
        not dropped); log and drop one the database refuses as such, which no retry can fix."""
        error: StoreError | None = None
        retry: list[tuple[int | None, AuditEntry]] = []
        for (ticket, entry), outcome in zip(batch, outcomes, strict=True):
            if not isinstance(outcome, StoreError):
                continue
            error = error or outcome
            if ticket is not None:
                continue
            if isinstance(outcome, _RefusedEntry):
                log.error("audit event dropped, the database refuses it (%s): %r", outcome, entry)
            else:
                retry.append((ticket, entry))
        if retry:
            with self._queue_lock:
                self._pending[:0] = retry
            self._wake.set()
        return error

    def append_many(self, entries: list[AuditEntry]) -> list[AuditEvent]:
        """Append ``entries`` in order, in one transaction (group commit of concurrent writers)."""
        events: list[AuditEvent] = []
        with self._db.connection(write=True) as connection:
            head = connection.execute(_READ_HEAD).first()
            if head is None:
                raise StoreError("the audit chain head row is missing: run migrate()")
            seq, last_hash = head
            for entry in entries:
                event = seal(storable(entry), seq=seq + 1, prev_hash=last_hash)
                seq, last_hash = event.seq, event.hash
                events.append(event)
            connection.execute(_INSERT_EVENTS, [_row_values(e) for e in events])
            connection.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": last_hash})
        return events

    def append_event(self, **fields: Any) -> AuditEvent:
        """:meth:`append` from keyword fields (see :func:`entry`)."""
        return self.append(entry(**fields))

    def append_event_later(self, **fields: Any) -> None:
        """:meth:`append_later` from keyword fields (see :func:`entry`)."""
        self.append_later(entry(**fields))

    def list(
        self,
        *,
        kind: AuditKind | None = None,
        employee_id: str | None = None,
        relying_party: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        offset: int = 0,
        limit: int = 100,
        newest_first: bool = True,
        before_seq: int | None = None,
        actor: str | None = None,
    ) -> Page[AuditEvent]:
        """Events matching every filter given; ``since`` inclusive, ``until`` exclusive;
        ``before_seq`` pages back from a sequence number (a cursor that never shifts)."""
        check_paging(offset, limit)
        query = select(AuditEventRow)
        if before_seq is not None:
            query = query.where(AuditEventRow.seq < before_seq)
        if actor is not None:
            query = query.where(AuditEventRow.actor == actor)
        if kind is not None:
            query = query.where(AuditEventRow.kind == str(kind))
        if employee_id is not None:
            query = query.where(AuditEventRow.employee_id == employee_id)
        if relying_party is not None:
            query = query.where(AuditEventRow.relying_party == relying_party)
        if since is not None:
            query = query.where(AuditEventRow.at >= since)
        if until is not None:
            query = query.where(AuditEventRow.at < until)
        order = AuditEventRow.seq.desc() if newest_first else AuditEventRow.seq.asc()
        with self._db.transaction() as s:
            total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = s.scalars(query.order_by(order).offset(offset).limit(limit))
            items = tuple(_from_row(r) for r in rows)
        return Page(items=items, total=total, offset=offset, limit=limit)

    def times(self, kind: AuditKind, *, since: dt.datetime) -> tuple[dt.datetime, ...]:
        """When each event of ``kind`` since ``since`` happened (for per-hour charts)."""
        query = select(AuditEventRow.at).where(
            AuditEventRow.kind == str(kind), AuditEventRow.at >= since
        )
        with self._db.transaction() as s:
            return tuple(s.scalars(query))

    def _stream(self, last_seq: int) -> Iterator[AuditEvent]:
        after = 0
        while True:
            query = (
                select(AuditEventRow)
                .where(AuditEventRow.seq > after, AuditEventRow.seq <= last_seq)
                .order_by(AuditEventRow.seq)
                .limit(VERIFY_BATCH)
            )
            with self._db.transaction() as s:
                batch = [_from_row(r) for r in s.scalars(query)]
            yield from batch
            if len(batch) < VERIFY_BATCH:
                return
            after = batch[-1].seq

    def verify(self) -> ChainReport:
        """Check the whole chain against itself and its head (exposes a truncated tail)."""
        with self._db.transaction() as s:
            head = s.get(AuditChainHeadRow, _HEAD_ID)
            if head is None:
                raise StoreError("the audit chain head row is missing: run migrate()")
            expected = (head.last_seq, head.last_hash)
            # Rows beyond the head would be unchained insertions.
            extra = s.scalar(
                select(func.min(AuditEventRow.seq)).where(AuditEventRow.seq > head.last_seq)
            )
        report = verify_chain(self._stream(expected[0]), expected_last=expected)
        if report.ok and extra is not None:
            return ChainReport(
                report.checked,
                report.last_seq,
                report.last_hash,
                extra,
                f"seq {extra} lies beyond the chain head",
            )
        return report

"""The audit trail: an append-only, hash-chained table.

Appends are serialised on the chain head row (PostgreSQL ``SELECT … FOR UPDATE``; on SQLite
the write transaction's ``BEGIN IMMEDIATE`` already holds the database's write lock), so two
writers can never give two events the same ``seq`` or fork the chain.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping

from sqlalchemy import func, select

from idp.audit import AuditEntry, AuditEvent, AuditKind, ChainReport, Outcome, seal, verify_chain
from idp.store.errors import StoreError
from idp.store.sql.database import Database
from idp.store.sql.models import AuditChainHeadRow, AuditEventRow
from idp.store.sql.repositories.common import Page, check_paging

_HEAD_ID = 1
ANONYMOUS = "anonymous"
VERIFY_BATCH = 1000


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


class AuditRepository:
    def __init__(self, db: Database) -> None:
        self._db = db

    def append(self, entry: AuditEntry) -> AuditEvent:
        with self._db.transaction(write=True) as s:
            head = s.get(AuditChainHeadRow, _HEAD_ID, with_for_update=True)
            if head is None:
                raise StoreError("the audit chain head row is missing: run migrate()")
            event = seal(entry, seq=head.last_seq + 1, prev_hash=head.last_hash)
            s.add(
                AuditEventRow(
                    seq=event.seq,
                    at=event.at,
                    kind=str(event.kind),
                    actor=event.actor,
                    outcome=str(event.outcome),
                    employee_id=event.employee_id,
                    relying_party=event.relying_party,
                    factor=event.factor,
                    reason=event.reason,
                    details=dict(event.details),
                    prev_hash=event.prev_hash,
                    hash=event.hash,
                )
            )
            head.last_seq, head.last_hash = event.seq, event.hash
        return event

    def append_event(
        self,
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
    ) -> AuditEvent:
        """:meth:`append` for callers that have the fields at hand (no actor: ``anonymous``)."""
        return self.append(
            AuditEntry(
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
        )

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
    ) -> Page[AuditEvent]:
        """Events matching every filter given; ``since`` inclusive, ``until`` exclusive."""
        check_paging(offset, limit)
        query = select(AuditEventRow)
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

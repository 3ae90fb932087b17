"""The sync engine: one pass over a source, page by page, then who left the scope.

A pass is *full* (every user in scope; afterwards, linked users it did not see have left) or
*incremental* (only what changed since the stored high-water mark). The mark moves only after
a complete pass, and the pass in progress is recorded, so a pass cut short (the connection
dropped, the process stopped) resumes: the pages it already applied cost a fingerprint
comparison each. ``dry_run`` applies each page inside its transaction and rolls it back, so
the plan printed is exactly what a real run would do.

Every disable and departure is handed on as an :class:`~.records.EmployeeWithdrawn`: the
engine ends the employee's sessions and refresh tokens through ``end_access`` (the core
logout plan) and passes it to ``on_withdrawn`` (the Hideez Key side,
:func:`idp.vault.withdrawal.key_withdrawal`), whose answers the summary reports. An employee
to be deleted loses their key first (a key's holder cannot be deleted); a key that could not
be withdrawn keeps its holder disabled and linked instead, and a later full run tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from idp.audit import AuditEntry, AuditKind, Outcome
from idp.config.directory import CommonSource
from idp.directory.sync.apply import PageResult, apply_page
from idp.directory.sync.records import (
    Action,
    Change,
    DirectoryUser,
    EmployeeWithdrawn,
    KeyWithdrawal,
    SyncSummary,
    Withdrawal,
)
from idp.directory.sync.store import (
    DirectoryLinkRow,
    Link,
    OrgCache,
    SyncState,
    SyncStore,
    new_run_id,
    save_state,
)
from idp.store.sql.models import EmployeeRow
from idp.store.sql.repositories.audit import AuditRepository

log = logging.getLogger("hideez_idp.directory.sync")
T = TypeVar("T")
_KEPT = "not deleted: their Hideez Key could not be withdrawn (a later full run tries again)"


class _RolledBack(Exception):
    """Ends a dry-run page's transaction (its result travels with it)."""

    def __init__(self, result: PageResult) -> None:
        super().__init__("dry run")
        self.result = result


@dataclass(frozen=True)
class Progress:
    source: str
    phase: str  # "read" | "leavers" | "done"
    done: int
    total: int | None = None


@dataclass
class SyncContext:
    """What a sync needs from the rest of the IdP (the CLI builds it from the runtime)."""

    store: SyncStore
    audit: AuditRepository
    clock: Callable[[], dt.datetime]
    #: ends every session and refresh token of an employee; returns the sessions ended
    end_access: Callable[[str, str], int]
    #: the Hideez Key side: withdraws the employee's key, says what became of it
    on_withdrawn: Callable[[EmployeeWithdrawn], KeyWithdrawal | None] | None = None
    progress: Callable[[Progress], None] | None = None


@dataclass(frozen=True)
class Pass:
    """What a source read: pages of users, then (incremental) the keys that left or were deleted."""

    mode: str
    pages: Iterator[Sequence[DirectoryUser]]
    total: int | None = None


class PassRunner:
    """Applies a source's pages and departures; the sources decide what to read."""

    def __init__(self, ctx: SyncContext, source: CommonSource, *, dry_run: bool) -> None:
        self.ctx, self.source, self.dry_run = ctx, source, dry_run
        self.org = OrgCache()
        self.read = self.unchanged = 0
        self.changes: list[Change] = []
        self.withdrawn: list[EmployeeWithdrawn] = []
        self.keys: list[KeyWithdrawal] = []
        self.handed_on: set[str] = set()
        self.seen_keys: set[str] = set()

    def begin(self, state: SyncState, mode: str) -> str:
        """The run id: the interrupted pass's own when it resumes, else a new one."""
        if state.run_id is not None and state.run_mode == mode:
            return state.run_id
        run_id = new_run_id()
        if not self.dry_run:
            self.ctx.store.save_state(
                replace(state, run_id=run_id, run_mode=mode, resume_link=None)
            )
        return run_id

    def apply(
        self, users: Sequence[DirectoryUser], run_id: str, state_after: SyncState | None = None
    ) -> None:
        """One page in one transaction (with the source's resume point, when it has one)."""
        now = self.ctx.clock()
        try:
            with self.ctx.store.db.transaction(write=True) as s:
                result = apply_page(
                    s, users, source=self.source, run_id=run_id, org=self.org, now=now
                )
                if self.dry_run:
                    raise _RolledBack(result)
                if state_after is not None:
                    save_state(s, state_after)
        except _RolledBack as rolled:
            result = rolled.result
            self.org.forget()  # a dry run's page made nothing that lasts
        except Exception:
            self.org.forget()  # what the page made was rolled back
            raise
        self.read += result.read
        self.unchanged += result.unchanged
        self.changes.extend(result.changes)
        self.withdrawn.extend(result.withdrawn)
        self.seen_keys.update(u.key for u in users)
        if not self.dry_run:
            self._audit_changes(result.changes, now)
        self._progress("read", self.read)

    def leave(self, links: Iterable[Link], reason: Withdrawal) -> None:
        """Users that left the scope (or were deleted): the admin's ``on_leave_scope`` choice."""
        now = self.ctx.clock()
        for link in links:
            choice = self.source.on_leave_scope
            kept = choice == "delete" and not self._key_gone_before_delete(link)
            if kept:
                choice = "deactivate"
            try:
                with self.ctx.store.db.transaction(write=True) as s:
                    row = s.get(EmployeeRow, link.employee_id, with_for_update=True)
                    if row is None:
                        continue
                    change, gone = self._leave_one(s, row, link, choice, reason)
                    if kept:
                        change = replace(change, reason=f"{reason.value}; {_KEPT}")
                    if self.dry_run:
                        raise _RolledBack(PageResult())
            except _RolledBack:
                pass
            self.changes.append(change)
            if gone is not None:
                self.withdrawn.append(gone)
            if not self.dry_run:
                self._audit_changes([change], now)
        self._progress("leavers", len(self.changes))

    def _key_gone_before_delete(self, link: Link) -> bool:
        """Withdraw the key of an employee about to be deleted; False when it is still held."""
        if self.dry_run or self.ctx.on_withdrawn is None:
            return True
        with self.ctx.store.db.transaction() as s:
            row = s.get(EmployeeRow, link.employee_id)
            if row is None:
                return True
            gone = EmployeeWithdrawn(row.id, row.username, Withdrawal.DELETED, self.source.name)
        outcome = self._hand_on(gone)
        return outcome is None or outcome.error is None

    def _hand_on(self, gone: EmployeeWithdrawn) -> KeyWithdrawal | None:
        """``on_withdrawn`` once per employee and run; its answer goes into the summary."""
        if self.ctx.on_withdrawn is None or gone.employee_id in self.handed_on:
            return None
        self.handed_on.add(gone.employee_id)
        outcome = self.ctx.on_withdrawn(gone)
        if outcome is not None:
            self.keys.append(outcome)
        return outcome

    def _leave_one(
        self, s: Session, row: EmployeeRow, link: Link, choice: str, reason: Withdrawal
    ) -> tuple[Change, EmployeeWithdrawn | None]:
        name = self.source.name
        if choice == "keep":
            s.execute(delete(DirectoryLinkRow).where(DirectoryLinkRow.employee_id == row.id))
            return Change(
                Action.LEAVE_KEEP, row.username, row.id, (), "kept, no longer synced"
            ), None
        if choice == "delete":
            gone = EmployeeWithdrawn(row.id, row.username, Withdrawal.DELETED, name)
            s.delete(row)
            return Change(Action.LEAVE_DELETE, row.username, row.id, (), reason.value), gone
        s.execute(
            update(DirectoryLinkRow)
            .where(DirectoryLinkRow.employee_id == row.id)
            .values(fingerprint="", directory_enabled=False)
        )
        if not row.enabled:
            return Change(
                Action.LEAVE_DEACTIVATE, row.username, row.id, (), "already disabled"
            ), None
        row.enabled = False
        gone = EmployeeWithdrawn(row.id, row.username, reason, name)
        return Change(
            Action.LEAVE_DEACTIVATE, row.username, row.id, ("enabled",), reason.value
        ), gone

    def finish(self, state: SyncState, mode: str, notes: Sequence[str] = ()) -> SyncSummary:
        ended = 0
        if not self.dry_run:
            for gone in self.withdrawn:
                ended += self.ctx.end_access(gone.employee_id, f"directory:{gone.reason.value}")
                self._hand_on(gone)
            now = self.ctx.clock()
            self.ctx.store.save_state(
                replace(state, run_id=None, run_mode=None, resume_link=None, last_success_at=now)
            )
        summary = SyncSummary(
            source=self.source.name,
            mode=mode,
            dry_run=self.dry_run,
            read=self.read,
            unchanged=self.unchanged,
            changes=tuple(self.changes),
            withdrawn=tuple(self.withdrawn),
            sessions_ended=ended,
            notes=tuple(notes),
            keys=tuple(self.keys),
        )
        if not self.dry_run:
            self.ctx.audit.append(self._summary_entry(summary))
        self._progress("done", self.read)
        return summary

    def _progress(self, phase: str, done: int, total: int | None = None) -> None:
        if self.ctx.progress is not None:
            self.ctx.progress(Progress(self.source.name, phase, done, total))

    def _audit_changes(self, changes: Sequence[Change], now: dt.datetime) -> None:
        kinds = {
            Action.CREATE: AuditKind.EMPLOYEE_CREATED,
            Action.LINK: AuditKind.EMPLOYEE_UPDATED,
            Action.UPDATE: AuditKind.EMPLOYEE_UPDATED,
            Action.DISABLE: AuditKind.EMPLOYEE_DISABLED,
            Action.ENABLE: AuditKind.EMPLOYEE_ENABLED,
            Action.LEAVE_DEACTIVATE: AuditKind.EMPLOYEE_DISABLED,
            Action.LEAVE_DELETE: AuditKind.EMPLOYEE_DELETED,
            Action.LEAVE_KEEP: AuditKind.EMPLOYEE_UPDATED,
        }
        entries = [
            AuditEntry(
                at=now,
                kind=kinds[c.action],
                actor=f"directory:{self.source.name}",
                employee_id=c.employee_id,
                outcome=Outcome.SUCCESS,
                reason=c.reason or None,
                details={
                    "username": c.username,
                    "sync": c.action.value,
                    "fields": ",".join(c.fields),
                },
            )
            for c in changes
            if c.action in kinds and (c.fields or c.action is not Action.LEAVE_DEACTIVATE)
        ]
        if entries:
            self.ctx.audit.append_many(entries)

    def _summary_entry(self, summary: SyncSummary) -> AuditEntry:
        counts = {a.value: str(summary.count(a)) for a in Action if summary.count(a)}
        conflicts = summary.count(Action.CONFLICT)
        return AuditEntry(
            at=self.ctx.clock(),
            kind=AuditKind.DIRECTORY_SYNC,
            actor=f"directory:{summary.source}",
            outcome=Outcome.FAILURE if conflicts else Outcome.SUCCESS,
            details={
                "mode": summary.mode,
                "read": str(summary.read),
                "unchanged": str(summary.unchanged),
                **counts,
            },
        )


def format_summary(summary: SyncSummary) -> str:
    """The report printed after a run (and, with ``--dry-run``, the plan)."""
    head = "plan" if summary.dry_run else "synced"
    lines = [
        f"{head} {summary.source} ({summary.mode}): {summary.read} read, "
        f"{summary.unchanged} unchanged, {len(summary.changes)} changes"
        + (f", {summary.sessions_ended} sessions ended" if summary.sessions_ended else "")
    ]
    for change in summary.changes:
        what = f" [{', '.join(change.fields)}]" if change.fields else ""
        why = f" — {change.reason}" if change.reason else ""
        lines.append(f"  {change.action.value:<17} {change.username}{what}{why}")
    for key in summary.keys:
        if key.error is None:
            lines.append(
                f"  key withdrawn     {key.serial} ({key.username}): wiped at its next connection"
            )
        else:
            lines.append(
                f"  key NOT withdrawn {key.serial} ({key.username}): {key.error} — then run "
                f"'hideez-idp key deactivate {key.serial} --reason withdrawal'"
            )
    lines.extend(f"  note: {n}" for n in summary.notes)
    return "\n".join(lines)


def prefetched(items: Iterator[T], *, stop_wait: float = 15.0) -> Iterator[T]:
    """Read the next page while this one is applied: the directory answers from its own
    process (and Graph from far away), so reading and writing overlap. Errors of the reader
    arrive in order, where the page would have."""
    slot: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=1)
    stop = threading.Event()
    done = object()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                slot.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((True, done))
        except BaseException as exc:  # handed to the consumer, raised there
            put((False, exc))

    reader = threading.Thread(target=read, name="directory-reader", daemon=True)
    reader.start()
    try:
        while True:
            ok, item = slot.get()
            if not ok:
                assert isinstance(item, BaseException)
                raise item
            if item is done:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        reader.join(timeout=stop_wait)

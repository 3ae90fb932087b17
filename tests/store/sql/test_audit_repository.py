"""AuditRepository: appends chain up, concurrent writers never fork, verify names the break."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import delete, update

from idp.audit import AuditEntry, AuditEvent, AuditKind, Outcome
from idp.store.errors import StoreError, StoreUnavailable
from idp.store.sql import Database
from idp.store.sql.models import AuditEventRow
from idp.store.sql.repositories import AuditRepository

from .helpers import NOW


def entry(i: int, **changes: object) -> AuditEntry:
    values: dict[str, object] = {
        "at": NOW + dt.timedelta(minutes=i),
        "kind": AuditKind.LOGIN_SUCCESS,
        "actor": f"emp-{i % 3}",
        "employee_id": f"emp-{i % 3}",
        "relying_party": "github" if i % 2 else "okta",
        "factor": "passkey",
        "details": {"i": str(i)},
    }
    values.update(changes)
    return AuditEntry(**values)  # type: ignore[arg-type]


@pytest.fixture
def repo(db: Database) -> AuditRepository:
    return AuditRepository(db)


def test_append_chains_and_roundtrips(repo: AuditRepository) -> None:
    first = repo.append(entry(0))
    second = repo.append(entry(1, details={"ip": "10.0.0.1", "ua": "Chromium ü"}))
    assert (first.seq, second.seq) == (1, 2)
    assert second.prev_hash == first.hash
    listed = repo.list(newest_first=False).items
    assert listed == (first, second)
    assert listed[1].at.tzinfo is not None and listed[1].at == NOW + dt.timedelta(minutes=1)
    assert repo.verify().ok


def test_empty_chain_verifies(repo: AuditRepository) -> None:
    report = repo.verify()
    assert report.ok and report.checked == 0


def test_list_filters_and_pages(repo: AuditRepository) -> None:
    for i in range(10):
        repo.append(
            entry(
                i,
                kind=AuditKind.LOGIN_FAILURE if i >= 8 else AuditKind.LOGIN_SUCCESS,
                outcome=Outcome.FAILURE if i >= 8 else Outcome.SUCCESS,
            )
        )
    assert repo.list().total == 10
    assert [e.seq for e in repo.list(limit=3).items] == [10, 9, 8]
    assert [e.seq for e in repo.list(limit=3, offset=3, newest_first=False).items] == [4, 5, 6]
    assert repo.list(kind=AuditKind.LOGIN_FAILURE).total == 2
    assert repo.list(employee_id="emp-0").total == 4
    assert repo.list(relying_party="github").total == 5
    window = repo.list(since=NOW + dt.timedelta(minutes=2), until=NOW + dt.timedelta(minutes=5))
    assert sorted(e.seq for e in window.items) == [3, 4, 5]
    both = repo.list(employee_id="emp-1", relying_party="github", kind=AuditKind.LOGIN_SUCCESS)
    assert sorted(e.seq for e in both.items) == [2, 8]


def test_concurrent_writers_do_not_fork(repo: AuditRepository) -> None:
    n_threads, per_thread = 6, 5
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def write(t: int) -> None:
        barrier.wait()
        try:
            for i in range(per_thread):
                repo.append(entry(t * 100 + i))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    events = repo.list(limit=500, newest_first=False).items
    assert [e.seq for e in events] == list(range(1, n_threads * per_thread + 1))
    report = repo.verify()
    assert report.ok and report.checked == n_threads * per_thread


def tamper(db: Database, seq: int, **values: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(AuditEventRow).where(AuditEventRow.seq == seq).values(**values))


@pytest.mark.parametrize(
    "values",
    [
        {"actor": "mallory"},
        {"kind": "admin_change"},
        {"details": {"i": "changed"}},
        {"at": NOW + dt.timedelta(days=3)},
        {"outcome": "failure"},
        {"hash": "0" * 64},
    ],
)
def test_verify_names_the_tampered_row(
    db: Database, repo: AuditRepository, values: dict[str, object]
) -> None:
    for i in range(5):
        repo.append(entry(i))
    tamper(db, 3, **values)
    report = repo.verify()
    assert report.first_broken_seq == 3
    assert report.checked == 2


def test_verify_names_a_deleted_row(db: Database, repo: AuditRepository) -> None:
    for i in range(5):
        repo.append(entry(i))
    with db.engine.begin() as conn:
        conn.execute(delete(AuditEventRow).where(AuditEventRow.seq == 2))
    assert repo.verify().first_broken_seq == 2


def test_verify_detects_truncation(db: Database, repo: AuditRepository) -> None:
    for i in range(5):
        repo.append(entry(i))
    with db.engine.begin() as conn:
        conn.execute(delete(AuditEventRow).where(AuditEventRow.seq >= 4))
    report = repo.verify()
    assert report.first_broken_seq == 4
    assert "removed from the end" in report.reason


def test_verify_detects_unchained_insertion(db: Database, repo: AuditRepository) -> None:
    event = repo.append(entry(0))
    with db.engine.begin() as conn:
        conn.execute(
            AuditEventRow.__table__.insert().values(
                seq=2,
                at=NOW,
                kind="login_success",
                actor="x",
                outcome="success",
                details={},
                prev_hash=event.hash,
                hash="1" * 64,
            )
        )
    report = repo.verify()
    assert report.first_broken_seq == 2


def test_verify_spans_batches(repo: AuditRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    import idp.store.sql.repositories.audit as audit_module

    monkeypatch.setattr(audit_module, "VERIFY_BATCH", 3)
    for i in range(7):
        repo.append(entry(i))
    report = repo.verify()
    assert report.ok and report.checked == 7


def test_append_event_keywords(repo: AuditRepository) -> None:
    event = repo.append_event(
        kind=AuditKind.LOGIN_FAILURE,
        at=NOW,
        actor=None,
        outcome=Outcome.FAILURE,
        relying_party="github",
        reason="unknown credential",
        details={"ip": "10.0.0.9"},
    )
    assert event.actor == "anonymous" and event.seq == 1
    assert repo.list().items == (event,)


def test_group_commit_returns_each_caller_its_own_event(repo: AuditRepository) -> None:
    results: dict[int, int] = {}
    barrier = threading.Barrier(8)

    def write(i: int) -> None:
        barrier.wait()
        results[i] = repo.append(entry(i)).seq

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results.values()) == list(range(1, 9))
    stored = {e.seq: e for e in repo.list(limit=50, newest_first=False).items}
    for i, seq in results.items():
        assert stored[seq].details == entry(i).details  # each caller got the seq of its event


def test_separate_writers_share_one_chain(db: Database) -> None:
    # Two repositories stand for two processes: the database lock, not the in-process group
    # commit, keeps the chain linear.
    first, second = AuditRepository(db), AuditRepository(db)
    for i in range(3):
        first.append(entry(i))
        second.append(entry(10 + i))
    assert first.verify().ok
    assert [e.seq for e in second.list(limit=10, newest_first=False).items] == list(range(1, 7))


def test_a_failed_batch_stores_nothing_and_tells_the_caller(
    repo: AuditRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(entries: list[AuditEntry]) -> list[object]:
        raise RuntimeError("disk full [SQL: INSERT …] [parameters: {'actor': 'emp-1'}]")

    monkeypatch.setattr(repo, "append_many", broken)
    with pytest.raises(StoreError, match=r"audit write failed \(RuntimeError\)") as info:
        repo.append(entry(1))
    # The driver's message (SQL, parameters) goes to the log, never to the error page.
    assert "INSERT" not in info.value.description and "emp-1" not in info.value.description
    monkeypatch.undo()
    assert not repo.list(limit=10).items
    assert repo.append(entry(2)).seq == 1


def test_queued_entries_keep_their_order_with_waited_ones(repo: AuditRepository) -> None:
    repo.append_later(entry(1))
    repo.append_later(entry(2))
    repo.append(entry(3))  # commits what was queued before it, in order
    repo.append_later(entry(4))
    repo.flush()
    events = repo.list(limit=10, newest_first=False).items
    assert [e.details["i"] for e in events] == ["1", "2", "3", "4"]
    assert repo.verify().ok


def test_background_writer_stores_queued_entries_without_a_flush(repo: AuditRepository) -> None:
    import time

    repo.append_later(entry(7))
    deadline = time.monotonic() + 5
    while not repo.list(limit=1).items and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e.details["i"] for e in repo.list(limit=5).items] == ["7"]


def test_queued_entries_survive_a_failed_write(
    repo: AuditRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repo, "FLUSH_INTERVAL", 10.0)  # keep the background writer out of it
    real = repo.append_many
    monkeypatch.setattr(
        repo,
        "append_many",
        lambda entries: (_ for _ in ()).throw(StoreUnavailable("database restarting")),
    )
    repo.append_later(entry(1))
    with pytest.raises(StoreError):
        repo.flush()
    monkeypatch.setattr(repo, "append_many", real)
    repo.flush()
    assert [e.details["i"] for e in repo.list(limit=5).items] == ["1"]


@pytest.mark.parametrize("hostile", ["\x00", "\ud800"])
def test_text_the_database_cannot_hold_is_stored_replaced_and_chained(
    repo: AuditRepository, hostile: str
) -> None:
    """NUL (PostgreSQL text) and a lone surrogate (UTF-8) arrive quoted in failure reasons:
    clientDataJSON may carry ``"type": "\\u0000"``. The event must still be stored."""
    event = repo.append(
        entry(
            0,
            kind=AuditKind.LOGIN_FAILURE,
            reason=f"expected clientData.type 'webauthn.get', got 'x{hostile}'",
            details={f"k{hostile}": f"v{hostile}"},
            relying_party="r" * 600,
        )
    )
    stored = repo.list(limit=1).items[0]
    assert stored == event
    assert stored.reason == "expected clientData.type 'webauthn.get', got 'x\ufffd'"
    assert dict(stored.details) == {"k\ufffd": "v\ufffd"}
    assert stored.relying_party == "r" * 512
    assert repo.verify().ok


def test_an_entry_the_database_refuses_fails_alone(
    repo: AuditRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One refused row must neither fail the events committed with it nor, queued, block
    every later event by being retried for ever."""
    monkeypatch.setattr(repo, "FLUSH_INTERVAL", 10.0)  # keep the background writer out of it
    real = repo.append_many

    def picky(entries: list[AuditEntry]) -> list[AuditEvent]:
        if any(e.reason == "refused" for e in entries):
            raise RuntimeError("value too long for type character varying(64)")
        return real(entries)

    monkeypatch.setattr(repo, "append_many", picky)
    repo.append_later(entry(1, reason="refused"))
    repo.append_later(entry(2))
    assert repo.append(entry(3)).seq == 2  # committed in the same group as the refused one
    repo.flush()
    assert repo.append(entry(4)).seq == 3
    with pytest.raises(StoreError, match="see the server log"):
        repo.append(entry(5, reason="refused"))
    events = repo.list(limit=10, newest_first=False).items
    assert [e.details["i"] for e in events] == ["2", "3", "4"]
    assert repo.verify().ok

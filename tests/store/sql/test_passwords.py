"""PasswordRepository on SQLite and PostgreSQL, and migration 0003 from 0002 on both."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from idp.factors.password import OWASP_MINIMUM, StoredPassword, hash_password
from idp.store.sql import Database, EmployeeRepository, PasswordRepository, migrate, open_database
from idp.store.sql.database import alembic_config
from idp.store.sql.repositories import EmployeeNotFound
from tests.conftest import throwaway_pg_database

from .helpers import NOW, employee

LOCK = dt.timedelta(minutes=15)
HASH = hash_password(password="correct horse battery", params=OWASP_MINIMUM)
OTHER_HASH = hash_password(password="another long phrase", params=OWASP_MINIMUM)


@pytest.fixture
def repo(db: Database) -> PasswordRepository:
    EmployeeRepository(db).add(employee(1), now=NOW)
    return PasswordRepository(db)


def test_set_get_replace_and_clear(repo: PasswordRepository) -> None:
    assert repo.get("emp-1") is None
    assert repo.set("emp-1", password_hash=HASH, now=NOW) is False
    assert repo.get("emp-1") == StoredPassword(employee_id="emp-1", hash=HASH, set_at=NOW)
    later = NOW + dt.timedelta(days=3)
    assert repo.set("emp-1", password_hash=OTHER_HASH, now=later) is True
    got = repo.get("emp-1")
    assert got is not None and got.hash == OTHER_HASH and got.set_at == later
    assert got.set_at.tzinfo is not None
    assert repo.clear("emp-1") is True
    assert repo.get("emp-1") is None
    assert repo.clear("emp-1") is False


def test_set_refuses_unknown_employees_plain_text_and_naive_times(repo: PasswordRepository) -> None:
    with pytest.raises(EmployeeNotFound):
        repo.set("emp-404", password_hash=HASH, now=NOW)
    with pytest.raises(ValueError, match="argon2 PHC string"):
        repo.set("emp-1", password_hash="correct horse battery", now=NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        repo.set("emp-1", password_hash=HASH, now=NOW.replace(tzinfo=None))
    assert repo.get("emp-1") is None  # nothing half-stored


def test_failures_count_up_then_lock_and_the_lock_runs_out(repo: PasswordRepository) -> None:
    repo.set("emp-1", password_hash=HASH, now=NOW)
    for n in (1, 2):
        tally = repo.record_failure("emp-1", now=NOW, max_failures=3, lock_for=LOCK)
        assert tally is not None and tally.counted
        assert (tally.stored.failed_count, tally.stored.locked_until) == (n, None)
    third = repo.record_failure("emp-1", now=NOW, max_failures=3, lock_for=LOCK)
    assert third is not None and third.counted
    assert third.stored.locked_until == NOW + LOCK
    assert third.stored.failed_count == 0  # after the lock, a full set of attempts again
    during = repo.record_failure(
        "emp-1", now=NOW + LOCK - dt.timedelta(seconds=1), max_failures=3, lock_for=LOCK
    )
    assert during is not None and not during.counted
    assert during.stored.locked_until == NOW + LOCK
    after = repo.record_failure("emp-1", now=NOW + LOCK, max_failures=3, lock_for=LOCK)
    assert after is not None and after.counted
    assert (after.stored.failed_count, after.stored.locked_until) == (1, None)


def test_success_clears_failures_and_a_lock(repo: PasswordRepository) -> None:
    repo.set("emp-1", password_hash=HASH, now=NOW)
    repo.record_failure("emp-1", now=NOW, max_failures=1, lock_for=LOCK)
    repo.record_success("emp-1", verified_hash=HASH)
    assert repo.get("emp-1") == StoredPassword(employee_id="emp-1", hash=HASH, set_at=NOW)


def test_rehash_replaces_only_the_hash_that_was_verified(repo: PasswordRepository) -> None:
    repo.set("emp-1", password_hash=HASH, now=NOW)
    repo.record_success("emp-1", verified_hash=HASH, rehashed=OTHER_HASH)
    got = repo.get("emp-1")
    assert got is not None and got.hash == OTHER_HASH and got.set_at == NOW
    # A password set between the verification and the rehash is kept.
    repo.record_success("emp-1", verified_hash=HASH, rehashed=HASH)
    got = repo.get("emp-1")
    assert got is not None and got.hash == OTHER_HASH


def test_no_password_means_nothing_to_count(repo: PasswordRepository) -> None:
    assert repo.record_failure("emp-1", now=NOW, max_failures=3, lock_for=LOCK) is None
    repo.record_success("emp-1", verified_hash=HASH)
    assert repo.get("emp-1") is None
    with pytest.raises(ValueError, match="at least 1"):
        repo.record_failure("emp-1", now=NOW, max_failures=0, lock_for=LOCK)


def test_deleting_the_employee_deletes_the_password(db: Database, repo: PasswordRepository) -> None:
    repo.set("emp-1", password_hash=HASH, now=NOW)
    EmployeeRepository(db).delete("emp-1")
    assert repo.get("emp-1") is None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with throwaway_pg_database("idp_mig") as url:
        yield url


def test_migration_0003_upgrades_a_0002_database(fresh_url: str) -> None:
    db = open_database(fresh_url)
    try:
        migrate(db.engine, revision="0002")
        assert "employee_passwords" not in inspect(db.engine).get_table_names()
        EmployeeRepository(db).add(employee(1), now=NOW)
        migrate(db.engine)
        columns = {c["name"] for c in inspect(db.engine).get_columns("employee_passwords")}
        assert columns == {"employee_id", "hash", "set_at", "failed_count", "locked_until"}
        PasswordRepository(db).set("emp-1", password_hash=HASH, now=NOW)
        with db.engine.connect() as conn:
            version = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    finally:
        db.dispose()

"""EnrolmentRepository: hashed tokens, 24 h, one use, distinct refusals."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import pytest
from sqlalchemy import select

from idp.directory.enrolment import (
    EnrolmentLinkExpired,
    EnrolmentLinkUsed,
    UnknownEnrolmentLink,
)
from idp.store.sql import Database
from idp.store.sql.models import EnrolmentLinkRow
from idp.store.sql.repositories import EmployeeNotFound, EmployeeRepository, EnrolmentRepository

from .helpers import NOW, employee


@pytest.fixture
def repo(db: Database) -> EnrolmentRepository:
    EmployeeRepository(db).add(employee(1), now=NOW)
    return EnrolmentRepository(db)


def test_only_the_hash_is_stored(db: Database, repo: EnrolmentRepository) -> None:
    token, link = repo.create(employee_id="emp-1", created_by="admin:ann", now=NOW)
    with db.transaction() as s:
        stored = s.scalars(select(EnrolmentLinkRow.token_hash)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()] == [link.token_hash]


def test_peek_does_not_consume(repo: EnrolmentRepository) -> None:
    token, _ = repo.create(employee_id="emp-1", created_by="admin", now=NOW)
    assert repo.peek(token, now=NOW).employee_id == "emp-1"
    assert repo.peek(token, now=NOW).used_at is None
    assert repo.redeem(token, now=NOW) == "emp-1"


def test_redeem_once(repo: EnrolmentRepository) -> None:
    token, _ = repo.create(employee_id="emp-1", created_by="admin", now=NOW)
    assert repo.redeem(token, now=NOW + dt.timedelta(hours=1)) == "emp-1"
    with pytest.raises(EnrolmentLinkUsed):
        repo.redeem(token, now=NOW + dt.timedelta(hours=1))
    with pytest.raises(EnrolmentLinkUsed):
        repo.peek(token, now=NOW + dt.timedelta(hours=1))


def test_expired_after_24_hours(repo: EnrolmentRepository) -> None:
    token, _ = repo.create(employee_id="emp-1", created_by="admin", now=NOW)
    with pytest.raises(EnrolmentLinkExpired):
        repo.peek(token, now=NOW + dt.timedelta(hours=24))
    with pytest.raises(EnrolmentLinkExpired):
        repo.redeem(token, now=NOW + dt.timedelta(hours=24, seconds=1))
    assert repo.list_for_employee("emp-1")[0].used_at is None  # a refused redeem uses nothing


def test_unknown_and_malformed(repo: EnrolmentRepository) -> None:
    with pytest.raises(UnknownEnrolmentLink):
        repo.redeem("A" * 43, now=NOW)
    with pytest.raises(UnknownEnrolmentLink):
        repo.peek("'; DROP TABLE employees; --", now=NOW)


def test_new_link_replaces_unused_ones(repo: EnrolmentRepository) -> None:
    first, _ = repo.create(employee_id="emp-1", created_by="admin", now=NOW)
    second, _ = repo.create(employee_id="emp-1", created_by="admin", now=NOW)
    with pytest.raises(UnknownEnrolmentLink):
        repo.peek(first, now=NOW)
    assert repo.redeem(second, now=NOW) == "emp-1"


def test_unknown_employee(repo: EnrolmentRepository) -> None:
    with pytest.raises(EmployeeNotFound):
        repo.create(employee_id="nobody", created_by="admin", now=NOW)


def test_racing_redeems_one_wins(repo: EnrolmentRepository) -> None:
    token, _ = repo.create(employee_id="emp-1", created_by="admin", now=NOW)
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def redeem() -> None:
        barrier.wait()
        try:
            outcomes.append(repo.redeem(token, now=NOW))
        except EnrolmentLinkUsed:
            outcomes.append("used")

    threads = [threading.Thread(target=redeem) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["emp-1"] + ["used"] * (n - 1)

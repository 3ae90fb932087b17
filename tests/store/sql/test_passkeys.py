"""PasskeyRepository: unique credential ids, sign counts that never go down."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest

from idp.factors.kinds import FactorKind
from idp.store.sql import Database
from idp.store.sql.repositories import (
    CredentialNotFound,
    DuplicateCredential,
    EmployeeNotFound,
    EmployeeRepository,
    PasskeyRepository,
    SignCountNotIncreased,
)

from .helpers import NOW, employee, passkey

LATER = NOW + dt.timedelta(minutes=5)


@pytest.fixture
def repo(db: Database) -> PasskeyRepository:
    employees = EmployeeRepository(db)
    employees.add(employee(1), now=NOW)
    employees.add(employee(2), now=NOW)
    return PasskeyRepository(db)


def test_add_get_every_field(repo: PasskeyRepository) -> None:
    long_id = "A" * 1364  # a 1023-byte credential id in base64url
    cred = passkey(long_id, backup_eligible=True, backed_up=True, transports=("internal",))
    repo.add(cred)
    assert repo.get(long_id) == cred
    assert repo.get(long_id).kind is FactorKind.PASSKEY  # type: ignore[union-attr]
    assert repo.get("missing") is None


def test_duplicate_credential_id_is_conflict(repo: PasskeyRepository) -> None:
    repo.add(passkey("c"))
    with pytest.raises(DuplicateCredential) as info:
        repo.add(passkey("c", employee_id="emp-2", name="other"))
    assert info.value.status == 409
    assert repo.get("c").employee_id == "emp-1"  # type: ignore[union-attr]


def test_unknown_employee(repo: PasskeyRepository) -> None:
    with pytest.raises(EmployeeNotFound):
        repo.add(passkey(employee_id="nobody"))


def test_list_for_employee(repo: PasskeyRepository) -> None:
    repo.add(passkey("b", created_at=NOW + dt.timedelta(seconds=1)))
    repo.add(passkey("a"))
    repo.add(passkey("z", employee_id="emp-2"))
    assert [c.credential_id for c in repo.list_for_employee("emp-1")] == ["a", "b"]
    assert repo.list_for_employee("nobody") == ()


def test_record_use_raises_count(repo: PasskeyRepository) -> None:
    repo.add(passkey(sign_count=5))
    repo.record_use("cred-1", new_sign_count=9, backed_up=True, at=LATER)
    used = repo.get("cred-1")
    assert used is not None
    assert used.sign_count == 9 and used.backed_up and used.last_used_at == LATER


@pytest.mark.parametrize("count", [5, 4, 0])
def test_record_use_never_lowers_count(repo: PasskeyRepository, count: int) -> None:
    repo.add(passkey(sign_count=5))
    with pytest.raises(SignCountNotIncreased, match="cloned") as info:
        repo.record_use("cred-1", new_sign_count=count, backed_up=False, at=LATER)
    assert (info.value.stored, info.value.received) == (5, count)
    stored = repo.get("cred-1")
    assert stored is not None and stored.sign_count == 5 and stored.last_used_at is None


def test_record_use_zero_counter_authenticators(repo: PasskeyRepository) -> None:
    # Synced passkeys report 0 every time: WebAuthn §6.1.1 treats 0/0 as "no counter".
    repo.add(passkey(sign_count=0))
    repo.record_use("cred-1", new_sign_count=0, backed_up=True, at=LATER)
    assert repo.get("cred-1").last_used_at == LATER  # type: ignore[union-attr]


def test_record_use_missing_and_negative(repo: PasskeyRepository) -> None:
    with pytest.raises(CredentialNotFound):
        repo.record_use("missing", new_sign_count=1, backed_up=False, at=LATER)
    repo.add(passkey())
    with pytest.raises(ValueError):
        repo.record_use("cred-1", new_sign_count=-1, backed_up=False, at=LATER)


def test_record_use_race_same_count_one_wins(repo: PasskeyRepository) -> None:
    repo.add(passkey(sign_count=1))
    n = 8
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def use() -> None:
        barrier.wait()
        try:
            repo.record_use("cred-1", new_sign_count=2, backed_up=False, at=LATER)
            outcomes.append("ok")
        except SignCountNotIncreased:
            outcomes.append("refused")

    threads = [threading.Thread(target=use) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["ok"] + ["refused"] * (n - 1)


def test_rename(repo: PasskeyRepository) -> None:
    repo.add(passkey())
    assert repo.rename("cred-1", "  Work laptop ").name == "Work laptop"
    with pytest.raises(ValueError):
        repo.rename("cred-1", "   ")
    with pytest.raises(ValueError):
        repo.rename("cred-1", "x" * 256)
    with pytest.raises(ValueError):
        repo.rename("cred-1", "bad\nname")
    with pytest.raises(CredentialNotFound):
        repo.rename("cred-1", "Mine now", expected_employee_id="emp-2")
    assert repo.get("cred-1").name == "Work laptop"  # type: ignore[union-attr]


def test_delete(repo: PasskeyRepository) -> None:
    repo.add(passkey())
    with pytest.raises(CredentialNotFound):
        repo.delete("cred-1", expected_employee_id="emp-2")
    assert repo.get("cred-1") is not None
    repo.delete("cred-1", expected_employee_id="emp-1")
    assert repo.get("cred-1") is None
    with pytest.raises(CredentialNotFound):
        repo.delete("cred-1")


def test_returned_objects_are_frozen_dataclasses(repo: PasskeyRepository) -> None:
    repo.add(passkey())
    got = repo.get("cred-1")
    assert dataclasses.is_dataclass(got)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.sign_count = 100  # type: ignore[misc,union-attr]

"""Setting a password and one sign-in attempt, against the real repository and short-lived store.

The relational store is the ``db`` fixture (SQLite and PostgreSQL); the short-lived store is
``ephemeral`` (memory and Redis) where its counters are what is tested.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from idp.directory.model import Employee, SsoMode
from idp.factors import password as pw
from idp.factors.kinds import FactorKind, FactorUse
from idp.factors.password import OWASP_MINIMUM, Argon2Params, hash_password
from idp.factors.password_errors import (
    GENERIC_REJECTION,
    AccountLocked,
    PasswordRejected,
    PasswordTooGuessable,
    PasswordTooLong,
    RejectReason,
    TooManyPasswordAttempts,
)
from idp.factors.password_signin import (
    PasswordLimits,
    PasswordNotAllowed,
    PasswordSet,
    check_password_attempt,
    set_password,
)
from idp.policy import Policy, Requirement, Shortfall, evaluate
from idp.sessions import AuthContext
from idp.store import rate
from idp.store.ephemeral import EphemeralStore, MemoryStore
from idp.store.sql import Database, EmployeeRepository, PasswordRepository

NOW = dt.datetime(2026, 12, 1, 9, 0, 30, tzinfo=dt.UTC)
SECRET = "correct horse battery staple"
LIMITS = PasswordLimits(max_failures=3, lock_minutes=15, failures_per_address_per_minute=30)
ALICE = Employee(
    id="emp-1", username="asmith", email="alice@example.com", first_name="Alice",
    last_name="Smith", sso_mode=SsoMode.TWO_FACTOR,
)  # fmt: skip
BOB = dataclasses.replace(ALICE, id="emp-2", username="bjones", email="bob@example.com")


class Spy:
    """Wraps the real argon2 verification and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.real = pw.argon2_verify

    def __call__(self, stored_hash: str, password: str) -> bool:
        self.calls += 1
        return self.real(stored_hash, password)


@pytest.fixture
def argon2_calls(monkeypatch: pytest.MonkeyPatch) -> Spy:
    spy = Spy()
    monkeypatch.setattr(pw, "argon2_verify", spy)
    return spy


@pytest.fixture
def repo(db: Database) -> PasswordRepository:
    employees = EmployeeRepository(db)
    for person in (ALICE, BOB):
        employees.add(person, now=NOW)
    return PasswordRepository(db)


@pytest.fixture
def alice(repo: PasswordRepository) -> PasswordRepository:
    set_password(
        repository=repo, employee=ALICE, password=SECRET, now=NOW, params=OWASP_MINIMUM,
        min_length=12,
    )  # fmt: skip
    return repo


def attempt(
    repo: PasswordRepository,
    store: EphemeralStore,
    *,
    password: str = SECRET,
    employee: Employee | None = ALICE,
    username: str = "asmith",
    now: dt.datetime = NOW,
    ip: str = "192.0.2.10",
    params: Argon2Params = OWASP_MINIMUM,
    limits: PasswordLimits = LIMITS,
) -> FactorUse:
    return check_password_attempt(
        repository=repo, ephemeral=store, employee=employee, username=username,
        password=password, client_ip=ip, now=now, params=params, limits=limits,
    )  # fmt: skip


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


# -- setting ----------------------------------------------------------------------------------


def test_set_then_change(repo: PasswordRepository) -> None:
    first = set_password(
        repository=repo, employee=ALICE, password=SECRET, now=NOW, params=OWASP_MINIMUM,
        min_length=12,
    )  # fmt: skip
    assert first == PasswordSet(employee_id="emp-1", set_at=NOW, replaced=False)
    stored = repo.get("emp-1")
    assert stored is not None and stored.hash.startswith("$argon2id$")
    assert SECRET not in stored.hash
    later = NOW + dt.timedelta(days=1)
    second = set_password(
        repository=repo, employee=ALICE, password="a different long phrase", now=later,
        params=OWASP_MINIMUM, min_length=12,
    )  # fmt: skip
    assert second.replaced is True


def test_set_refuses_outside_two_factor_mode_and_broken_rules(repo: PasswordRepository) -> None:
    passwordless = dataclasses.replace(ALICE, sso_mode=SsoMode.PASSWORDLESS)
    with pytest.raises(PasswordNotAllowed) as caught:
        set_password(
            repository=repo, employee=passwordless, password=SECRET, now=NOW,
            params=OWASP_MINIMUM, min_length=12,
        )  # fmt: skip
    assert caught.value.status == 403
    assert "passwordless" in caught.value.description
    with pytest.raises(PasswordTooGuessable):
        set_password(
            repository=repo, employee=ALICE, password="Password123456!", now=NOW,
            params=OWASP_MINIMUM, min_length=12,
        )  # fmt: skip
    assert repo.get("emp-1") is None  # nothing stored on any refusal


# -- one attempt ------------------------------------------------------------------------------


def test_right_password_is_the_pwd_factor_and_never_enough_alone(
    alice: PasswordRepository, store: MemoryStore
) -> None:
    use = attempt(alice, store)
    assert use == FactorUse(
        kind=FactorKind.PASSWORD, credential_id="password:emp-1", at=NOW, user_verified=False,
        amr=("pwd",),
    )  # fmt: skip
    policy = Policy(name="default", factors=frozenset({FactorKind.PASSKEY}))
    context = AuthContext(session_id="s", employee_id="emp-1", auth_time=NOW, factors=(use,))
    decision = evaluate(
        requirement=Requirement(relying_party="sp", policy=policy), context=context, now=NOW
    )
    assert getattr(decision, "reason", None) is Shortfall.WRONG_FACTOR


def test_wrong_password_is_counted_and_says_nothing_specific(
    alice: PasswordRepository, store: MemoryStore
) -> None:
    with pytest.raises(PasswordRejected) as caught:
        attempt(alice, store, password="wrong horse battery staple")
    exc = caught.value
    assert (exc.status, exc.error, exc.description) == (
        401,
        "invalid_credentials",
        GENERIC_REJECTION,
    )
    assert exc.reason is RejectReason.WRONG_PASSWORD and exc.locked_until is None
    assert "wrong horse" not in str(exc.to_dict())
    stored = alice.get("emp-1")
    assert stored is not None and stored.failed_count == 1
    attempt(alice, store)
    stored = alice.get("emp-1")
    assert stored is not None and stored.failed_count == 0


def test_lock_after_n_failures_refuses_even_the_right_password_until_it_runs_out(
    alice: PasswordRepository, store: MemoryStore, argon2_calls: Spy
) -> None:
    for n in range(1, 4):
        with pytest.raises(PasswordRejected) as caught:
            attempt(alice, store, password=f"wrong guess number {n}")
    assert caught.value.locked_until == NOW + dt.timedelta(minutes=15)  # the third locked it
    assert argon2_calls.calls == 3
    with pytest.raises(AccountLocked) as locked:
        attempt(alice, store, now=NOW + dt.timedelta(minutes=14))
    assert locked.value.status == 429
    assert locked.value.description.endswith("try again in 1 minute")
    assert argon2_calls.calls == 3  # a locked account is refused without checking
    assert attempt(alice, store, now=NOW + dt.timedelta(minutes=15)).kind is FactorKind.PASSWORD


def test_default_limits_are_the_hideez_servers_ten_and_fifteen(
    alice: PasswordRepository, store: MemoryStore
) -> None:
    limits = PasswordLimits()
    assert (limits.max_failures, limits.lock_minutes) == (10, 15)
    for n in range(9):
        with pytest.raises(PasswordRejected) as caught:
            attempt(alice, store, password=f"wrong guess number {n}", limits=limits)
        assert caught.value.locked_until is None
    with pytest.raises(PasswordRejected) as caught:
        attempt(alice, store, password="wrong guess number 9", limits=limits)
    assert caught.value.locked_until == NOW + dt.timedelta(minutes=15)
    with pytest.raises(AccountLocked, match="15 minutes"):
        attempt(alice, store, limits=limits)


def test_the_attempt_that_reaches_the_limit_still_counts_if_right(
    alice: PasswordRepository, store: MemoryStore
) -> None:
    for n in range(2):
        with pytest.raises(PasswordRejected):
            attempt(alice, store, password=f"wrong guess number {n}")
    attempt(alice, store)  # the third attempt is right: no lock
    assert attempt(alice, store).kind is FactorKind.PASSWORD


@pytest.mark.parametrize(
    ("employee", "reason"),
    [
        (None, RejectReason.UNKNOWN_USER),
        (BOB, RejectReason.NO_PASSWORD),
        (dataclasses.replace(ALICE, sso_mode=SsoMode.PASSWORDLESS), RejectReason.NOT_TWO_FACTOR),
        (dataclasses.replace(ALICE, enabled=False), RejectReason.CANNOT_SIGN_IN),
    ],
)
def test_no_password_to_check_looks_like_a_wrong_one_and_costs_the_same(
    alice: PasswordRepository, store: MemoryStore, argon2_calls: Spy,
    employee: Employee | None, reason: RejectReason,
) -> None:  # fmt: skip
    with pytest.raises(PasswordRejected) as caught:
        attempt(alice, store, employee=employee, username="someone")
    assert caught.value.description == GENERIC_REJECTION
    assert caught.value.reason is reason
    assert argon2_calls.calls == 1  # the dummy verification ran
    stored = alice.get("emp-1")
    assert stored is not None and stored.failed_count == 0  # Alice's own count is untouched


def test_unknown_usernames_lock_like_real_ones(
    alice: PasswordRepository, store: MemoryStore
) -> None:
    for n in range(3):
        with pytest.raises(PasswordRejected) as caught:
            attempt(alice, store, employee=None, username="Nobody", password=f"guess number {n}")
    assert caught.value.locked_until == NOW + dt.timedelta(minutes=15)
    with pytest.raises(AccountLocked) as locked:
        attempt(alice, store, employee=None, username=" nobody ", now=NOW + dt.timedelta(minutes=1))
    assert locked.value.description.endswith("try again in 14 minutes")
    with pytest.raises(PasswordRejected) as after:
        attempt(alice, store, employee=None, username="nobody", now=NOW + dt.timedelta(minutes=15))
    assert after.value.locked_until is None


def test_oversized_input_is_refused_before_any_work(
    alice: PasswordRepository, store: MemoryStore, argon2_calls: Spy
) -> None:
    with pytest.raises(PasswordTooLong) as caught:
        attempt(alice, store, password="p" * 10_240)
    assert caught.value.status == 400
    assert argon2_calls.calls == 0
    stored = alice.get("emp-1")
    assert stored is not None and stored.failed_count == 0
    assert rate.recent(store, "pwd-addr:192.0.2.10", now=NOW) == 0


def test_rehash_on_sign_in_when_the_parameters_rose(
    alice: PasswordRepository, store: MemoryStore
) -> None:
    stronger = Argon2Params(memory_kib=OWASP_MINIMUM.memory_kib, time_cost=3)
    attempt(alice, store, params=stronger)
    stored = alice.get("emp-1")
    assert stored is not None and ",t=3," in stored.hash
    assert stored.set_at == NOW  # a rehash is not a new password
    assert attempt(alice, store, params=stronger).amr == ("pwd",)


def test_a_hash_from_elsewhere_with_other_costs_verifies(
    alice: PasswordRepository, store: MemoryStore
) -> None:
    old = hash_password(password=SECRET, params=Argon2Params(memory_kib=20 * 1024, time_cost=2))
    alice.set("emp-1", password_hash=old, now=NOW)
    attempt(alice, store)
    stored = alice.get("emp-1")
    assert stored is not None and "m=19456" in stored.hash


# -- per client address, on both short-lived stores -------------------------------------------


@pytest.fixture
def sqlite_repo(sqlite_db: Database) -> PasswordRepository:
    EmployeeRepository(sqlite_db).add(ALICE, now=NOW)
    repo = PasswordRepository(sqlite_db)
    set_password(
        repository=repo, employee=ALICE, password=SECRET, now=NOW, params=OWASP_MINIMUM,
        min_length=12,
    )  # fmt: skip
    return repo


def test_too_many_failures_from_one_address(
    sqlite_repo: PasswordRepository, ephemeral: EphemeralStore
) -> None:
    limits = PasswordLimits(max_failures=100, lock_minutes=15, failures_per_address_per_minute=3)
    minute = NOW.replace(second=0)
    for n in range(3):
        with pytest.raises(PasswordRejected):
            attempt(
                sqlite_repo, ephemeral, employee=None, username=f"user{n}", password="guess" * 3,
                limits=limits, now=minute,
            )  # fmt: skip
    with pytest.raises(TooManyPasswordAttempts) as caught:
        attempt(sqlite_repo, ephemeral, limits=limits, now=minute + dt.timedelta(seconds=59))
    assert (caught.value.status, caught.value.error) == (429, "too_many_attempts")
    # Another address is not affected. The window slides: a minute on, the three failures
    # still count in full; twenty seconds later a third of them has faded out.
    assert attempt(sqlite_repo, ephemeral, limits=limits, now=minute, ip="198.51.100.7")
    with pytest.raises(TooManyPasswordAttempts):
        attempt(sqlite_repo, ephemeral, limits=limits, now=minute + dt.timedelta(minutes=1))
    assert attempt(sqlite_repo, ephemeral, limits=limits, now=minute + dt.timedelta(seconds=80))


def test_successes_do_not_use_up_the_address_limit(
    sqlite_repo: PasswordRepository, ephemeral: EphemeralStore
) -> None:
    limits = PasswordLimits(failures_per_address_per_minute=2)
    for _ in range(4):
        attempt(sqlite_repo, ephemeral, limits=limits)


def test_unknown_user_lock_on_both_stores(
    sqlite_repo: PasswordRepository, ephemeral: EphemeralStore
) -> None:
    for n in range(3):
        with pytest.raises(PasswordRejected):
            attempt(
                sqlite_repo, ephemeral, employee=None, username="ghost", password=f"guess no {n}"
            )
    with pytest.raises(AccountLocked):
        attempt(sqlite_repo, ephemeral, employee=None, username="GHOST")
    with pytest.raises(PasswordRejected):
        attempt(sqlite_repo, ephemeral, employee=None, username="ghost2")

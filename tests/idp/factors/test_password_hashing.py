"""argon2id hashing: reference vectors, rehash, the dummy verification, measured parameters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from argon2 import PasswordHasher
from argon2.low_level import Type, hash_secret_raw

from idp.factors import password as pw
from idp.factors.password import (
    OWASP_MINIMUM,
    Argon2Params,
    PasswordCheck,
    StoredHashInvalid,
    StoredPassword,
    hash_password,
    measure_params,
    prepare_hashing,
    verify_password,
)
from idp.factors.password_errors import PasswordTooLong

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
# phc-winner-argon2, src/test.c: argon2id v=19, t=2, m=2^16, p=1, "password", salt "somesalt"
REFERENCE_HASH = (
    "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
)
REFERENCE_RAW = "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"


def stored(hash_: str, employee_id: str = "emp-1") -> StoredPassword:
    return StoredPassword(employee_id=employee_id, hash=hash_, set_at=NOW)


def test_reference_vector_raw_and_encoded() -> None:
    raw = hash_secret_raw(
        b"password", b"somesalt", time_cost=2, memory_cost=65536, parallelism=1,
        hash_len=32, type=Type.ID,
    )  # fmt: skip
    assert raw.hex() == REFERENCE_RAW
    check = verify_password(
        password="password", stored=stored(REFERENCE_HASH), expected_employee_id="emp-1",
        params=Argon2Params(memory_kib=65536, time_cost=2, parallelism=1),
    )  # fmt: skip
    # Same costs, but the vector's salt is 8 bytes and ours are 16: rehashed at next sign-in.
    assert check == PasswordCheck(ok=True, needs_rehash=True)
    wrong = verify_password(
        password="passwore", stored=stored(REFERENCE_HASH), expected_employee_id="emp-1",
        params=OWASP_MINIMUM,
    )  # fmt: skip
    assert wrong == PasswordCheck(ok=False, needs_rehash=False)


def test_our_hash_is_argon2id_with_the_given_costs_and_verifies_independently() -> None:
    result = hash_password(password="correct horse battery", params=OWASP_MINIMUM)
    assert result.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PasswordHasher().verify(result, "correct horse battery")  # argon2-cffi, not ours
    again = hash_password(password="correct horse battery", params=OWASP_MINIMUM)
    assert again != result  # a fresh salt every time


def test_nfkc_makes_equivalent_spellings_one_password() -> None:
    # U+212B ANGSTROM SIGN and U+FB01 (the "fi" ligature) normalise to Å and "fi".
    result = hash_password(password="\u212bngstr\u00f6m \ufb01le cabinet", params=OWASP_MINIMUM)
    check = verify_password(
        password="\u00c5ngstr\u00f6m file cabinet", stored=stored(result),
        expected_employee_id="emp-1", params=OWASP_MINIMUM,
    )  # fmt: skip
    assert check.ok


def test_needs_rehash_when_the_parameters_rose() -> None:
    old = hash_password(password="correct horse battery", params=OWASP_MINIMUM)
    stronger = Argon2Params(memory_kib=OWASP_MINIMUM.memory_kib, time_cost=3)
    check = verify_password(
        password="correct horse battery", stored=stored(old), expected_employee_id="emp-1",
        params=stronger,
    )  # fmt: skip
    assert check == PasswordCheck(ok=True, needs_rehash=True)
    wrong = verify_password(
        password="wrong horse battery", stored=stored(old), expected_employee_id="emp-1",
        params=stronger,
    )  # fmt: skip
    assert wrong == PasswordCheck(ok=False, needs_rehash=False)


def test_someone_elses_record_never_verifies() -> None:
    theirs = stored(hash_password(password="correct horse battery", params=OWASP_MINIMUM))
    check = verify_password(
        password="correct horse battery", stored=theirs, expected_employee_id="emp-2",
        params=OWASP_MINIMUM,
    )  # fmt: skip
    assert not check.ok


class Spy:
    """Wraps the real argon2 verification and records the hashes it was given."""

    def __init__(self) -> None:
        self.hashes: list[str] = []
        self.real = pw.argon2_verify

    def __call__(self, stored_hash: str, password: str) -> bool:
        self.hashes.append(stored_hash)
        return self.real(stored_hash, password)


def test_no_record_still_runs_argon2_on_a_hash_with_the_current_costs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spy = Spy()
    monkeypatch.setattr(pw, "argon2_verify", spy)
    check = verify_password(
        password="anything at all", stored=None, expected_employee_id=None, params=OWASP_MINIMUM
    )
    assert check == PasswordCheck(ok=False, needs_rehash=False)
    assert len(spy.hashes) == 1
    assert spy.hashes[0].startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    real = stored(hash_password(password="correct horse battery", params=OWASP_MINIMUM))
    verify_password(
        password="x" * 12, stored=real, expected_employee_id="emp-1", params=OWASP_MINIMUM
    )
    assert len(spy.hashes) == 2  # one argon2 verification per attempt, either way


def test_oversized_input_is_refused_before_any_argon2_work(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy()
    monkeypatch.setattr(pw, "argon2_verify", spy)
    with pytest.raises(PasswordTooLong) as caught:
        verify_password(
            password="a" * 10_240, stored=None, expected_employee_id=None, params=OWASP_MINIMUM
        )
    assert caught.value.status == 400
    assert "10240" in caught.value.description
    assert spy.hashes == []
    with pytest.raises(PasswordTooLong):
        hash_password(password="a" * 10_240, params=OWASP_MINIMUM)


@pytest.mark.parametrize(
    "bad", ["not a hash", "$argon2id$v=19$m=19456,t=2,p=1$broken", "$argon2id$é"]
)
def test_a_corrupt_stored_hash_is_a_server_error_not_a_wrong_password(bad: str) -> None:
    with pytest.raises(StoredHashInvalid) as caught:
        verify_password(
            password="correct horse battery", stored=stored(bad), expected_employee_id="emp-1",
            params=OWASP_MINIMUM,
        )  # fmt: skip
    assert caught.value.status == 500
    assert bad not in caught.value.description


def test_params_refuse_impossible_costs() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Argon2Params(memory_kib=19456, time_cost=0)
    with pytest.raises(ValueError, match="8 KiB per lane"):
        Argon2Params(memory_kib=16, time_cost=2, parallelism=4)


def test_measure_keeps_the_floor_when_the_floor_is_already_slow_enough() -> None:
    assert measure_params(target_ms=1) == OWASP_MINIMUM


def test_measure_raises_memory_up_to_the_cap_for_a_high_target() -> None:
    params = measure_params(target_ms=2000, max_memory_kib=24 * 1024)
    assert params == Argon2Params(memory_kib=24 * 1024, time_cost=2, parallelism=1)


def fake_timer(durations_ms: list[float]) -> Callable[[], float]:
    """A clock under which each hash takes the next duration (three runs per measurement)."""
    ticks = iter([t for ms in durations_ms for t in (0.0, ms / 1000) * 3])
    return lambda: next(ticks)


def test_measure_grows_memory_in_measured_steps_up_to_the_target() -> None:
    # 19 MiB takes 25 ms → try 38 MiB (doubling): 50 ms → try 57 MiB (×1.5): 75 ms, done.
    params = measure_params(target_ms=75, timer=fake_timer([25, 50, 75]))
    assert params == Argon2Params(memory_kib=57 * 1024, time_cost=2, parallelism=1)


def test_measure_does_not_take_a_step_far_over_the_target() -> None:
    # 38 MiB takes 50 ms, but 57 MiB falls out of the cache and takes 120 ms: keep 38 MiB.
    params = measure_params(target_ms=75, timer=fake_timer([25, 50, 120]))
    assert params == Argon2Params(memory_kib=38 * 1024, time_cost=2, parallelism=1)


def test_prepare_uses_fixed_parameters_as_given_and_makes_the_dummy_hash() -> None:
    fixed = Argon2Params(memory_kib=20 * 1024, time_cost=2)
    pw.dummy_hash.cache_clear()
    assert prepare_hashing(params=fixed, target_ms=75) == fixed
    assert pw.dummy_hash.cache_info().currsize == 1
    assert pw.dummy_hash(fixed).startswith("$argon2id$v=19$m=20480,t=2,p=1$")


def test_prepare_measures_once_per_process_for_auto() -> None:
    pw.measured_params.cache_clear()
    first = prepare_hashing(params=None, target_ms=40)
    second = prepare_hashing(params=None, target_ms=40)
    assert first == second
    assert first.memory_kib >= OWASP_MINIMUM.memory_kib
    assert pw.measured_params.cache_info().misses == 1

"""Password hashing for the two-factor SSO mode: argon2id (RFC 9106) through argon2-cffi.

A password is only ever the first of two factors (see :mod:`idp.factors.password_signin`).
Hashes are PHC strings (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``), so each one carries the
parameters it was made with: raising the parameters later rehashes a password at its next
successful sign-in (:attr:`PasswordCheck.needs_rehash`).

Parameters are either fixed in the configuration or measured at their first use
(:func:`measured_params`): the memory cost is raised from OWASP's minimum (m = 19 MiB, t = 2,
p = 1) until one hash takes about the target time on this machine. :func:`verify_password`
does the same argon2 work whether or not there is a stored hash, so the time of an answer says
nothing about whether the username exists or has a password.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from idp.errors import IdpError
from idp.factors.password_rules import normalise_password

HASH_LEN = 32
SALT_LEN = 16
#: auto-measured memory cost never goes above this (each concurrent sign-in holds this much)
MAX_AUTO_MEMORY_KIB = 256 * 1024


@dataclass(frozen=True)
class Argon2Params:
    """argon2id cost parameters (memory in KiB, passes, lanes)."""

    memory_kib: int
    time_cost: int
    parallelism: int = 1

    def __post_init__(self) -> None:
        if self.parallelism < 1 or self.time_cost < 1:
            raise ValueError("argon2 time_cost and parallelism must be at least 1")
        if self.memory_kib < 8 * self.parallelism:
            raise ValueError("argon2 memory must be at least 8 KiB per lane")


#: OWASP Password Storage Cheat Sheet, argon2id minimum configuration
OWASP_MINIMUM = Argon2Params(memory_kib=19 * 1024, time_cost=2, parallelism=1)


class StoredHashInvalid(IdpError):
    """The stored value is not an argon2 hash: the database was changed by hand (500)."""

    error = "server_error"
    status = 500


@dataclass(frozen=True)
class StoredPassword:
    """An employee's password record as the repository keeps it."""

    employee_id: str
    hash: str
    set_at: dt.datetime
    failed_count: int = 0
    locked_until: dt.datetime | None = None

    def locked_at(self, now: dt.datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


@dataclass(frozen=True)
class PasswordCheck:
    """The outcome of one verification; ``needs_rehash`` only when ``ok``."""

    ok: bool
    needs_rehash: bool


@functools.lru_cache(maxsize=8)
def _hasher(params: Argon2Params) -> argon2.PasswordHasher:
    return argon2.PasswordHasher(
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=HASH_LEN,
        salt_len=SALT_LEN,
        type=argon2.Type.ID,
    )


def hash_password(*, password: str, params: Argon2Params) -> str:
    """The argon2id PHC string of ``password`` (NFKC-normalised) with a fresh random salt.

    Callers setting a password check it first with
    :func:`idp.factors.password_rules.check_new_password`.
    """
    return _hasher(params).hash(normalise_password(password))


# Verification reads the type and costs from the hash itself, whatever this hasher's are.
_VERIFIER = argon2.PasswordHasher()


def argon2_verify(stored_hash: str, password: str) -> bool:
    """One argon2 verification; the only place a secret (a password, an admin's recovery
    code) meets a hash."""
    try:
        return _VERIFIER.verify(stored_hash, password)
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError, UnicodeEncodeError):
        raise StoredHashInvalid("a stored password hash is not a valid argon2 hash") from None


@functools.lru_cache(maxsize=8)
def dummy_hash(params: Argon2Params) -> str:
    """A hash of a random secret nobody knows, made once per parameter set.

    Verifying against it costs what a real verification costs; :func:`prepare_hashing` makes
    it at start so the first unknown username is not slower than the rest.
    """
    return _hasher(params).hash(secrets.token_urlsafe(32))


def verify_password(
    *,
    password: str,
    stored: StoredPassword | None,
    expected_employee_id: str | None,
    params: Argon2Params,
) -> PasswordCheck:
    """Check ``password`` against ``stored``, the record of ``expected_employee_id``.

    With no record (unknown username, no password set) or a record of someone else, a dummy
    hash made with ``params`` is verified instead and the answer is not ok: the same argon2
    work either way. ``params`` are the current ones: a hash made with others needs a rehash.
    Raises :class:`~idp.factors.password_errors.PasswordTooLong` before any hashing.
    """
    normal = normalise_password(password)
    if stored is None or expected_employee_id is None or stored.employee_id != expected_employee_id:
        argon2_verify(dummy_hash(params), normal)
        return PasswordCheck(ok=False, needs_rehash=False)
    if not argon2_verify(stored.hash, normal):
        return PasswordCheck(ok=False, needs_rehash=False)
    return PasswordCheck(ok=True, needs_rehash=_hasher(params).check_needs_rehash(stored.hash))


def _hash_ms(params: Argon2Params, timer: Callable[[], float], runs: int = 3) -> float:
    # The fastest of a few runs: other processes on a shared machine only ever add time.
    best = float("inf")
    for _ in range(runs):
        start = timer()
        _hasher(params).hash("measure-argon2-cost")
        best = min(best, timer() - start)
    return best * 1000


def measure_params(
    *,
    target_ms: int,
    floor: Argon2Params = OWASP_MINIMUM,
    max_memory_kib: int = MAX_AUTO_MEMORY_KIB,
    timer: Callable[[], float] = time.perf_counter,
) -> Argon2Params:
    """argon2id parameters that take about ``target_ms`` per hash here, never below ``floor``.

    Time and lanes stay at the floor's; the memory cost grows in steps (at most doubling, by
    the ratio still missing) and each step is measured: past the caches argon2 slows faster
    than its memory grows, so a step more than 20 % over the target is not taken. A machine
    slower than the target keeps the floor; ``max_memory_kib`` caps the memory.
    """
    best, best_ms = floor, _hash_ms(floor, timer)
    while best_ms < target_ms:
        factor = min(2.0, max(1.1, target_ms / max(best_ms, 0.001)))
        memory = min(max_memory_kib, int(best.memory_kib * factor) // 1024 * 1024)
        if memory <= best.memory_kib:
            break
        candidate = Argon2Params(memory, floor.time_cost, floor.parallelism)
        candidate_ms = _hash_ms(candidate, timer)
        if candidate_ms > target_ms * 1.2:
            break
        best, best_ms = candidate, candidate_ms
    return best


@functools.lru_cache(maxsize=4)
def measured_params(target_ms: int) -> Argon2Params:
    """:func:`measure_params` once per process and target (several runtimes share it)."""
    return measure_params(target_ms=target_ms)


#: the first thread to need measured parameters measures; the others wait for its answer
_MEASURING = threading.Lock()


def prepare_hashing(*, params: Argon2Params | None, target_ms: int) -> Argon2Params:
    """The parameters to use (fixed, or measured when ``params`` is None), ready for use.

    Cheap after its first call per parameter set: it measures if asked (once per process) and
    makes the dummy hash for that set (cached).
    """
    if params is None:
        with _MEASURING:
            params = measured_params(target_ms)
    dummy_hash(params)
    return params

"""The password factor inside a sign-in: setting it (enrolment link) and one attempt.

Only employees in the two-factor SSO mode have a password, and it is only ever the first
factor: the :class:`~idp.factors.kinds.FactorUse` an attempt returns has kind ``password`` and
amr ``pwd``, which no policy accepts alone (``policies.*.factors`` cannot name it).

Limits on guessing, both enforced before the password is checked:

- per account: every attempt is counted as a failure *before* argon2 runs and cleared when the
  password proves right, so parallel guesses cannot slip past the limit; the attempt that
  reaches ``max_failures`` locks the account for ``lock_minutes`` (the Hideez server: 10 and
  15). An unknown username, or one that has no password, is counted the same way in the
  short-lived store, so locking reveals nothing about which usernames exist;
- per client address: more than ``failures_per_address_per_minute`` wrong passwords in one
  minute refuse further attempts from that address until the next minute.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass
from typing import NoReturn, Protocol

from idp.directory.model import Employee, SsoMode
from idp.errors import AccessDenied
from idp.factors.kinds import FactorKind, FactorUse
from idp.factors.password import (
    Argon2Params,
    StoredPassword,
    hash_password,
    verify_password,
)
from idp.factors.password_errors import (
    AccountLocked,
    PasswordRejected,
    RejectReason,
    TooManyPasswordAttempts,
)
from idp.factors.password_rules import check_new_password, normalise_password
from idp.store import rate
from idp.store.ephemeral.base import EphemeralStore

#: how long the short-lived store remembers failures for a username without a password
_UNKNOWN_FAILURE_MEMORY = 24 * 3600


@dataclass(frozen=True)
class PasswordLimits:
    max_failures: int = 10
    lock_minutes: int = 15
    failures_per_address_per_minute: int = 30


@dataclass(frozen=True)
class FailureTally:
    """What :meth:`PasswordStore.record_failure` did.

    ``counted`` is False when the account was already locked at that moment (nothing changed);
    otherwise ``stored.locked_until`` is set only when this failure locked the account.
    """

    counted: bool
    stored: StoredPassword


class PasswordStore(Protocol):
    """What the password factor needs from storage (``idp.store.sql.PasswordRepository``)."""

    def get(self, employee_id: str) -> StoredPassword | None: ...

    def set(self, employee_id: str, *, password_hash: str, now: dt.datetime) -> bool: ...

    def record_failure(
        self, employee_id: str, *, now: dt.datetime, max_failures: int, lock_for: dt.timedelta
    ) -> FailureTally | None: ...

    def record_success(
        self, employee_id: str, *, verified_hash: str, rehashed: str | None = None
    ) -> None: ...


class PasswordNotAllowed(AccessDenied):
    """Only employees in the two-factor SSO mode have a password (403)."""

    error = "password_not_allowed"


@dataclass(frozen=True)
class PasswordSet:
    """A password was set; ``replaced`` tells ``password_changed`` from ``password_set``."""

    employee_id: str
    set_at: dt.datetime
    replaced: bool


def set_password(
    *,
    repository: PasswordStore,
    employee: Employee,
    password: str,
    now: dt.datetime,
    params: Argon2Params,
    min_length: int,
) -> PasswordSet:
    """Check the rules, hash and store ``employee``'s new password (it clears any lock).

    Only the employee sets it, through their enrolment link. Nothing is stored when a rule is
    broken (the typed error says which).
    """
    if employee.sso_mode is not SsoMode.TWO_FACTOR:
        raise PasswordNotAllowed(
            f"passwords are used only in the two_factor SSO mode; this employee's mode is "
            f"{employee.sso_mode.value}"
        )
    normal = check_new_password(password=password, employee=employee, min_length=min_length)
    password_hash = hash_password(password=normal, params=params)
    replaced = repository.set(employee.id, password_hash=password_hash, now=now)
    return PasswordSet(employee_id=employee.id, set_at=now, replaced=replaced)


def _username_key(username: str) -> str:
    # Hashed: the store's keys are visible to its operators, typed usernames need not be.
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()[:32]
    return f"pwd:user:{digest}"


def _address_scope(client_ip: str) -> str:
    return f"pwd-addr:{client_ip}"


def _no_password_reason(employee: Employee | None) -> RejectReason | None:
    if employee is None:
        return RejectReason.UNKNOWN_USER
    if not employee.can_sign_in:
        return RejectReason.CANNOT_SIGN_IN
    if employee.sso_mode is not SsoMode.TWO_FACTOR:
        return RejectReason.NOT_TWO_FACTOR
    return None


def _refuse_without_password(
    ephemeral: EphemeralStore,
    *,
    username: str,
    password: str,
    reason: RejectReason,
    address_scope: str,
    now: dt.datetime,
    params: Argon2Params,
    limits: PasswordLimits,
) -> NoReturn:
    """Count and refuse an attempt that has no password to check, like a wrong one."""
    key = _username_key(username)
    lock = ephemeral.get(f"{key}:lock")
    if lock is not None and (until := dt.datetime.fromisoformat(lock.decode())) > now:
        raise AccountLocked(until=until, now=now)
    locked_until = None
    if ephemeral.incr(key, ttl=_UNKNOWN_FAILURE_MEMORY) >= limits.max_failures:
        locked_until = now + dt.timedelta(minutes=limits.lock_minutes)
        ephemeral.put(
            f"{key}:lock", locked_until.isoformat().encode(), ttl=limits.lock_minutes * 60
        )
        ephemeral.delete(key)
    verify_password(password=password, stored=None, expected_employee_id=None, params=params)
    rate.count(ephemeral, address_scope, now=now)
    raise PasswordRejected(reason, locked_until=locked_until)


def check_password_attempt(
    *,
    repository: PasswordStore,
    ephemeral: EphemeralStore,
    employee: Employee | None,
    username: str,
    password: str,
    client_ip: str,
    now: dt.datetime,
    params: Argon2Params,
    limits: PasswordLimits,
) -> FactorUse:
    """One password sign-in attempt by ``username`` (``employee`` as looked up, or None).

    Returns the factor use on success. Raises :class:`PasswordTooLong` (before any work),
    :class:`TooManyPasswordAttempts`, :class:`AccountLocked`, or :class:`PasswordRejected`
    (whose ``reason`` and ``locked_until`` are for the audit). The caller audits every outcome.
    """
    normal = normalise_password(password)
    address_scope = _address_scope(client_ip)
    if rate.recent(ephemeral, address_scope, now=now) >= limits.failures_per_address_per_minute:
        raise TooManyPasswordAttempts(
            "too many wrong passwords from this address; wait a minute and try again"
        )
    refuse = functools.partial(
        _refuse_without_password,
        ephemeral,
        username=username,
        password=normal,
        address_scope=address_scope,
        now=now,
        params=params,
        limits=limits,
    )
    reason = _no_password_reason(employee)
    if employee is None or reason is not None:
        refuse(reason=reason or RejectReason.UNKNOWN_USER)
    tally = repository.record_failure(
        employee.id,
        now=now,
        max_failures=limits.max_failures,
        lock_for=dt.timedelta(minutes=limits.lock_minutes),
    )
    if tally is None:
        refuse(reason=RejectReason.NO_PASSWORD)
    if not tally.counted:
        raise AccountLocked(until=tally.stored.locked_until or now, now=now)
    check = verify_password(
        password=normal, stored=tally.stored, expected_employee_id=employee.id, params=params
    )
    if not check.ok:
        rate.count(ephemeral, address_scope, now=now)
        raise PasswordRejected(RejectReason.WRONG_PASSWORD, locked_until=tally.stored.locked_until)
    rehashed = hash_password(password=normal, params=params) if check.needs_rehash else None
    repository.record_success(employee.id, verified_hash=tally.stored.hash, rehashed=rehashed)
    return FactorUse(
        kind=FactorKind.PASSWORD,
        credential_id=f"password:{employee.id}",
        at=now,
        user_verified=False,
        amr=("pwd",),
    )

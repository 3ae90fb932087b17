"""Admin sign-in with a password and a second factor (TOTP, or one of the recovery codes).

The Hideez server's admin accounts: a password (argon2id, :mod:`idp.factors.password`) and a
TOTP authenticator (a secret of 32 base32 characters, shown once as an ``otpauth://`` URI)
with 10 recovery codes of 8 characters, shown once and stored as argon2id hashes behind a short
tag (:func:`recovery_record`); disabling and
enabling TOTP again makes a new secret and new codes. A passkey sign-in (the core flow) is the
other way in; both end in an ordinary session of the admin's employee.

Guessing is bounded three ways, all before any hashing: every attempt on an account is counted
as failed before the password is checked and cleared only when password *and* code are right,
so 10 wrong attempts (passwords or codes) lock the account for 15 minutes
(``passwords.lockout_attempts`` / ``lockout_minutes``) or until another admin unlocks it;
unknown usernames lock the same way in the short-lived store, so a lock says nothing about
which names exist; and each client address may fail only ``failures_per_address_per_minute``
times a minute (:mod:`idp.store.rate`). A code is accepted once: its TOTP step, or the
recovery code, is spent by one conditional update.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import NoReturn

from idp.admin.credential_store import AdminCredentialRepository, AdminCredentials
from idp.admin.records import AdminUser
from idp.directory.model import Employee
from idp.errors import AccessDenied, Unauthorized
from idp.factors.authenticator.errors import TotpError, TotpReused
from idp.factors.authenticator.totp import MAX_CODE_FIELD, verify_code
from idp.factors.kinds import FactorKind, FactorUse
from idp.factors.password import (
    Argon2Params,
    StoredPassword,
    argon2_verify,
    hash_password,
    verify_password,
)
from idp.factors.password_errors import AccountLocked, TooManyPasswordAttempts
from idp.factors.password_rules import normalise_password
from idp.factors.password_signin import PasswordLimits
from idp.secrets import SecretBox, secret_aad
from idp.store import rate
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql.repositories.admins import AdminRepository
from idp.store.sql.repositories.employees import EmployeeRepository

#: the envelope's purpose label for an admin's TOTP secret (bound to the admin id)
SECRET_PURPOSE = "admin_totp_secret"
TOTP_ALGORITHM, TOTP_DIGITS, TOTP_PERIOD = "SHA1", 6, 30
RECOVERY_CODES = 10
RECOVERY_LENGTH = 8
#: hex digits of a recovery code's digest stored in the clear to find its record
RECOVERY_TAG = 2
#: no 0/o, 1/l/i: a code read off paper is typed back without ambiguity
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MAX_USERNAME = 256
_UNKNOWN_MEMORY = 24 * 3600


class AdminSignInRejected(Unauthorized):
    """The username, password or code is not correct (one answer for all of them, 401)."""

    error = "invalid_credentials"

    def __init__(self, why: str, *, locked_until: dt.datetime | None = None) -> None:
        super().__init__("the username, password or code is not correct")
        #: why, for the audit only (wrong_password, wrong_code, code_reused, unknown_user …)
        self.why = why
        #: set when this attempt locked the account (the caller audits the lock)
        self.locked_until = locked_until


class SecondFactorMissing(AccessDenied):
    """The password is right but the account has no TOTP: a password alone never suffices."""

    error = "second_factor_missing"


@dataclass(frozen=True)
class AdminSignIn:
    """A successful sign-in: who, with which two factor uses, and recovery codes left."""

    admin: AdminUser
    employee: Employee
    factors: tuple[FactorUse, FactorUse]
    recovery_codes_left: int


def recovery_digest(admin_id: str, code: str) -> str:
    """A recovery code's SHA-256, bound to its account (so equal codes differ)."""
    return hashlib.sha256(f"{admin_id}|{code}".encode()).hexdigest()


def recovery_record(admin_id: str, code: str, *, params: Argon2Params) -> str:
    """What is stored of a recovery code: ``<tag>$<argon2id PHC string>``, both over its
    :func:`recovery_digest`.

    The tag (the digest's first :data:`RECOVERY_TAG` hex digits) picks the record a typed code
    is checked against, so a sign-in runs argon2 about once, not once per stored code. It is
    too short to test a guess offline (one wrong guess in 256 passes it); the argon2 hash is
    what a guess at a copied database must beat.
    """
    digest = recovery_digest(admin_id, code)
    return f"{digest[:RECOVERY_TAG]}${hash_password(password=digest, params=params)}"


def matching_record(admin_id: str, code: str, records: tuple[str, ...]) -> str | None:
    """The stored record ``code`` (normalised) is, or None."""
    digest = recovery_digest(admin_id, code)
    prefix = digest[:RECOVERY_TAG] + "$"
    for record in records:
        if record.startswith(prefix) and argon2_verify(record[len(prefix) :], digest):
            return record
    return None


def new_recovery_codes() -> list[str]:
    return [
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODES)
    ]


def _normal_code(code: str) -> str:
    return code.strip().replace(" ", "").replace("-", "").lower()


def _unknown_key(username: str) -> str:
    return "admin-signin:user:" + hashlib.sha256(username.casefold().encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SignInStores:
    """What an admin sign-in reads and writes."""

    admins: AdminRepository
    employees: EmployeeRepository
    credentials: AdminCredentialRepository
    ephemeral: EphemeralStore
    secrets: SecretBox
    params: Argon2Params
    limits: PasswordLimits


def sign_in(
    *, stores: SignInStores, username: str, password: str, code: str, client_ip: str,
    now: dt.datetime,
) -> AdminSignIn:  # fmt: skip
    """One password + code attempt. Raises :class:`AdminSignInRejected` (``why`` for the
    audit), :class:`AccountLocked`, :class:`TooManyPasswordAttempts`,
    :class:`SecondFactorMissing` or ``PasswordTooLong``; the caller audits every outcome."""
    normal = normalise_password(password)  # PasswordTooLong before any work
    address = f"admin-signin-addr:{client_ip}"
    limit = stores.limits.failures_per_address_per_minute
    if rate.recent(stores.ephemeral, address, now=now) >= limit:
        raise TooManyPasswordAttempts("too many failed sign-ins from this address; wait a minute")
    found = _account(stores, username[:MAX_USERNAME])
    if found is None:
        rate.count(stores.ephemeral, address, now=now)
        _refuse_unknown(stores, username[:MAX_USERNAME], normal, now)
    admin, employee = found
    attempt = stores.credentials.count_attempt(
        admin.id, now=now, max_failures=stores.limits.max_failures,
        lock_for=dt.timedelta(minutes=stores.limits.lock_minutes),
    )  # fmt: skip
    if attempt is None or attempt.credentials.password_hash is None:
        rate.count(stores.ephemeral, address, now=now)
        _refuse_unknown(stores, username[:MAX_USERNAME], normal, now)
    creds = attempt.credentials
    if not attempt.counted:
        raise AccountLocked(until=creds.locked_until or now, now=now)
    locked = creds.locked_until if attempt.locked_now else None
    stored = StoredPassword(admin.id, creds.password_hash or "", creds.password_set_at or now)
    check = verify_password(
        password=normal, stored=stored, expected_employee_id=admin.id, params=stores.params
    )
    if not check.ok:
        rate.count(stores.ephemeral, address, now=now)
        raise AdminSignInRejected("wrong_password", locked_until=locked)
    if not creds.totp_enabled:
        raise SecondFactorMissing(
            "this admin account has no second factor: another admin runs "
            "'hideez-idp admin-user totp-enable' for it, or sign in with a passkey"
        )
    try:
        second, left = _second_factor(stores, creds, code, now)
    except AdminSignInRejected as exc:
        rate.count(stores.ephemeral, address, now=now)
        exc.locked_until = locked
        raise
    rehashed = hash_password(password=normal, params=stores.params) if check.needs_rehash else None
    stores.credentials.record_success(admin.id, rehashed=rehashed)
    first = FactorUse(FactorKind.PASSWORD, f"admin-password:{admin.id}", now, False, ("pwd",))
    return AdminSignIn(admin, employee, (first, second), left)


def _account(stores: SignInStores, username: str) -> tuple[AdminUser, Employee] | None:
    employee = stores.employees.get_by_username(username.strip())
    if employee is None or not employee.enabled:
        return None
    admin = stores.admins.for_employee(employee.id)
    return None if admin is None else (admin, employee)


def _refuse_unknown(
    stores: SignInStores, username: str, password: str, now: dt.datetime
) -> NoReturn:
    """No account (or no password) to check: counted and refused like a wrong password, after
    the same argon2 work, locking after as many attempts."""
    key, store, limits = _unknown_key(username), stores.ephemeral, stores.limits
    lock = store.get(f"{key}:lock")
    if lock is not None and (until := dt.datetime.fromisoformat(lock.decode())) > now:
        raise AccountLocked(until=until, now=now)
    if store.incr(key, ttl=_UNKNOWN_MEMORY) >= limits.max_failures:
        until = now + dt.timedelta(minutes=limits.lock_minutes)
        store.put(f"{key}:lock", until.isoformat().encode(), ttl=limits.lock_minutes * 60)
        store.delete(key)
    verify_password(password=password, stored=None, expected_employee_id=None, params=stores.params)
    raise AdminSignInRejected("unknown_user")


def _second_factor(
    stores: SignInStores, creds: AdminCredentials, code: str, now: dt.datetime
) -> tuple[FactorUse, int]:
    if len(code) > MAX_CODE_FIELD:
        raise AdminSignInRejected("code_too_long")
    normal = _normal_code(code)
    left = len(creds.recovery_codes)
    if len(normal) == RECOVERY_LENGTH and not normal.isdigit():
        record = matching_record(creds.admin_id, normal, creds.recovery_codes)
        if record is None:
            raise AdminSignInRejected("wrong_recovery_code")
        remaining = stores.credentials.spend_recovery_code(creds.admin_id, record)
        if remaining is None:  # spent by a parallel request a moment ago
            raise AdminSignInRejected("recovery_code_reused")
        use = FactorUse(FactorKind.TOTP, f"admin-recovery:{creds.admin_id}", now, False, ("otp",))
        return use, remaining
    aad = secret_aad(SECRET_PURPOSE, creds.admin_id)
    secret = stores.secrets.decrypt(creds.totp_secret or b"", aad=aad).decode("ascii")
    try:
        match = verify_code(
            secret=secret, code=normal, now=now, algorithm=TOTP_ALGORITHM, digits=TOTP_DIGITS,
            period=TOTP_PERIOD, last_used_step=creds.totp_last_step,
        )  # fmt: skip
    except TotpReused:
        raise AdminSignInRejected("code_reused") from None
    except TotpError:
        raise AdminSignInRejected("wrong_code") from None
    if not stores.credentials.spend_step(creds.admin_id, match.step):
        raise AdminSignInRejected("code_reused")
    return FactorUse(FactorKind.TOTP, f"admin-totp:{creds.admin_id}", now, False, ("otp",)), left

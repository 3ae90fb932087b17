"""Typed failures of the password factor: one class per rule at set time, one per sign-in stage.

Set-time errors (400) tell the employee exactly which rule the new password broke. Sign-in
errors never say whether the username exists, has a password or is in two-factor mode: every
such case is one :class:`PasswordRejected` with one description; the ``reason`` attribute is
for the audit trail only and never reaches the wire. No message ever contains the password.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from idp.errors import IdpError


class PasswordError(IdpError):
    """Root of every password failure."""

    error = "invalid_password"
    status = 400


# -- rules at set time (NIST SP 800-63B §5.1.1.2) ---------------------------------------------


class PasswordTooShort(PasswordError):
    error = "password_too_short"


class PasswordTooLong(PasswordError):
    """Longer than the maximum; refused before normalising or hashing (no hashing DoS)."""

    error = "password_too_long"


class PasswordTooGuessable(PasswordError):
    """On the bundled list of common passwords, one repeated character, or a plain sequence."""

    error = "password_too_common"


class PasswordMatchesIdentity(PasswordError):
    """Contains the employee's own username, email address or its local part."""

    error = "password_contains_identity"


# -- one sign-in attempt ----------------------------------------------------------------------


class RejectReason(StrEnum):
    """Why an attempt failed, for the audit; all of them look the same to the client."""

    WRONG_PASSWORD = "wrong_password"
    UNKNOWN_USER = "unknown_user"
    NO_PASSWORD = "no_password"
    NOT_TWO_FACTOR = "not_two_factor"
    CANNOT_SIGN_IN = "cannot_sign_in"


GENERIC_REJECTION = "the username or password is not correct"


class PasswordRejected(PasswordError):
    """The password did not verify, or there is nothing it could verify against (401)."""

    error = "invalid_credentials"
    status = 401

    def __init__(self, reason: RejectReason, *, locked_until: dt.datetime | None = None) -> None:
        super().__init__(GENERIC_REJECTION)
        self.reason = reason
        #: set when this failure locked the account (the caller audits the lock)
        self.locked_until = locked_until


class AccountLocked(PasswordError):
    """Too many wrong passwords for this username: refused without checking the password.

    Unknown usernames lock after the same number of failures, so a lock is no hint that the
    username exists.
    """

    error = "account_locked"
    status = 429

    def __init__(self, *, until: dt.datetime, now: dt.datetime) -> None:
        minutes = max(1, -(-int((until - now).total_seconds()) // 60))
        super().__init__(
            f"too many wrong passwords for this account; try again in {minutes} minute"
            + ("" if minutes == 1 else "s")
        )
        self.until = until
        self.retry_after = -(-int((until - now).total_seconds()) // 1)


class TooManyPasswordAttempts(PasswordError):
    """Too many wrong passwords from this client address in the current minute."""

    error = "too_many_attempts"
    status = 429
    retry_after = 60

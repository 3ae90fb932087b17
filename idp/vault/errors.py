"""One typed error per way a vault operation is refused (see :mod:`idp.errors` for the shape).

The driver branches on the connection refusals (:class:`UnknownKey`, :class:`KeyCompromised`,
:class:`WipedByHand`, :class:`LinkedToAnotherServer`); the shells render any of them as is.
"""

from __future__ import annotations

from idp.errors import (
    AccessDenied,
    Conflict,
    InvalidRequest,
    NotFound,
    RequestTooLarge,
    SecretsLocked,
    Unauthorized,
)


class VaultSecretsLocked(SecretsLocked):
    """The server's secrets envelope is locked: no vault operation can run."""

    error = "vault_secrets_locked"


class InvalidVaultInput(InvalidRequest):
    """An input about a key, profile, account or template is malformed; nothing was stored."""

    error = "invalid_vault_input"


class VaultInputTooLarge(RequestTooLarge):
    error = "vault_input_too_large"


class InvalidOtpSecret(InvalidVaultInput):
    error = "invalid_otp_secret"


class KeyNotFound(NotFound):
    error = "key_not_found"


class ProfileNotFound(NotFound):
    error = "key_profile_not_found"


class AccountNotFound(NotFound):
    error = "key_account_not_found"


class TemplateNotFound(NotFound):
    error = "key_template_not_found"


class EmployeeNotFound(NotFound):
    error = "employee_not_found"


class TaskNotFound(NotFound):
    """The driver reported a task done that is not pending for this key (already done?)."""

    error = "key_task_not_found"


class KeyExists(Conflict):
    error = "key_exists"


class EmployeeHasKey(Conflict):
    """One key per employee: this employee already holds one."""

    error = "employee_has_key"


class ConcurrentChange(Conflict):
    """A concurrent change won a race at a unique constraint; this one stored nothing."""

    error = "concurrent_change"


class ProfileInUse(Conflict):
    error = "key_profile_in_use"


class NameTaken(Conflict):
    error = "name_taken"


class KeyStatusForbids(Conflict):
    """The key's status does not allow this action (other than a lifecycle transition)."""

    error = "key_status_forbids"


class UnknownKey(Unauthorized):
    """A key connected whose serial the server never imported."""

    error = "unknown_key"


class KeyCompromised(AccessDenied):
    """The key is marked compromised: every connection is refused, forever."""

    error = "key_compromised"


class WipedByHand(AccessDenied):
    """The key asks to be linked while the server holds its master key: it was wiped by hand."""

    error = "key_wiped_by_hand"


class LinkedToAnotherServer(AccessDenied):
    """The key is linked, but this server holds no master key for it: another server's key."""

    error = "key_linked_elsewhere"


class ActivationCodeWrong(Unauthorized):
    error = "activation_code_wrong"

    def __init__(self, description: str, *, attempts_left: int) -> None:
        super().__init__(description)
        self.attempts_left = attempts_left


class ActivationCodeExpired(Unauthorized):
    error = "activation_code_expired"


class ActivationCodeNotVerified(Conflict):
    """The driver reports a link before the key's activation code was checked."""

    error = "activation_code_not_verified"


class PasswordRefusedByDirectory(InvalidRequest):
    """The user's password for a domain account does not verify against the directory."""

    error = "password_refused_by_directory"


class UnlockRefused(AccessDenied):
    """A key may not unlock a workstation: its employee is deactivated, or the employee has
    no primary account with a password, or the key holds another one."""

    error = "key_unlock_refused"


class KeyLockedByPin(AccessDenied):
    """The key's PIN tries are used up: it locked itself and is Locked (LockedByInvalidPin)."""

    error = "key_locked_by_pin"

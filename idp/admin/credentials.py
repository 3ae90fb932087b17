"""Managing an admin account's sign-in credentials: password, TOTP, recovery codes, the lock.

Behind ``hideez-idp admin-user set-password|totp-enable|totp-disable|recovery-codes|unlock``
(the console's sign-in page uses them, :mod:`idp.admin.signin`). Each is one method that
needs ``admins:write``, is audited (``admin_change`` with the acting admin) and never shows a
secret twice: the TOTP secret and the recovery codes are returned once, when made.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from idp.admin.access import Actor, Permission, PermissionDenied, requires
from idp.admin.accounts import AdminAccountNotFound
from idp.admin.credential_store import AdminCredentialRepository
from idp.admin.records import AdminUser
from idp.admin.signin import (
    SECRET_PURPOSE,
    TOTP_ALGORITHM,
    TOTP_DIGITS,
    TOTP_PERIOD,
    new_recovery_codes,
    recovery_record,
)
from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee
from idp.errors import Conflict
from idp.factors.authenticator.totp import new_secret, provisioning_uri
from idp.factors.password import hash_password
from idp.factors.password_rules import check_new_password
from idp.runtime import Runtime
from idp.secrets import secret_aad
from idp.store.sql.repositories.admins import AdminRepository

#: the issuer authenticator apps show beside the account
TOTP_ISSUER = "Hideez IdP admin"


class TotpAlreadyEnabled(Conflict):
    error = "totp_already_enabled"


class TotpNotEnabled(Conflict):
    error = "totp_not_enabled"


@dataclass(frozen=True)
class TotpEnrolment:
    """Shown once: the secret (32 base32 characters), its ``otpauth://`` URI, the codes."""

    secret: str
    uri: str
    recovery_codes: tuple[str, ...]


@dataclass(frozen=True)
class CredentialState:
    """What may be shown of an admin's credentials (never a secret)."""

    username: str
    password_set_at: dt.datetime | None
    totp_enabled_at: dt.datetime | None
    recovery_codes_left: int
    locked_until: dt.datetime | None


class AdminCredentialsAdmin:
    def __init__(
        self, runtime: Runtime, admins: AdminRepository, store: AdminCredentialRepository
    ) -> None:
        self._rt = runtime
        self._admins = admins
        self._store = store

    def _account(self, username: str) -> tuple[AdminUser, Employee]:
        employee = self._rt.employees.get_by_username(username[:256])
        admin = self._admins.for_employee(employee.id) if employee else None
        if employee is None or admin is None:
            raise AdminAccountNotFound(f"{username[:256]!r} has no admin account")
        return admin, employee

    @requires(Permission.ADMINS_READ)
    def state(self, actor: Actor, username: str) -> CredentialState:
        admin, employee = self._account(username)
        found = self._store.get(admin.id)
        now = self._rt.now()
        return CredentialState(
            username=employee.username,
            password_set_at=found.password_set_at if found else None,
            totp_enabled_at=found.totp_enabled_at if found else None,
            recovery_codes_left=len(found.recovery_codes) if found else 0,
            locked_until=found.locked_until if found and found.locked_at(now) else None,
        )

    @requires(Permission.ADMINS_WRITE)
    def set_password(self, actor: Actor, username: str, password: str) -> None:
        """Check the password rules (length, common, the person's own names), hash, store."""
        admin, employee = self._account(username)
        settings = self._rt.config.passwords
        normal = check_new_password(
            password=password, employee=employee, min_length=settings.min_length
        )
        hashed = hash_password(password=normal, params=self._rt.password_params)
        replaced = self._store.set_password(admin.id, password_hash=hashed, now=self._rt.now())
        self._audit(actor, employee, "admin_password_changed" if replaced else "admin_password_set")

    @requires(Permission.ADMINS_WRITE)
    def enable_totp(self, actor: Actor, username: str) -> TotpEnrolment:
        """A new secret and 10 new recovery codes (refused while TOTP is on: disable first,
        so that a re-enable is a deliberate reset of both)."""
        admin, employee = self._account(username)
        found = self._store.get(admin.id)
        if found is not None and found.totp_enabled:
            raise TotpAlreadyEnabled(
                f"{employee.username} has TOTP already; totp-disable first to reset it"
            )
        secret = new_secret()
        sealed = self._rt.secrets.encrypt(
            secret.encode("ascii"), aad=secret_aad(SECRET_PURPOSE, admin.id)
        )
        codes = new_recovery_codes()
        records = self._recovery_records(admin.id, codes)
        self._store.set_totp(admin.id, sealed=sealed, codes=records, now=self._rt.now())
        self._audit(actor, employee, "admin_totp_enabled")
        uri = provisioning_uri(
            secret=secret, account=employee.username, issuer=TOTP_ISSUER,
            algorithm=TOTP_ALGORITHM, digits=TOTP_DIGITS, period=TOTP_PERIOD,
        )  # fmt: skip
        return TotpEnrolment(secret=secret, uri=uri, recovery_codes=tuple(codes))

    @requires(Permission.ADMINS_WRITE)
    def disable_totp(self, actor: Actor, username: str) -> None:
        admin, employee = self._account(username)
        found = self._store.get(admin.id)
        if found is None or not found.totp_enabled:
            raise TotpNotEnabled(f"{employee.username} has no TOTP to disable")
        self._store.set_totp(admin.id, sealed=None, codes=[], now=self._rt.now())
        self._audit(actor, employee, "admin_totp_disabled")

    @requires(Permission.ADMINS_WRITE)
    def new_recovery_codes(self, actor: Actor, username: str) -> tuple[str, ...]:
        """Replace every recovery code with 10 new ones (the old ones stop working)."""
        admin, employee = self._account(username)
        found = self._store.get(admin.id)
        if found is None or not found.totp_enabled:
            raise TotpNotEnabled(f"{employee.username} has no TOTP; recovery codes come with it")
        codes = new_recovery_codes()
        self._store.set_recovery_codes(admin.id, self._recovery_records(admin.id, codes))
        self._audit(actor, employee, "admin_recovery_codes")
        return tuple(codes)

    def _recovery_records(self, admin_id: str, codes: list[str]) -> list[str]:
        params = self._rt.password_params
        return [recovery_record(admin_id, c, params=params) for c in codes]

    @requires(Permission.ADMINS_WRITE)
    def unlock(self, actor: Actor, username: str) -> bool:
        """Lift the lock of wrong attempts; only *another* admin (or the CLI) may."""
        admin, employee = self._account(username)
        if actor.admin_id == admin.id:
            raise PermissionDenied(
                "another admin must lift your own lock", permission=Permission.ADMINS_WRITE
            )
        was = self._store.unlock(admin.id)
        self._audit(actor, employee, "admin_unlocked")
        return was

    def _audit(self, actor: Actor, employee: Employee, action: str) -> None:
        self._rt.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE, at=self._rt.now(), actor=actor.name,
            employee_id=employee.id, outcome=Outcome.SUCCESS,
            details={"action": action, "username": employee.username},
        )  # fmt: skip

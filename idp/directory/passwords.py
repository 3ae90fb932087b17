"""Domain passwords: the directory's policy, a generator honouring it, resets, user changes and
rotation — written to Active Directory (LDAPS) or Entra ID (Graph), the directory deciding.

The policy is read from the directory (AD domain object: ``minPwdLength``, ``pwdProperties``
bit 1 = complexity, ``minPwdAge``/``maxPwdAge`` in negative 100 ns units, ``pwdHistoryLength``;
Entra ID: its fixed cloud-only policy). It shapes generated passwords and the plain words a
refusal is given in; it never replaces the directory's answer: only a change the directory
accepted is audited as done and handed on as :class:`PasswordChanged` (the Hideez Key side
pushes it to the employee's key as a vault task once the vault exists). A refused change
changes nothing here.

AD specifics (MS-ADTS §3.1.1.3.1.5): an administrator *resets* with one ``replace`` of
``unicodePwd`` (the password in double quotes, UTF-16-LE); a user *changes* with ``delete`` of
the old value and ``add`` of the new one in one modify, bound as themselves, which is when
minimum age and history apply. Both need an encrypted connection.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import ldap3
from ldap3.utils.conv import escape_filter_chars

from idp.audit import AuditEntry, AuditKind, Outcome
from idp.directory.model import Employee
from idp.directory.sync.ldap_source import LdapDirectory, guid_filter_value, guid_text
from idp.errors import IdpError, InvalidRequest
from idp.store.sql.repositories.audit import AuditRepository

_TICKS_PER_SECOND = 10_000_000
#: 1601-01-01, the epoch of AD's FILETIME values (pwdLastSet)
_FILETIME_EPOCH = dt.datetime(1601, 1, 1, tzinfo=dt.UTC)
_SYMBOLS = "!#$%&*+-=?@^_~"
MAX_PASSWORD = 256
GENERATED_LENGTH = 20


class Refusal(StrEnum):
    POLICY = "policy"
    TOO_RECENT = "too_recent"
    HISTORY = "history"
    WRONG_PASSWORD = "wrong_password"
    PROTECTED_ACCOUNT = "protected_account"
    NO_RIGHT = "no_right"
    NOT_LINKED = "not_linked"
    OTHER = "other"


class PasswordRefused(InvalidRequest):
    """The directory refused the password change; nothing was changed here or on the key."""

    error = "password_refused"

    def __init__(self, reason: Refusal, description: str) -> None:
        super().__init__(description)
        self.reason = reason


class PasswordDirectoryError(IdpError):
    """The directory could not be asked (unreachable, or an answer we cannot read)."""

    error = "password_directory_error"
    status = 502


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int
    complexity: bool
    min_age: dt.timedelta
    max_age: dt.timedelta | None
    history: int
    origin: str

    def describe(self) -> str:
        parts = [f"at least {self.min_length} characters"]
        if self.complexity:
            parts.append("three of: upper case, lower case, digits, symbols")
        if self.history:
            parts.append(f"none of the last {self.history} passwords")
        if self.min_age:
            parts.append(f"at most one change per {_duration(self.min_age)}")
        return "; ".join(parts)


#: Entra ID's policy for cloud-only accounts (learn.microsoft.com, "Password policies and
#: account restrictions in Microsoft Entra ID"): 8–256 characters, three of four kinds, no
#: minimum age, the last password not reused; expiry is off by default.
ENTRA_POLICY = PasswordPolicy(8, True, dt.timedelta(0), None, 1, "entra")


@dataclass(frozen=True)
class PasswordChanged:
    """Handed on after the directory accepted a new password: the vault task's input."""

    employee_id: str
    username: str
    source: str
    how: str  # "reset" | "change" | "rotation"
    at: dt.datetime
    password: str = field(repr=False)


class PasswordDirectory(Protocol):
    """What a directory does with passwords (AD: :class:`AdPasswords`; Entra: its Graph one)."""

    source: str

    def policy(self) -> PasswordPolicy: ...

    def reset(self, employee: Employee, password: str) -> None: ...

    def change(self, employee: Employee, old: str, new: str) -> None: ...


def _duration(value: dt.timedelta) -> str:
    """Rounded up to the largest unit it nearly fills: 23 h 59 min is "1 day"."""
    seconds = value.total_seconds()
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size * 0.9:
            count = math.ceil(seconds / size - 0.05)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{math.ceil(seconds)} seconds"


def _interval(raw: str | None) -> dt.timedelta | None:
    """AD intervals are negative 100 ns counts; the minimum value means "never"."""
    if raw is None:
        return None
    ticks = abs(int(raw))
    if ticks == 0 or ticks >= 2**63 - 1:
        return dt.timedelta(0) if ticks == 0 else None
    return dt.timedelta(seconds=ticks / _TICKS_PER_SECOND)


def filetime(raw: str | None) -> dt.datetime | None:
    if raw is None or int(raw) <= 0:
        return None
    return _FILETIME_EPOCH + dt.timedelta(microseconds=int(raw) // 10)


def generate_password(policy: PasswordPolicy, *, length: int | None = None) -> str:
    """A random password the policy accepts: every kind of character, ≥ 20 characters."""
    size = max(length or GENERATED_LENGTH, policy.min_length, 4)
    kinds = (string.ascii_uppercase, string.ascii_lowercase, string.digits, _SYMBOLS)
    chars = [secrets.choice(k) for k in kinds]
    alphabet = "".join(kinds)
    chars += [secrets.choice(alphabet) for _ in range(size - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def check_input(password: str) -> str:
    if not password or len(password) > MAX_PASSWORD or not password.isprintable():
        raise InvalidRequest(
            f"a password must be 1–{MAX_PASSWORD} printable characters, got {len(password)}"
        )
    return password


# -- Active Directory ---------------------------------------------------------------------------


class AdPasswords:
    """Passwords in AD over the source's LDAPS connection (the service account resets)."""

    def __init__(self, directory: LdapDirectory, *, clock: Callable[[], dt.datetime]) -> None:
        self.directory = directory
        self.source = directory.settings.name
        self._clock = clock
        self._policy: PasswordPolicy | None = None

    def policy(self) -> PasswordPolicy:
        if self._policy is None:
            attrs = ["minPwdLength", "pwdProperties", "minPwdAge", "maxPwdAge", "pwdHistoryLength"]
            found = self.read(self.directory.settings.base_dn, "(objectClass=domain)", attrs)
            if found is None:
                raise PasswordDirectoryError("the domain object (password policy) is not readable")
            self._policy = PasswordPolicy(
                min_length=int(found.get("minPwdLength") or 0),
                complexity=bool(int(found.get("pwdProperties") or 0) & 1),
                min_age=_interval(found.get("minPwdAge")) or dt.timedelta(0),
                max_age=_interval(found.get("maxPwdAge")),
                history=int(found.get("pwdHistoryLength") or 0),
                origin="ad",
            )
        return self._policy

    def read(
        self, base: str, query: str, attributes: list[str], scope: str = ldap3.BASE
    ) -> dict[str, str] | None:
        """The first entry's attributes as text (and its ``dn``), or None."""
        conn = self.directory.conn
        conn.search(base, query, search_scope=scope, attributes=attributes)
        entries = [e for e in conn.response or () if e.get("type") == "searchResEntry"]
        if not entries:
            return None
        raw = entries[0]["raw_attributes"]
        values = {k: v[0].decode("utf-8", "replace") for k, v in raw.items() if v}
        values["dn"] = str(entries[0]["dn"])
        return values

    def account(self, employee: Employee) -> dict[str, str]:
        """The employee's AD account: by objectGUID, else by sAMAccountName (both escaped)."""
        if employee.ad_object_guid:
            query = f"(objectGUID={guid_filter_value(employee.ad_object_guid)})"
        else:
            query = (
                f"(&(objectClass=user)(sAMAccountName={escape_filter_chars(employee.username)}))"
            )
        found = self.read(
            self.directory.settings.base_dn,
            query,
            ["adminCount", "pwdLastSet", "userPrincipalName", "sAMAccountName"],
            scope=ldap3.SUBTREE,
        )
        if found is None:
            raise PasswordRefused(
                Refusal.NOT_LINKED, f"{employee.username} has no account in {self.source}"
            )
        return found

    def reset(self, employee: Employee, password: str) -> None:
        account = self.account(employee)
        conn = self.directory.conn
        ok = conn.modify(
            account["dn"], {"unicodePwd": [(ldap3.MODIFY_REPLACE, [_encoded(password)])]}
        )
        if not ok:
            raise self._refusal(conn.result, account)

    def change(self, employee: Employee, old: str, new: str) -> None:
        account = self.account(employee)
        principal = account.get("userPrincipalName") or account["dn"]
        try:
            conn = self.directory.bind(principal, old)
        except IdpError as exc:
            raise PasswordRefused(
                Refusal.WRONG_PASSWORD, f"the current password was not accepted: {exc.description}"
            ) from None
        try:
            changes = {
                "unicodePwd": [
                    (ldap3.MODIFY_DELETE, [_encoded(old)]),
                    (ldap3.MODIFY_ADD, [_encoded(new)]),
                ]
            }
            if not conn.modify(account["dn"], changes):
                raise self._refusal(conn.result, account)
        finally:
            conn.unbind()

    def _refusal(self, result: Mapping[str, object], account: Mapping[str, str]) -> PasswordRefused:
        """Samba and AD put the reason after the extended error code (``0000052D: …``)."""
        message = str(result.get("message") or "")
        code = str(result.get("description") or "")
        policy = self.policy()
        if "0000052D" in message.upper():
            text = message.lower()
            if "too young" in text or "too recently" in text:
                return PasswordRefused(Refusal.TOO_RECENT, self._too_recent(policy, account))
            if "history" in text:
                return PasswordRefused(
                    Refusal.HISTORY,
                    "does not meet the password policy: "
                    f"it is one of the last {policy.history} passwords",
                )
            return PasswordRefused(
                Refusal.POLICY, "does not meet the password policy: " + policy.describe()
            )
        if "00000056" in message:
            return PasswordRefused(Refusal.WRONG_PASSWORD, "the current password is wrong")
        if code == "insufficientAccessRights":
            if account.get("adminCount") == "1":
                return PasswordRefused(
                    Refusal.PROTECTED_ACCOUNT,
                    f"{account.get('sAMAccountName')} is a protected administrator account "
                    "(AdminSDHolder): a delegated service account may not reset its password",
                )
            return PasswordRefused(
                Refusal.NO_RIGHT,
                "the service account has no right to reset "
                f"the password of {account.get('sAMAccountName')}",
            )
        return PasswordRefused(
            Refusal.OTHER, f"the directory refused the password: {code}: {message}"
        )

    def _too_recent(self, policy: PasswordPolicy, account: Mapping[str, str]) -> str:
        last = filetime(account.get("pwdLastSet"))
        wait = policy.min_age
        if last is not None:
            wait = max(policy.min_age - (self._clock() - last), dt.timedelta(minutes=1))
        return f"changed too recently: wait {_duration(wait)}"

    def rotation_due(self, group: str, max_age: dt.timedelta) -> list[str]:
        """objectGUIDs of the rotation group's enabled members whose password is older."""
        group_dn = self.directory.group_dn(group)
        if group_dn is None:
            raise PasswordDirectoryError(f"the rotation group {group!r} does not exist")
        cutoff = self._clock() - max_age
        ticks = int((cutoff - _FILETIME_EPOCH).total_seconds() * _TICKS_PER_SECOND)
        query = (
            f"(&(objectCategory=person)(objectClass=user)(memberOf={escape_filter_chars(group_dn)})"
            f"(pwdLastSet<={ticks})(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
        )
        due: list[str] = []
        for page in self.directory.pages(query, attributes=["objectGUID"]):
            due.extend(guid_text(e["raw_attributes"]["objectGUID"][0]) for e in page)  # type: ignore[index]
        return due


def _encoded(password: str) -> bytes:
    return f'"{password}"'.encode("utf-16-le")


# -- the three actions, audited -----------------------------------------------------------------


def _audit(
    audit: AuditRepository,
    *,
    kind: AuditKind,
    employee: Employee,
    actor: str,
    source: str,
    how: str,
    now: dt.datetime,
    refused: PasswordRefused | None,
) -> None:
    audit.append(
        AuditEntry(
            at=now,
            kind=kind,
            actor=actor,
            employee_id=employee.id,
            outcome=Outcome.FAILURE if refused else Outcome.SUCCESS,
            reason=refused.reason.value if refused else None,
            details={
                "username": employee.username,
                "source": source,
                "how": how,
                **({"refusal": refused.description[:500]} if refused else {}),
            },
        )
    )


def reset_password(
    *,
    directory: PasswordDirectory,
    employee: Employee,
    audit: AuditRepository,
    actor: str,
    now: dt.datetime,
    password: str | None = None,
    how: str = "reset",
) -> PasswordChanged:
    """Set a new password as the administrator (generated when ``password`` is None)."""
    new = check_input(password) if password is not None else generate_password(directory.policy())
    try:
        directory.reset(employee, new)
    except PasswordRefused as refused:
        _audit(
            audit,
            kind=AuditKind.PASSWORD_SET,
            employee=employee,
            actor=actor,
            source=directory.source,
            how=how,
            now=now,
            refused=refused,
        )
        raise
    _audit(
        audit,
        kind=AuditKind.PASSWORD_SET,
        employee=employee,
        actor=actor,
        source=directory.source,
        how=how,
        now=now,
        refused=None,
    )
    return PasswordChanged(employee.id, employee.username, directory.source, how, now, new)


def change_password(
    *,
    directory: PasswordDirectory,
    employee: Employee,
    audit: AuditRepository,
    old: str,
    new: str,
    now: dt.datetime,
) -> PasswordChanged:
    """The employee's own change: the directory checks the old password, age and history."""
    check_input(old)
    check_input(new)
    try:
        directory.change(employee, old, new)
    except PasswordRefused as refused:
        _audit(
            audit,
            kind=AuditKind.PASSWORD_CHANGED,
            employee=employee,
            actor=employee.id,
            source=directory.source,
            how="change",
            now=now,
            refused=refused,
        )
        raise
    _audit(
        audit,
        kind=AuditKind.PASSWORD_CHANGED,
        employee=employee,
        actor=employee.id,
        source=directory.source,
        how="change",
        now=now,
        refused=None,
    )
    return PasswordChanged(employee.id, employee.username, directory.source, "change", now, new)


@dataclass(frozen=True)
class RotationResult:
    changed: tuple[PasswordChanged, ...]
    refused: tuple[tuple[str, str], ...]  # (username, why)


def rotate_passwords(
    *,
    directory: AdPasswords,
    by_guid: Callable[[str], Employee | None],
    group: str,
    max_age: dt.timedelta,
    audit: AuditRepository,
    now: dt.datetime,
) -> RotationResult:
    """A fresh generated password for every due member of the rotation group we know."""
    changed: list[PasswordChanged] = []
    refused: list[tuple[str, str]] = []
    for guid in directory.rotation_due(group, max_age):
        employee = by_guid(guid)
        if employee is None:
            continue  # not imported here: nobody would receive the new password
        try:
            changed.append(
                reset_password(
                    directory=directory,
                    employee=employee,
                    audit=audit,
                    actor="system:rotation",
                    now=now,
                    how="rotation",
                )
            )
        except PasswordRefused as exc:
            refused.append((employee.username, exc.description))
    return RotationResult(tuple(changed), tuple(refused))

"""Administrative changes to employees, one function per action.

The CLI calls these today; the REST API and the console will call the same functions. Every
input is checked before anything is stored (a bad value changes nothing), and every change is
an audit event naming the employee and the fields changed. Directory identifiers and external
ids are not secrets, so their new values go into the audit details; names, e-mail and phone
are personal data, so only that they changed is recorded.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from idp.audit import AuditEntry, AuditKind, Outcome
from idp.directory.model import Employee, SsoMode
from idp.errors import Conflict, InvalidRequest, NotFound
from idp.store.sql.repositories.audit import AuditRepository
from idp.store.sql.repositories.employees import EmployeeRepository
from idp.store.sql.repositories.passwords import PasswordRepository

USERNAME = _USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}")
EMAIL = _EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
_PHONE = re.compile(r"\+?[0-9][0-9 ().-]{2,30}")
GUID = _GUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_SID = re.compile(r"S-1-[0-9]{1,14}(-[0-9]{1,10}){1,15}")
_UPN = re.compile(r"[^@\s]{1,113}@[^@\s.]+(\.[^@\s.]+)+")
_EXTERNAL_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: external id names the attribute vocabulary reads from dedicated fields instead
_BUILTIN_IDS = {
    "ad_object_guid": "--ad-object-guid",
    "ad_object_sid": "--ad-object-sid",
    "entra_object_id": "--entra-object-id",
}
_MAX_NAME = 100
_MAX_EXTERNAL_VALUE = 512
#: fields whose new value is written into the audit details (identifiers, not secrets)
_AUDITED_VALUES = frozenset(
    {"sso_mode", "enabled", "entra_object_id", "entra_tenant_id", "ad_object_guid", "ad_object_sid"}
)


class InvalidEmployeeInput(InvalidRequest):
    """An administrative input about an employee is malformed; nothing was stored."""

    error = "invalid_employee_input"


class DirectoryOwnedField(InvalidRequest):
    """The employee was imported from a directory, which owns the field; nothing was stored."""

    error = "directory_owned_field"


#: fields the directory always owns for an imported employee (its identifiers)
_DIRECTORY_IDS = frozenset(
    {"ad_object_guid", "ad_object_sid", "entra_object_id", "entra_tenant_id", "external_ids.upn"}
)


class EmployeeNotFound(NotFound):
    """No employee has the username an administrative action names."""

    error = "employee_not_found"


@dataclass(frozen=True)
class EmployeeChanges:
    """Checked values to set. ``None`` leaves a field alone; ``""`` clears an optional one
    (phone, directory ids) and, in ``external_ids``, removes that id."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    entra_object_id: str | None = None
    entra_tenant_id: str | None = None
    ad_object_guid: str | None = None
    ad_object_sid: str | None = None
    external_ids: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    sso_mode: SsoMode | None = None
    enabled: bool | None = None


@dataclass(frozen=True)
class EmployeeChange:
    """The employee as stored after the action, and which fields it changed (sorted)."""

    employee: Employee
    fields: tuple[str, ...]


def check_changes(
    *,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    phone: str | None = None,
    entra_object_id: str | None = None,
    entra_tenant_id: str | None = None,
    ad_object_guid: str | None = None,
    ad_object_sid: str | None = None,
    upn: str | None = None,
    external_ids: Sequence[str] = (),
    sso_mode: str | None = None,
    enabled: bool | None = None,
) -> EmployeeChanges:
    """Check raw inputs (as typed by an admin) into :class:`EmployeeChanges`.

    ``external_ids`` are ``NAME=VALUE`` items (``NAME=`` removes); ``upn`` is stored as the
    external id ``upn``, which WS-Fed's ``upn`` claim reads. Raises
    :class:`InvalidEmployeeInput` naming the option, what was expected and what arrived.
    """
    ids = _external_ids(external_ids)
    if upn is not None:
        ids["upn"] = _match(upn, _UPN, "--upn", "a user principal name like alice@corp.example")
    sso = None
    if sso_mode is not None:
        choices = ", ".join(m.value for m in SsoMode)
        sso = SsoMode(_choice(sso_mode, [m.value for m in SsoMode], "--sso-mode", choices))
    return EmployeeChanges(
        email=_opt(email, _EMAIL, "--email", "an e-mail address like alice@example.com", True),
        first_name=_name(first_name, "--first-name"),
        last_name=_name(last_name, "--last-name"),
        phone=_opt(phone, _PHONE, "--phone", "a phone number like +44 20 7946 0958"),
        entra_object_id=_guid(entra_object_id, "--entra-object-id"),
        entra_tenant_id=_guid(entra_tenant_id, "--entra-tenant-id"),
        ad_object_guid=_guid(ad_object_guid, "--ad-object-guid"),
        ad_object_sid=_opt(ad_object_sid, _SID, "--ad-object-sid", "a SID like S-1-5-21-…-1105"),
        external_ids=MappingProxyType(ids),
        sso_mode=sso,
        enabled=enabled,
    )


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username):
        raise InvalidEmployeeInput(
            f"username: expected 1-128 of A-Z a-z 0-9 . _ @ - (starting with a letter or "
            f"digit), got {username!r}"
        )
    return username


def create_employee(
    *,
    employees: EmployeeRepository,
    audit: AuditRepository,
    username: str,
    changes: EmployeeChanges,
    actor: str,
    now: dt.datetime,
) -> EmployeeChange:
    """Add an employee (``changes.email`` is required) and audit ``employee_created``."""
    check_username(username)
    if not changes.email:
        raise InvalidEmployeeInput("--email: an e-mail address is required for a new employee")
    blank = Employee(id=secrets.token_hex(8), username=username, email="", first_name="",
                     last_name="")  # fmt: skip
    employee, fields = _apply(blank, changes)
    stored = employees.add(employee, now=now)
    audit.append(_entry(AuditKind.EMPLOYEE_CREATED, stored, fields, actor=actor, now=now))
    return EmployeeChange(stored, fields)


def update_employee(
    *,
    employees: EmployeeRepository,
    audit: AuditRepository,
    username: str,
    changes: EmployeeChanges,
    actor: str,
    now: dt.datetime,
    passwords: PasswordRepository | None = None,
    directory_owned: Callable[[str], tuple[str, frozenset[str]] | None] | None = None,
) -> EmployeeChange:
    """Apply ``changes`` to the employee ``username``; audit what changed (nothing: no event).

    A switch of ``enabled`` is audited as ``employee_enabled``/``employee_disabled``, every
    other field as one ``employee_updated`` event. Leaving the two-factor SSO mode removes
    the employee's password (from ``passwords``): it would never be asked for again, and a
    later return to two-factor mode starts from a new enrolment link. For an employee imported
    from a directory (``directory_owned`` gives its source and owned fields), changing a field
    the directory owns is refused.
    """
    current = find_employee(employees, username)
    employee, fields = _apply(current, changes)
    if not fields:
        return EmployeeChange(current, ())
    owner = directory_owned(current.id) if directory_owned is not None else None
    if owner is not None:
        source, owned = owner
        refused = sorted(f for f in fields if f in owned or f in _DIRECTORY_IDS)
        if refused:
            raise DirectoryOwnedField(
                f"{username} is imported from directory source {source!r}, which owns "
                f"{', '.join(refused)}: change it there"
            )
    stored = employees.update(employee)
    entries = []
    others = tuple(f for f in fields if f != "enabled")
    if others:
        entries.append(_entry(AuditKind.EMPLOYEE_UPDATED, stored, others, actor=actor, now=now))
    if "enabled" in fields:
        kind = AuditKind.EMPLOYEE_ENABLED if stored.enabled else AuditKind.EMPLOYEE_DISABLED
        entries.append(_entry(kind, stored, ("enabled",), actor=actor, now=now))
    left_two_factor = (
        current.sso_mode is SsoMode.TWO_FACTOR and stored.sso_mode is not SsoMode.TWO_FACTOR
    )
    if left_two_factor and passwords is not None and passwords.clear(stored.id):
        entries.append(
            _entry(AuditKind.PASSWORD_REMOVED, stored, ("password",), actor=actor, now=now)
        )
    audit.append_many(entries)
    return EmployeeChange(stored, fields)


def find_employee(employees: EmployeeRepository, username: str) -> Employee:
    employee = employees.get_by_username(username)
    if employee is None:
        raise EmployeeNotFound(f"no employee with username {username!r}")
    return employee


def _apply(employee: Employee, changes: EmployeeChanges) -> tuple[Employee, tuple[str, ...]]:
    updates: dict[str, object] = {}
    for name in ("email", "first_name", "last_name", "sso_mode", "enabled"):
        value = getattr(changes, name)
        if value is not None and value != getattr(employee, name):
            updates[name] = value
    for name in ("phone", "entra_object_id", "entra_tenant_id", "ad_object_guid", "ad_object_sid"):
        value = getattr(changes, name)
        if value is not None and (value or None) != getattr(employee, name):
            updates[name] = value or None
    ids = dict(employee.external_ids)
    changed_ids = []
    for name, value in changes.external_ids.items():
        if ids.get(name) != (value or None):
            changed_ids.append(f"external_ids.{name}")
            if value:
                ids[name] = value
            else:
                ids.pop(name, None)
    if changed_ids:
        updates["external_ids"] = ids
    fields = sorted([n for n in updates if n != "external_ids"] + changed_ids)
    return dataclasses.replace(employee, **updates), tuple(fields)  # type: ignore[arg-type]


def _entry(
    kind: AuditKind,
    employee: Employee,
    fields: tuple[str, ...],
    *,
    actor: str,
    now: dt.datetime,
) -> AuditEntry:
    details = {"username": employee.username, "fields": ",".join(fields)}
    for name in fields:
        if name.startswith("external_ids."):
            details[name] = employee.external_ids.get(name.removeprefix("external_ids."), "")
        elif name in _AUDITED_VALUES:
            details[name] = str(getattr(employee, name) or "")
    return AuditEntry(at=now, kind=kind, actor=actor, employee_id=employee.id,
                      outcome=Outcome.SUCCESS, details=details)  # fmt: skip


def _external_ids(items: Sequence[str]) -> dict[str, str]:
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidEmployeeInput(f"--external-id: expected NAME=VALUE, got {item!r}")
        if not _EXTERNAL_NAME.fullmatch(name):
            raise InvalidEmployeeInput(
                f"--external-id: NAME must be 1-64 of a-z 0-9 _ starting with a letter, "
                f"got {name!r}"
            )
        if name in _BUILTIN_IDS:
            raise InvalidEmployeeInput(
                f"--external-id: {name!r} has its own option; use {_BUILTIN_IDS[name]}"
            )
        if len(value) > _MAX_EXTERNAL_VALUE or not value.isprintable():
            raise InvalidEmployeeInput(
                f"--external-id {name}: expected at most {_MAX_EXTERNAL_VALUE} printable "
                f"characters, got {len(value)} characters"
                + ("" if value.isprintable() else " with control characters")
            )
        if name in result:
            raise InvalidEmployeeInput(f"--external-id: {name!r} is given twice")
        result[name] = value
    return result


def _opt(
    value: str | None, pattern: re.Pattern[str], option: str, expected: str, required: bool = False
) -> str | None:
    if value is None or (value == "" and not required):
        return value
    return _match(value, pattern, option, expected)


def _match(value: str, pattern: re.Pattern[str], option: str, expected: str) -> str:
    if not pattern.fullmatch(value):
        raise InvalidEmployeeInput(f"{option}: expected {expected}, got {value!r}")
    return value


def _guid(value: str | None, option: str) -> str | None:
    checked = _opt(value, _GUID, option, "a GUID like 00000000-0000-0000-0000-000000000000")
    return checked.lower() if checked else checked


def _name(value: str | None, option: str) -> str | None:
    if value is None:
        return None
    if len(value) > _MAX_NAME or not value.isprintable():
        raise InvalidEmployeeInput(
            f"{option}: expected at most {_MAX_NAME} printable characters, got {value!r}"
        )
    return value.strip()


def _choice(value: str, choices: list[str], option: str, listed: str) -> str:
    if value not in choices:
        raise InvalidEmployeeInput(f"{option}: expected one of {listed}, got {value!r}")
    return value


class EmployeeIsAdmin(Conflict):
    """The employee has an admin account; it must be removed before the employee is."""

    error = "employee_is_admin"


def delete_employee(
    *,
    employees: EmployeeRepository,
    audit: AuditRepository,
    employee: Employee,
    actor: str,
    now: dt.datetime,
) -> None:
    """Delete the employee with every factor and link (the store cascades) and audit it.

    The caller ends their sessions and checks that no admin account is theirs first.
    """
    employees.delete(employee.id)
    audit.append(_entry(AuditKind.EMPLOYEE_DELETED, employee, ("username",), actor=actor, now=now))

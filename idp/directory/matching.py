"""Which employee an upstream identity stands for: one attribute, one directory key.

A proxy (SATOSA) receives a subject from another identity provider and must find the employee
whose factors count for it. The match is exact on one configured key; none or several matches
are errors that say which values were looked up, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Protocol

from idp.directory.model import Employee
from idp.errors import AccessDenied

MAX_VALUES = 16
MAX_VALUE_LEN = 256


class MatchBy(StrEnum):
    USERNAME = "username"
    EMAIL = "email"
    #: eduPersonPrincipalName / SAML subject-id ``user@scope``: the username within one scope
    SCOPED_USERNAME = "scoped_username"
    AD_OBJECT_GUID = "ad_object_guid"
    ENTRA_OBJECT_ID = "entra_object_id"


class EmployeeLookup(Protocol):
    def get_by_username(self, username: str) -> Employee | None: ...

    def get_by_email(self, email: str) -> Employee | None: ...

    def get_by_ad_object_guid(self, guid: str) -> Employee | None: ...

    def get_by_entra_object_id(self, object_id: str) -> Employee | None: ...


class NoEmployeeMatched(AccessDenied):
    error = "unknown_employee"


class SeveralEmployeesMatched(AccessDenied):
    error = "ambiguous_employee"


def match_employee(
    *, employees: EmployeeLookup, by: MatchBy, values: Sequence[str], scope: str | None = None
) -> Employee:
    """The one employee whose ``by`` key equals one of ``values`` (an upstream attribute)."""
    wanted = [v.strip() for v in values[:MAX_VALUES] if v.strip()]
    if not wanted:
        raise NoEmployeeMatched(f"the identity provider sent no value to match an {by.value} by")
    if any(len(v) > MAX_VALUE_LEN for v in wanted):
        raise NoEmployeeMatched(f"a value to match by {by.value} is longer than {MAX_VALUE_LEN}")
    found: dict[str, Employee] = {}
    for value in wanted:
        employee = _lookup(employees, by, value, scope)
        if employee is not None:
            found[employee.id] = employee
    shown = ", ".join(repr(v) for v in wanted)
    if not found:
        raise NoEmployeeMatched(f"no employee has the {by.value} {shown}; ask your administrator")
    if len(found) > 1:
        names = ", ".join(sorted(e.username for e in found.values()))
        raise SeveralEmployeesMatched(
            f"the {by.value} values {shown} belong to several employees ({names}); "
            "ask your administrator"
        )
    return next(iter(found.values()))


def _lookup(
    employees: EmployeeLookup, by: MatchBy, value: str, scope: str | None
) -> Employee | None:
    if by is MatchBy.USERNAME:
        return employees.get_by_username(value)
    if by is MatchBy.EMAIL:
        return employees.get_by_email(value)
    if by is MatchBy.SCOPED_USERNAME:
        user, at, given_scope = value.rpartition("@")
        if not at or not user or scope is None or given_scope.lower() != scope.lower():
            return None
        return employees.get_by_username(user)
    if by is MatchBy.AD_OBJECT_GUID:
        return employees.get_by_ad_object_guid(value)
    return employees.get_by_entra_object_id(value)

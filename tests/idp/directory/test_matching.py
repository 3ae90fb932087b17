"""Upstream identity → employee: one exact key, clear errors for none and for several."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.directory.matching import (
    MatchBy,
    NoEmployeeMatched,
    SeveralEmployeesMatched,
    match_employee,
)
from idp.directory.model import Employee
from idp.store.sql import Database, EmployeeRepository

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def employees(sqlite_db: Database) -> EmployeeRepository:
    repo = EmployeeRepository(sqlite_db)
    for n, name in enumerate(("alice", "bob")):
        repo.add(
            Employee(
                id=f"e{n}",
                username=name,
                email=f"{name}@example.com",
                first_name=name.title(),
                last_name="X",
                ad_object_guid=f"guid-{name}",
                entra_object_id=f"oid-{name}",
            ),
            now=NOW,
        )
    return repo


@pytest.mark.parametrize(
    ("by", "value", "scope"),
    [
        (MatchBy.USERNAME, "ALICE", None),
        (MatchBy.EMAIL, " alice@example.com ", None),
        (MatchBy.SCOPED_USERNAME, "alice@Example.org", "example.org"),
        (MatchBy.AD_OBJECT_GUID, "guid-alice", None),
        (MatchBy.ENTRA_OBJECT_ID, "oid-alice", None),
    ],
)
def test_each_key_finds_the_one_employee(
    employees: EmployeeRepository, by: MatchBy, value: str, scope: str | None
) -> None:
    assert match_employee(employees=employees, by=by, values=[value], scope=scope).id == "e0"


def test_a_scoped_name_from_another_scope_matches_nobody(employees: EmployeeRepository) -> None:
    with pytest.raises(NoEmployeeMatched, match=r"'alice@evil\.example'"):
        match_employee(
            employees=employees,
            by=MatchBy.SCOPED_USERNAME,
            values=["alice@evil.example"],
            scope="example.org",
        )


def test_no_value_and_no_match_say_what_was_looked_up(employees: EmployeeRepository) -> None:
    with pytest.raises(NoEmployeeMatched, match="sent no value"):
        match_employee(employees=employees, by=MatchBy.EMAIL, values=["", "  "])
    with pytest.raises(NoEmployeeMatched, match=r"'carol@example\.com'"):
        match_employee(employees=employees, by=MatchBy.EMAIL, values=["carol@example.com"])
    with pytest.raises(NoEmployeeMatched, match="longer than"):
        match_employee(employees=employees, by=MatchBy.EMAIL, values=["a" * 300])


def test_values_of_several_employees_are_refused_with_their_names(
    employees: EmployeeRepository,
) -> None:
    with pytest.raises(SeveralEmployeesMatched, match=r"\(alice, bob\)") as caught:
        match_employee(employees=employees, by=MatchBy.USERNAME, values=["alice", "bob", "nobody"])
    assert caught.value.status == 403
    # Two values naming one employee are one match.
    both = match_employee(employees=employees, by=MatchBy.USERNAME, values=["alice", "Alice"])
    assert both.id == "e0"

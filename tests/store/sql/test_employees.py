"""EmployeeRepository and OrganisationRepository on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from idp.directory.model import Company, Department, Group, Position, SsoMode
from idp.store.sql import Database
from idp.store.sql.repositories import (
    DuplicateEmployee,
    DuplicateOrganisationUnit,
    EmployeeNotFound,
    EmployeeRepository,
    EnrolmentRepository,
    OrganisationRepository,
    PasskeyRepository,
    UnknownCompany,
    UnknownGroup,
)

from .helpers import NOW, employee, passkey


@pytest.fixture
def repo(db: Database) -> EmployeeRepository:
    return EmployeeRepository(db)


@pytest.fixture
def org(db: Database) -> OrganisationRepository:
    org = OrganisationRepository(db)
    org.add_company(Company("c1", "Acme"))
    org.add_department(Department("d1", "Finance", "c1"))
    org.add_position(Position("p1", "Accountant"))
    org.add_group(Group("g1", "Hideez Users Sync", "synced", "sync@example.com"))
    org.add_group(Group("g2", "Admins"))
    return org


def test_add_and_get_every_field(repo: EmployeeRepository, org: OrganisationRepository) -> None:
    full = employee(
        1,
        enabled=False,
        sso_mode=SsoMode.TWO_FACTOR,
        phone="+380 44 000 0000",
        company_id="c1",
        department_id="d1",
        position_id="p1",
        ad_object_guid="2f8c5d4e-0000-4000-8000-000000000001",
        ad_object_sid="S-1-5-21-1-2-3-1104",
        entra_object_id="11111111-2222-3333-4444-555555555555",
        entra_tenant_id="tenant",
        external_ids={"github": "octo", "nameid": "ü-42"},
        groups=("g2", "g1"),
    )
    stored = repo.add(full, now=NOW)
    assert stored.created_at == NOW
    assert stored.department == "Finance"  # the name, from the org structure
    assert stored.groups == ("g1", "g2")
    fetched = repo.get("emp-1")
    assert fetched == stored
    assert fetched is not None and fetched.created_at is not None
    assert fetched.created_at.tzinfo is not None and fetched.created_at == NOW


def test_the_department_name_is_read_with_the_employee(
    repo: EmployeeRepository, org: OrganisationRepository
) -> None:
    org.add_department(Department("d2", "Sales", "c1"))
    repo.add(employee(1, department_id="d1"), now=NOW)
    repo.add(employee(2, department_id="d2"), now=NOW)
    repo.add(employee(3), now=NOW)
    assert [e.department for e in repo.list().items] == ["Finance", "Sales", None]
    moved = repo.update(dataclasses.replace(repo.get("emp-1"), department_id="d2"))  # type: ignore[type-var]
    assert moved.department == "Sales"
    assert repo.get_by_username("user1").department == "Sales"  # type: ignore[union-attr]
    assert repo.set_enabled("emp-3", False).department is None


def test_get_missing_is_none(repo: EmployeeRepository) -> None:
    assert repo.get("nobody") is None
    assert repo.get_by_username("nobody") is None
    assert repo.get_by_email("nobody@example.com") is None


def test_lookups_are_case_insensitive(repo: EmployeeRepository) -> None:
    repo.add(employee(1, ad_object_guid="g-1", entra_object_id="o-1"), now=NOW)
    assert repo.get_by_email("user1@EXAMPLE.COM") is not None
    assert repo.get_by_email("  User1@example.com ") is not None
    assert repo.get_by_username("user1") is not None
    assert repo.get_by_ad_object_guid("g-1") is not None
    assert repo.get_by_entra_object_id("o-1") is not None
    assert repo.get_by_entra_object_id("o-2") is None


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"id": "emp-1"}, "id"),
        ({"username": "USER1"}, "username"),
        ({"email": "user1@example.COM"}, "email"),
        ({"ad_object_guid": "g-1"}, "ad_object_guid"),
        ({"entra_object_id": "o-1"}, "entra_object_id"),
    ],
)
def test_duplicates_refused(repo: EmployeeRepository, changes: dict[str, str], field: str) -> None:
    repo.add(employee(1, ad_object_guid="g-1", entra_object_id="o-1"), now=NOW)
    with pytest.raises(DuplicateEmployee, match=field) as info:
        repo.add(employee(2, **changes), now=NOW)
    assert info.value.status == 409
    assert repo.list().total == 1


def test_unknown_group_refused_and_nothing_stored(repo: EmployeeRepository) -> None:
    with pytest.raises(UnknownGroup, match="nope"):
        repo.add(employee(1, groups=("nope",)), now=NOW)
    assert repo.get("emp-1") is None


def test_update_replaces_fields_and_groups(
    repo: EmployeeRepository, org: OrganisationRepository
) -> None:
    repo.add(employee(1, groups=("g1",)), now=NOW)
    changed = dataclasses.replace(
        repo.get("emp-1"), email="new@example.com", groups=("g2",), external_ids={"a": "b"}
    )  # type: ignore[type-var]
    updated = repo.update(changed)
    assert updated.email == "new@example.com" and updated.groups == ("g2",)
    assert repo.get_by_email("NEW@example.com") == updated
    assert repo.get_by_email("user1@example.com") is None


def test_update_conflict_and_missing(repo: EmployeeRepository) -> None:
    repo.add(employee(1), now=NOW)
    repo.add(employee(2), now=NOW)
    with pytest.raises(DuplicateEmployee, match="email"):
        repo.update(employee(2, email="USER1@example.com"))
    with pytest.raises(EmployeeNotFound):
        repo.update(employee(3))


def test_set_enabled(repo: EmployeeRepository) -> None:
    repo.add(employee(1), now=NOW)
    assert repo.set_enabled("emp-1", False).enabled is False
    assert repo.get("emp-1").enabled is False  # type: ignore[union-attr]
    assert repo.set_enabled("emp-1", True).can_sign_in
    with pytest.raises(EmployeeNotFound):
        repo.set_enabled("nobody", True)


def test_delete_cascades_factors_links_memberships(
    db: Database, repo: EmployeeRepository, org: OrganisationRepository
) -> None:
    repo.add(employee(1, groups=("g1",)), now=NOW)
    PasskeyRepository(db).add(passkey())
    EnrolmentRepository(db).create(employee_id="emp-1", created_by="admin", now=NOW)
    repo.delete("emp-1")
    assert repo.get("emp-1") is None
    assert PasskeyRepository(db).get("cred-1") is None
    assert EnrolmentRepository(db).list_for_employee("emp-1") == ()
    assert org.get_group("g1") is not None  # the group stays
    with pytest.raises(EmployeeNotFound):
        repo.delete("emp-1")


def test_list_pages_and_filters(repo: EmployeeRepository) -> None:
    for n in range(1, 13):
        repo.add(employee(n, last_name="Smith" if n % 3 == 0 else f"Last{n}"), now=NOW)
    page = repo.list(offset=0, limit=5)
    assert page.total == 12 and len(page.items) == 5
    assert [e.username for e in page.items] == sorted(e.username for e in page.items)
    rest = repo.list(offset=10, limit=5)
    assert len(rest.items) == 2
    smiths = repo.list(text="SMITH")
    assert smiths.total == 4
    assert repo.list(text="user1").total == 4  # user1, user10, user11, user12
    assert repo.list(text="100%").total == 0
    assert repo.list(text="_").total == 0  # LIKE wildcards are taken literally


@pytest.mark.parametrize("offset,limit", [(-1, 10), (0, 0), (0, 501)])
def test_list_bad_paging(repo: EmployeeRepository, offset: int, limit: int) -> None:
    with pytest.raises(ValueError):
        repo.list(offset=offset, limit=limit)


def test_group_membership(repo: EmployeeRepository, org: OrganisationRepository) -> None:
    repo.add(employee(1), now=NOW)
    repo.add_to_group("emp-1", "g2")
    repo.add_to_group("emp-1", "g1")
    repo.add_to_group("emp-1", "g1")  # idempotent
    assert [g.name for g in repo.groups("emp-1")] == ["Admins", "Hideez Users Sync"]
    assert repo.get("emp-1").groups == ("g1", "g2")  # type: ignore[union-attr]
    repo.remove_from_group("emp-1", "g2")
    assert [g.id for g in repo.groups("emp-1")] == ["g1"]
    with pytest.raises(UnknownGroup):
        repo.add_to_group("emp-1", "nope")
    with pytest.raises(EmployeeNotFound):
        repo.add_to_group("nobody", "g1")


def test_organisation_units(org: OrganisationRepository) -> None:
    assert org.get_company("c1") == Company("c1", "Acme")
    assert org.list_departments(company_id="c1") == (Department("d1", "Finance", "c1"),)
    assert org.list_departments(company_id="other") == ()
    assert org.get_position("p1") == Position("p1", "Accountant")
    assert org.get_group("g1") == Group("g1", "Hideez Users Sync", "synced", "sync@example.com")
    assert [g.id for g in org.list_groups()] == ["g2", "g1"]
    assert org.list_companies() == (Company("c1", "Acme"),)
    assert org.list_positions() == (Position("p1", "Accountant"),)
    assert org.get_company("nope") is None and org.get_department("nope") is None
    with pytest.raises(DuplicateOrganisationUnit):
        org.add_company(Company("c2", "Acme"))
    with pytest.raises(DuplicateOrganisationUnit):
        org.add_group(Group("g1", "Other"))
    with pytest.raises(UnknownCompany):
        org.add_department(Department("d2", "X", "nope"))


def test_naive_datetime_refused(repo: EmployeeRepository) -> None:
    with pytest.raises(ValueError, match="naive"):
        repo.add(employee(1), now=dt.datetime(2025, 1, 1))

"""One attribute vocabulary for every protocol (issue 7, item 2)."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.directory.model import Employee
from idp.factors.kinds import FactorKind, FactorUse
from idp.saml.attributes import attribute_values
from idp.saml.attributes import check_source as saml_check
from idp.saml.errors import BuildError
from idp.sessions import AuthContext
from idp.subject import check_source, subject_from_attributes, subject_from_employee, values_of
from idp.wsfed.claims import check_source as wsfed_check
from idp.wsfed.claims import source_values
from idp.wsfed.errors import ClaimUnavailable

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
USE = FactorUse(FactorKind.PASSKEY, "c", NOW, True, ("fido", "hwk"))
CONTEXT = AuthContext("s" * 43, "emp-1", NOW, (USE,))
EMPLOYEE = Employee(
    id="emp-1", username="alice", email="alice@example.com", first_name="Alice",
    last_name="Andersen", groups=("Staff", "VPN"), ad_object_guid="guid-1",
    ad_object_sid="S-1-5-21-1", entra_object_id="oid-1", external_ids={"upn": "a@corp"},
    department_id="d1", department="Finance",
)  # fmt: skip
SOURCES = ("username", "email", "given_name", "surname", "name", "groups", "upn",
           "primarysid", "external_id:ad_object_guid", "external_id:entra_object_id",
           "member_of:VPN", "member_of:Admins", "windows_account:CORP", "amr",
           "department")  # fmt: skip


@pytest.mark.parametrize("source", SOURCES)
def test_a_source_means_the_same_in_saml_and_wsfed(source: str) -> None:
    subject = subject_from_employee(EMPLOYEE)
    saml_check(source)
    wsfed_check(source)
    saml = attribute_values(source, subject=subject, context=CONTEXT,
                            session_not_on_or_after=NOW, extra={})  # fmt: skip
    assert saml == source_values(source, employee=subject, context=CONTEXT)
    assert saml == values_of(source, subject=subject, context=CONTEXT)


def test_values_of_the_directory_record() -> None:
    subject = subject_from_employee(EMPLOYEE)
    assert values_of("external_id:ad_object_guid", subject=subject, context=CONTEXT) == ("guid-1",)
    assert values_of("primarysid", subject=subject, context=CONTEXT) == ("S-1-5-21-1",)
    assert values_of("upn", subject=subject, context=CONTEXT) == ("a@corp",)
    assert values_of("member_of:VPN", subject=subject, context=CONTEXT) == ("true",)
    assert values_of("windows_account:CORP", subject=subject, context=CONTEXT) == ("CORP\\alice",)
    assert values_of("department", subject=subject, context=CONTEXT) == ("Finance",)


def test_an_employee_without_a_department_has_no_department_value() -> None:
    subject = subject_from_employee(Employee("emp-2", "bob", "bob@example.com", "Bob", "Brown"))
    assert values_of("department", subject=subject, context=CONTEXT) == ()


def test_a_subject_from_upstream_attributes_needs_no_employee() -> None:
    """What a SATOSA frontend has: an upstream id and its attributes (InternalData)."""
    subject = subject_from_attributes(
        subject_id="upstream-123",
        attributes={"mail": ["bob@example.org"], "givenName": ["Bob"], "sn": ["Brown"],
                    "isMemberOf": ["staff", "vpn"], "upn": ["bob@corp"], "ou": ["Sales"]},
        mapping={"email": "mail", "first_name": "givenName", "last_name": "sn",
                 "groups": "isMemberOf", "external_id:upn": "upn", "department": "ou"},
    )  # fmt: skip
    context = AuthContext("", subject.id, NOW, CONTEXT.factors)
    assert subject.username == "upstream-123"  # no username attribute: the id stands in
    assert source_values("upn", employee=subject, context=context) == ("bob@corp",)
    assert source_values("name", employee=subject, context=context) == ("Bob Brown",)
    assert values_of("groups", subject=subject, context=context) == ("staff", "vpn")
    assert values_of("member_of:vpn", subject=subject, context=context) == ("true",)
    assert values_of("department", subject=subject, context=context) == ("Sales",)


def test_the_xml_character_guard_holds_in_both_protocols() -> None:
    subject = subject_from_employee(EMPLOYEE.__class__(**{**EMPLOYEE.__dict__,
                                                          "first_name": "Al\x01ice"}))  # fmt: skip
    with pytest.raises(ClaimUnavailable, match="control character"):
        source_values("given_name", employee=subject, context=CONTEXT)
    with pytest.raises(BuildError, match="control character"):
        attribute_values("first_name", subject=subject, context=CONTEXT,
                         session_not_on_or_after=NOW, extra={})  # fmt: skip


@pytest.mark.parametrize("bad", ["password", "external_id:", "windows_account:bad domain!", 7])
def test_unknown_sources_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        check_source(bad)

"""Defect (issue 16 §3.5): an AuthnRequest naming bob got a Success response for alice.

SAML core §3.4.1.4: a request with a ``<saml:Subject>`` is answered for that subject only;
another signed-in user gets an error status (Requester / UnknownPrincipal), never an assertion.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import replace

import pytest

from idp.config.saml import IdpSamlSettings, NameIdRule, ServiceProvider
from idp.directory.model import Employee
from idp.saml import constants as c
from idp.saml.attributes import pairwise_id
from idp.saml.bindings import decode_post
from idp.saml.errors import SamlStatusError, SubjectMismatch, XmlRejected
from idp.saml.requests import AuthnRequestInfo, check_requested_subject, parse_authn_request
from idp.saml.responses import build_error_response
from idp.saml.signing import SamlSigner
from idp.subject import subject_from_employee
from tests.idp.saml.saml_support import IDP_BASE, SP_ENTITY, MemoryReplayCache

EMAIL_RULE = NameIdRule(c.NAMEID_EMAIL, "email")


def authn_request(subject_xml: str = "", *, issue_instant: str | None = None) -> dict[str, str]:
    instant = issue_instant or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    xml = (
        f'<samlp:AuthnRequest xmlns:samlp="{c.SAMLP_NS}" xmlns:saml="{c.SAML_NS}" '
        f'ID="_r{base64.b16encode(instant.encode()).decode()}{len(subject_xml)}" Version="2.0" '
        f'IssueInstant="{instant}" Destination="{IDP_BASE}/saml/login">'
        f"<saml:Issuer>{SP_ENTITY}</saml:Issuer>{subject_xml}</samlp:AuthnRequest>"
    )
    return {"SAMLRequest": base64.b64encode(xml.encode()).decode()}


def parse(form: dict[str, str], settings: IdpSamlSettings, sp: ServiceProvider) -> AuthnRequestInfo:
    return parse_authn_request(message=decode_post(form), settings=settings,
                               service_providers={sp.entity_id: sp},
                               replay_cache=MemoryReplayCache(),
                               now=dt.datetime.now(dt.UTC))  # fmt: skip


def subject(value: str, fmt: str | None = None) -> str:
    attribute = f' Format="{fmt}"' if fmt else ""
    return f"<saml:Subject><saml:NameID{attribute}>{value}</saml:NameID></saml:Subject>"


def test_the_requested_subject_is_parsed(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    info = parse(authn_request(subject("bob@example.com", c.NAMEID_EMAIL)), settings, sp)
    assert (info.subject_name_id, info.subject_name_id_format) == (
        "bob@example.com",
        c.NAMEID_EMAIL,
    )
    assert parse(authn_request(), settings, sp).subject_name_id is None
    confirmation_only = "<saml:Subject><saml:SubjectConfirmation Method='urn:x'/></saml:Subject>"
    assert parse(authn_request(confirmation_only), settings, sp).subject_name_id is None


@pytest.mark.parametrize(
    "subject_xml",
    [
        "<saml:Subject><saml:EncryptedID/></saml:Subject>",
        "<saml:Subject><saml:BaseID NameQualifier='x'/></saml:Subject>",
        "<saml:Subject><saml:NameID>  </saml:NameID></saml:Subject>",
        "<saml:Subject><saml:NameID>bob<x/></saml:NameID></saml:Subject>",
    ],
)
def test_subjects_that_cannot_be_matched_are_refused(
    subject_xml: str, settings: IdpSamlSettings, sp: ServiceProvider
) -> None:
    with pytest.raises(XmlRejected):
        parse(authn_request(subject_xml), settings, sp)


def test_another_signed_in_user_gets_an_error_status_not_an_assertion(
    settings: IdpSamlSettings, sp: ServiceProvider, employee: Employee
) -> None:
    email_sp = replace(sp, name_id=EMAIL_RULE)
    info = parse(authn_request(subject("bob@example.com", c.NAMEID_EMAIL)), settings, email_sp)
    with pytest.raises(SubjectMismatch) as caught:
        check_requested_subject(
            request=info, subject=subject_from_employee(employee), salt=settings.pairwise_salt
        )
    error = caught.value
    assert isinstance(error, SamlStatusError) and error.request is info
    assert (error.status_code, error.second_level) == (c.STATUS_REQUESTER,
                                                       c.STATUS_UNKNOWN_PRINCIPAL)  # fmt: skip
    assert "bob@example.com" in error.description
    assert "alice" not in error.description, "the message must not say who is signed in"
    assert error.status == 403


def test_the_named_subject_itself_passes(
    settings: IdpSamlSettings, sp: ServiceProvider, employee: Employee
) -> None:
    email_sp = replace(sp, name_id=EMAIL_RULE)
    for value, fmt in (("ALICE@example.com", c.NAMEID_EMAIL), ("alice@example.com", None),
                       ("alice@example.com", c.NAMEID_UNSPECIFIED)):  # fmt: skip
        info = parse(authn_request(subject(value, fmt)), settings, email_sp)
        check_requested_subject(
            request=info, subject=subject_from_employee(employee), salt=settings.pairwise_salt
        )
    pairwise = pairwise_id(salt=settings.pairwise_salt, employee_id=employee.id,
                           sp_entity_id=SP_ENTITY)  # fmt: skip
    info = parse(authn_request(subject(pairwise, c.NAMEID_PERSISTENT)), settings, sp)
    check_requested_subject(
        request=info, subject=subject_from_employee(employee), salt=settings.pairwise_salt
    )
    no_subject = parse(authn_request(), settings, sp)
    check_requested_subject(
        request=no_subject, subject=subject_from_employee(employee), salt=settings.pairwise_salt
    )


@pytest.mark.parametrize(
    ("rule", "value", "fmt"),
    [
        # another format than the SP's NameIDs, even with alice's value
        (EMAIL_RULE, "alice@example.com", c.NAMEID_PERSISTENT),
        # a transient NameID names nobody beyond one response
        (EMAIL_RULE, "alice@example.com", c.NAMEID_TRANSIENT),
        (NameIdRule(c.NAMEID_TRANSIENT, "transient"), "_abc", None),
        # a user name compared exactly (only e-mail addresses ignore case)
        (NameIdRule(c.NAMEID_UNSPECIFIED, "username"), "Alice", None),
    ],
)
def test_near_misses_are_mismatches(
    rule: NameIdRule, value: str, fmt: str | None,
    settings: IdpSamlSettings, sp: ServiceProvider, employee: Employee,
) -> None:  # fmt: skip
    info = parse(authn_request(subject(value, fmt)), settings, replace(sp, name_id=rule))
    with pytest.raises(SubjectMismatch):
        check_requested_subject(
            request=info, subject=subject_from_employee(employee), salt=settings.pairwise_salt
        )


def test_the_mismatch_becomes_a_saml_error_response(
    settings: IdpSamlSettings, sp: ServiceProvider, employee: Employee, signer: SamlSigner
) -> None:
    info = parse(authn_request(subject("bob", c.NAMEID_PERSISTENT)), settings, sp)
    with pytest.raises(SubjectMismatch) as caught:
        check_requested_subject(
            request=info, subject=subject_from_employee(employee), salt=settings.pairwise_salt
        )
    answer = build_error_response(settings=settings, error=caught.value, signer=signer,
                                  now=dt.datetime.now(dt.UTC))  # fmt: skip
    assert answer.assertion_id is None and answer.name_id is None
    assert c.STATUS_UNKNOWN_PRINCIPAL.encode() in answer.xml and b"Assertion " not in answer.xml

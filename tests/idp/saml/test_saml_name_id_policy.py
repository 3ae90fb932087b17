"""NameIDPolicy (core §3.4.1.1): a requested transient NameID is always honoured.

Regression: an SP that always asks for transient (Shibboleth SP and SimpleSAMLphp can be set
so) got InvalidNameIDPolicy from every profile whose configured format was not transient.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from idp.config.saml import IdpSamlSettings, NameIdRule, ServiceProvider
from idp.directory.model import Employee
from idp.keys import SigningKey
from idp.saml import constants as c
from idp.saml.attributes import pairwise_id
from idp.saml.bindings import decode_redirect
from idp.saml.errors import NameIdPolicyUnsupported
from idp.saml.requests import AuthnRequestInfo, parse_authn_request
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.idp.saml import onelogin_sp as ol
from tests.idp.saml.saml_support import SP_ACS, SP_ENTITY, MemoryReplayCache, respond


def _request(
    sp: ServiceProvider, idp_key: SigningKey, settings: IdpSamlSettings, fmt: str
) -> tuple[AuthnRequestInfo, OneLogin_Saml2_Settings]:
    sp_settings = ol.settings(
        idp_cert=idp_key, sp_entity=SP_ENTITY, acs=SP_ACS, want_name_id_format=fmt
    )
    query, _ = ol.redirect_login(sp_settings, acs=SP_ACS)
    info = parse_authn_request(
        message=decode_redirect(query),
        settings=settings,
        service_providers={sp.entity_id: sp},
        replay_cache=MemoryReplayCache(),
        now=dt.datetime.now(dt.UTC),
    )
    return info, sp_settings


@pytest.mark.parametrize(
    "rule",
    [
        NameIdRule(c.NAMEID_PERSISTENT, "pairwise"),
        NameIdRule(c.NAMEID_EMAIL, "email"),
        NameIdRule(c.NAMEID_UNSPECIFIED, "username"),
    ],
    ids=["persistent", "email", "unspecified"],
)
def test_transient_request_is_honoured_whatever_the_configured_format(
    rule: NameIdRule,
    sp: ServiceProvider,
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    configured = replace(sp, name_id=rule)
    info, sp_settings = _request(configured, idp_key, settings, c.NAMEID_TRANSIENT)
    assert info.name_id_format == c.NAMEID_TRANSIENT
    first = respond(settings, configured, info, employee, context, signer)
    checked = ol.validate(sp_settings, first.xml, acs=SP_ACS, request_id=info.id)
    assert checked.get_nameid_format() == c.NAMEID_TRANSIENT
    assert first.name_id_format == c.NAMEID_TRANSIENT
    # Transient means it reveals nothing: neither the email, the user name nor the pairwise
    # id, and a new value every time.
    revealing = {
        employee.email,
        employee.username,
        pairwise_id(salt=settings.pairwise_salt, employee_id=employee.id, sp_entity_id=SP_ENTITY),
    }
    assert checked.get_nameid() not in revealing
    second = respond(settings, configured, info, employee, context, signer)
    assert second.name_id != first.name_id
    assert b"NameQualifier" not in first.xml


def test_no_policy_or_unspecified_keeps_the_configured_format(
    sp: ServiceProvider,
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    info, sp_settings = _request(sp, idp_key, settings, c.NAMEID_UNSPECIFIED)
    result = respond(settings, sp, info, employee, context, signer)
    checked = ol.validate(sp_settings, result.xml, acs=SP_ACS, request_id=info.id)
    assert checked.get_nameid_format() == c.NAMEID_PERSISTENT == result.name_id_format
    assert result.name_id == pairwise_id(
        salt=settings.pairwise_salt, employee_id=employee.id, sp_entity_id=SP_ENTITY
    )


def test_another_format_is_still_refused_with_invalid_name_id_policy(
    sp: ServiceProvider, settings: IdpSamlSettings, idp_key: SigningKey
) -> None:
    # Email would reveal the address to an SP configured for pairwise ids: not granted.
    with pytest.raises(NameIdPolicyUnsupported) as info:
        _request(sp, idp_key, settings, c.NAMEID_EMAIL)
    assert info.value.status_code == c.STATUS_REQUESTER
    assert info.value.second_level == c.STATUS_INVALID_NAMEID_POLICY

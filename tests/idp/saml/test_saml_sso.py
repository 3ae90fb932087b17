"""SP-initiated and IdP-initiated SSO against OneLogin python3-saml 1.16 in strict mode."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from lxml import etree

from idp.config.saml import IdpSamlSettings, ServiceProvider
from idp.directory.model import Employee
from idp.keys import SigningKey
from idp.saml import constants as c
from idp.saml.attributes import pairwise_id
from idp.saml.bindings import decode_post, decode_redirect
from idp.saml.requests import idp_initiated, parse_authn_request
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.idp.saml import onelogin_sp as ol
from tests.idp.saml.saml_support import SP_ACS, SP_ENTITY, MemoryReplayCache, respond


def test_redirect_flow_is_accepted_by_strict_onelogin(
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    idp_key: SigningKey,
    signer: SamlSigner,
    employee: Employee,
    context: AuthContext,
    replay_cache: MemoryReplayCache,
) -> None:
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=SP_ENTITY, acs=SP_ACS)
    query, request_id = ol.redirect_login(sp_settings, acs=SP_ACS)
    request = parse_authn_request(
        message=decode_redirect(query),
        settings=settings,
        service_providers={sp.entity_id: sp},
        replay_cache=replay_cache,
        now=dt.datetime.now(dt.UTC),
    )
    assert request.id == request_id
    assert request.relay_state == "https://sp.example.com/after"
    assert request.acs.url == SP_ACS
    result = respond(settings, sp, request, employee, context, signer)
    checked = ol.validate(sp_settings, result.xml, acs=SP_ACS, request_id=request_id)
    assert checked.get_nameid() == pairwise_id(
        salt=settings.pairwise_salt, employee_id=employee.id, sp_entity_id=SP_ENTITY
    )
    attributes = checked.get_attributes()
    assert attributes["email"] == ["alice@example.com"]
    assert attributes["name"] == ["Alice Liddell"]
    assert attributes["groups"] == ["engineering", "admins"]
    assert checked.get_session_index() == "sess-1"
    assert dict(result.form.fields)["RelayState"] == "https://sp.example.com/after"
    assert result.form.url == SP_ACS


def test_signed_redirect_and_post_requests_verify(
    settings: IdpSamlSettings,
    sp_signed: ServiceProvider,
    idp_key: SigningKey,
    sp_key: SigningKey,
    signer: SamlSigner,
    employee: Employee,
    context: AuthContext,
) -> None:
    sp_settings = ol.settings(
        idp_cert=idp_key, sp_entity=SP_ENTITY, acs=SP_ACS, sp_key=sp_key, authn_requests_signed=True
    )
    sps = {sp_signed.entity_id: sp_signed}
    query, _ = ol.redirect_login(sp_settings, acs=SP_ACS)
    assert "Signature=" in query
    info = parse_authn_request(
        message=decode_redirect(query),
        settings=settings,
        service_providers=sps,
        replay_cache=MemoryReplayCache(),
        now=dt.datetime.now(dt.UTC),
    )
    assert info.signed
    form, request_id = ol.post_login(sp_settings, sp_key=sp_key)
    info = parse_authn_request(
        message=decode_post(form),
        settings=settings,
        service_providers=sps,
        replay_cache=MemoryReplayCache(),
        now=dt.datetime.now(dt.UTC),
    )
    assert info.signed and info.id == request_id and info.relay_state == "rs"
    result = respond(settings, sp_signed, info, employee, context, signer)
    ol.validate(sp_settings, result.xml, acs=SP_ACS, request_id=request_id)


def test_idp_initiated_flow(
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    idp_key: SigningKey,
    signer: SamlSigner,
    employee: Employee,
    context: AuthContext,
) -> None:
    chosen = idp_initiated(
        sp_entity_id=SP_ENTITY,
        relay_state="https://sp.example.com/x",
        service_providers={sp.entity_id: sp},
    )
    result = respond(
        settings, chosen, None, employee, context, signer, relay_state="https://sp.example.com/x"
    )
    assert b"InResponseTo" not in result.xml
    assert result.relay_state == "https://sp.example.com/x"
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=SP_ENTITY, acs=SP_ACS)
    ol.validate(sp_settings, result.xml, acs=SP_ACS, request_id=None)


def test_encrypted_assertion_is_decrypted_by_onelogin(
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    idp_key: SigningKey,
    sp_key: SigningKey,
    signer: SamlSigner,
    employee: Employee,
    context: AuthContext,
) -> None:
    for algorithm in ("aes256-gcm", "aes128-cbc"):
        encrypting = replace(
            sp,
            encrypt_assertion=True,
            encryption_cert=sp_key.cert_pem,
            encryption_algorithm=algorithm,
        )
        result = respond(settings, encrypting, None, employee, context, signer)
        root = etree.fromstring(result.xml)
        assert root.find(f"{{{c.SAML_NS}}}Assertion") is None
        assert root.find(f"{{{c.SAML_NS}}}EncryptedAssertion") is not None
        assert b"alice@example.com" not in result.xml
        sp_settings = ol.settings(
            idp_cert=idp_key,
            sp_entity=SP_ENTITY,
            acs=SP_ACS,
            sp_key=sp_key,
            want_assertions_encrypted=True,
        )
        checked = ol.validate(sp_settings, result.xml, acs=SP_ACS, request_id=None)
        assert checked.get_attributes()["email"] == ["alice@example.com"]


def test_tampered_response_is_refused_by_onelogin(
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    idp_key: SigningKey,
    signer: SamlSigner,
    employee: Employee,
    context: AuthContext,
) -> None:
    result = respond(settings, sp, None, employee, context, signer)
    forged = result.xml.replace(b"alice@example.com", b"mallory@example.com")
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=SP_ENTITY, acs=SP_ACS)
    with pytest.raises(Exception, match=r"[Ss]ignature|[Dd]igest|validat"):
        ol.validate(sp_settings, forged, acs=SP_ACS, request_id=None)

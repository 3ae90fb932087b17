"""Hostile and malformed AuthnRequests: each refused with a typed error and a clear message."""

from __future__ import annotations

import base64
import datetime as dt
import zlib
from dataclasses import replace
from urllib.parse import quote_plus

import pytest

from idp.config.saml import IdpSamlSettings, ServiceProvider
from idp.keys import SigningKey
from idp.saml import constants as c
from idp.saml.bindings import decode_post, decode_redirect, deflate
from idp.saml.errors import (
    EndpointMismatch,
    MessageDecodeError,
    MessageExpired,
    MessageReplayed,
    MessageTooLarge,
    NameIdPolicyUnsupported,
    RelayStateTooLong,
    SamlError,
    SignatureInvalid,
    SignatureRequired,
    UnknownServiceProvider,
    UnsupportedVersion,
    XmlRejected,
)
from idp.saml.requests import AuthnRequestInfo, parse_authn_request
from idp.saml.responses import build_error_response
from idp.saml.signing import SamlSigner
from tests.idp.saml import onelogin_sp as ol
from tests.idp.saml.saml_support import IDP_BASE, SP_ACS, SP_ENTITY, MemoryReplayCache


def _xml(
    *,
    issuer: str = SP_ENTITY,
    version: str = "2.0",
    instant: str | None = None,
    acs: str = SP_ACS,
    destination: str = f"{IDP_BASE}/saml/login",
    extra: str = "",
    request_id: str = "_req1",
) -> bytes:
    instant = instant or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f'<samlp:AuthnRequest xmlns:samlp="{c.SAMLP_NS}" xmlns:saml="{c.SAML_NS}" '
        f'ID="{request_id}" Version="{version}" IssueInstant="{instant}" '
        f'Destination="{destination}" AssertionConsumerServiceURL="{acs}">'
        f"<saml:Issuer>{issuer}</saml:Issuer>{extra}</samlp:AuthnRequest>"
    ).encode()


def _redirect(xml: bytes, relay_state: str | None = None) -> str:
    query = "SAMLRequest=" + quote_plus(base64.b64encode(deflate(xml)).decode())
    if relay_state is not None:
        query += "&RelayState=" + quote_plus(relay_state)
    return query


def _parse(
    query: str,
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    cache: MemoryReplayCache | None = None,
) -> AuthnRequestInfo:
    return parse_authn_request(
        message=decode_redirect(query),
        settings=settings,
        service_providers={sp.entity_id: sp},
        replay_cache=cache or MemoryReplayCache(),
        now=dt.datetime.now(dt.UTC),
    )


def test_a_plain_request_parses(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    info = _parse(_redirect(_xml()), settings, sp)
    assert info.acs.url == SP_ACS and not info.signed and not info.force_authn


@pytest.mark.parametrize(
    ("query", "error", "words"),
    [
        ("SAMLRequest=%%%", MessageDecodeError, "base64"),
        (
            "SAMLRequest=" + quote_plus(base64.b64encode(b"not deflate").decode()),
            MessageDecodeError,
            "DEFLATE",
        ),
        ("RelayState=x", MessageDecodeError, "exactly one"),
        ("SAMLRequest=a&SAMLRequest=b", MessageDecodeError, "more than once"),
    ],
)
def test_malformed_encodings(query: str, error: type[SamlError], words: str) -> None:
    with pytest.raises(error, match=words):
        decode_redirect(query)


def test_deflate_bomb_stops_at_the_limit() -> None:
    # 50 MB of zeros deflates to ~50 KB; inflating must stop at 100 KB, not allocate 50 MB.
    bomb = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = bomb.compress(b"\0" * 50_000_000) + bomb.flush()
    query = "SAMLRequest=" + quote_plus(base64.b64encode(data).decode())
    with pytest.raises(MessageTooLarge, match="inflates to more than 102400"):
        decode_redirect(query)


def test_oversized_post_request_is_refused() -> None:
    big = base64.b64encode(b"<x/>" + b" " * 110_000).decode()
    with pytest.raises(MessageTooLarge, match="limit 102400"):
        decode_post({"SAMLRequest": big})


@pytest.mark.parametrize(
    "payload",
    [
        # XXE (external entity)
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
        # billion laughs
        b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>',
        b"<!doctype html><r/>",
    ],
)
def test_doctype_and_entities_are_refused(
    payload: bytes, settings: IdpSamlSettings, sp: ServiceProvider
) -> None:
    with pytest.raises(XmlRejected, match="DOCTYPE"):
        _parse(_redirect(payload), settings, sp)


def test_not_xml_and_wrong_root(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    with pytest.raises(XmlRejected, match="not well-formed"):
        _parse(_redirect(b"<a><b></a>"), settings, sp)
    with pytest.raises(XmlRejected, match="expected AuthnRequest, got LogoutRequest"):
        _parse(_redirect(f'<LogoutRequest xmlns="{c.SAMLP_NS}"/>'.encode()), settings, sp)


def test_unknown_sp(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    with pytest.raises(UnknownServiceProvider, match=r"evil\.example") as info:
        _parse(_redirect(_xml(issuer="https://evil.example")), settings, sp)
    assert info.value.status == 403


def test_acs_not_in_metadata(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    with pytest.raises(EndpointMismatch, match=r"evil\.example/acs"):
        _parse(_redirect(_xml(acs="https://evil.example/acs")), settings, sp)


def test_wrong_destination(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    with pytest.raises(EndpointMismatch, match="Destination must be"):
        _parse(_redirect(_xml(destination="https://other.example/sso")), settings, sp)


def test_wrong_version(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    with pytest.raises(UnsupportedVersion, match=r"expected Version 2\.0, got '1\.1'"):
        _parse(_redirect(_xml(version="1.1")), settings, sp)


@pytest.mark.parametrize("offset", [dt.timedelta(hours=-2), dt.timedelta(hours=2)])
def test_issue_instant_far_away(
    offset: dt.timedelta, settings: IdpSamlSettings, sp: ServiceProvider
) -> None:
    instant = (dt.datetime.now(dt.UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(MessageExpired, match="more than 180 s away"):
        _parse(_redirect(_xml(instant=instant)), settings, sp)


def test_replayed_request_id(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    cache = MemoryReplayCache()
    _parse(_redirect(_xml()), settings, sp, cache)
    with pytest.raises(MessageReplayed, match="_req1"):
        _parse(_redirect(_xml()), settings, sp, cache)


def test_relay_state_over_the_limit(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    _parse(_redirect(_xml(), relay_state="r" * 1024), settings, sp)  # real SPs exceed 80
    with pytest.raises(RelayStateTooLong, match="1025 bytes"):
        _parse(_redirect(_xml(), relay_state="r" * 1025), settings, sp)


def test_unsigned_when_signing_required(
    settings: IdpSamlSettings, sp_signed: ServiceProvider
) -> None:
    with pytest.raises(SignatureRequired, match="unsigned"):
        _parse(_redirect(_xml()), settings, sp_signed)


def test_wrong_signature_redirect_and_post(
    settings: IdpSamlSettings,
    sp_signed: ServiceProvider,
    idp_key: SigningKey,
    other_key: SigningKey,
) -> None:
    # Signed by a key that is not the SP's.
    sp_settings = ol.settings(
        idp_cert=idp_key,
        sp_entity=SP_ENTITY,
        acs=SP_ACS,
        sp_key=other_key,
        authn_requests_signed=True,
    )
    query, _ = ol.redirect_login(sp_settings, acs=SP_ACS)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        _parse(query, settings, sp_signed)
    form, _ = ol.post_login(sp_settings, sp_key=other_key)
    with pytest.raises(SignatureInvalid, match="does not verify"):
        parse_authn_request(
            message=decode_post(form),
            settings=settings,
            service_providers={SP_ENTITY: sp_signed},
            replay_cache=MemoryReplayCache(),
            now=dt.datetime.now(dt.UTC),
        )


def test_tampered_signed_redirect_query(
    settings: IdpSamlSettings,
    sp_signed: ServiceProvider,
    idp_key: SigningKey,
    sp_key: SigningKey,
) -> None:
    sp_settings = ol.settings(
        idp_cert=idp_key, sp_entity=SP_ENTITY, acs=SP_ACS, sp_key=sp_key, authn_requests_signed=True
    )
    query, _ = ol.redirect_login(sp_settings, acs=SP_ACS)
    tampered = query.replace("RelayState=", "RelayState=evil")
    with pytest.raises(SignatureInvalid):
        _parse(tampered, settings, sp_signed)


def test_sha1_signature_refused(
    settings: IdpSamlSettings, sp_signed: ServiceProvider, sp_key: SigningKey
) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    query = (
        _redirect(_xml()) + "&SigAlg=" + quote_plus("http://www.w3.org/2000/09/xmldsig#rsa-sha1")
    )
    assert isinstance(sp_key.private_key, rsa.RSAPrivateKey)
    sig = sp_key.private_key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA1())
    query += "&Signature=" + quote_plus(base64.b64encode(sig).decode())
    with pytest.raises(SignatureInvalid, match="SHA1"):
        _parse(query, settings, sp_signed)


def test_unsupported_name_id_policy_answers_with_saml_error(
    settings: IdpSamlSettings, sp: ServiceProvider, signer: SamlSigner
) -> None:
    # Any format but the configured one, unspecified and transient (always granted).
    policy = f'<samlp:NameIDPolicy Format="{c.NAMEID_EMAIL}"/>'
    with pytest.raises(NameIdPolicyUnsupported, match="emailAddress") as info:
        _parse(_redirect(_xml(extra=policy)), settings, sp)
    error = info.value
    response = build_error_response(
        settings=settings, error=error, signer=signer, now=dt.datetime.now(dt.UTC)
    )
    assert c.STATUS_INVALID_NAMEID_POLICY.encode() in response.xml
    assert b"Assertion" not in response.xml
    assert response.acs_url == SP_ACS
    assert f'InResponseTo="{error.request.id}"'.encode() in response.xml


def test_requested_authn_context_and_flags(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    extra = (
        f'<samlp:RequestedAuthnContext Comparison="minimum">'
        f"<saml:AuthnContextClassRef>{c.REFEDS_MFA}</saml:AuthnContextClassRef>"
        f"</samlp:RequestedAuthnContext>"
    )
    xml = _xml(extra=extra).replace(b"Version=", b'ForceAuthn="true" IsPassive="1" Version=')
    info = _parse(_redirect(xml), settings, replace(sp))
    assert info.force_authn and info.is_passive
    assert info.requested_authn_context is not None
    assert info.requested_authn_context.class_refs == (c.REFEDS_MFA,)
    assert info.requested_authn_context.comparison == "minimum"


def test_comment_cannot_split_issuer(settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    with pytest.raises(XmlRejected, match="text only"):
        _parse(_redirect(_xml(issuer=f"{SP_ENTITY}<!-- -->.evil")), settings, sp)


def _post_signed_with_transforms(
    xml: bytes, key: SigningKey, extra_transform: tuple[object, str] | None
) -> dict[str, str]:
    """Enveloped-sign ``xml`` as an SP would, optionally with one more reference transform."""
    import xmlsec
    from lxml import etree

    root = etree.fromstring(xml)
    sig = xmlsec.template.create(
        root, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256, ns="ds"
    )
    root.find(f"{{{c.SAML_NS}}}Issuer").addnext(sig)
    ref = xmlsec.template.add_reference(sig, xmlsec.constants.TransformSha256, uri="#_req1")
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformEnveloped)
    if extra_transform is not None:
        transform = xmlsec.template.add_transform(ref, extra_transform[0])
        etree.SubElement(transform, f"{{{c.DS_NS}}}XPath").text = extra_transform[1]
    xmlsec.template.add_transform(ref, xmlsec.constants.TransformExclC14N)
    xmlsec.tree.add_ids(root, ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(key.key_pem, xmlsec.constants.KeyDataFormatPem)
    ctx.sign(sig)
    return {"SAMLRequest": base64.b64encode(etree.tostring(root)).decode()}


def test_signature_transforms_other_than_c14n_are_refused(
    settings: IdpSamlSettings, sp_signed: ServiceProvider, sp_key: SigningKey
) -> None:
    """An XPath transform lets a signature leave out part of the message (here the ACS URL):
    the signature still verifies after the ACS is swapped. Only enveloped-signature and C14N
    transforms are accepted (SAML core §5.4.4)."""
    import xmlsec

    def parse(form: dict[str, str]) -> AuthnRequestInfo:
        return parse_authn_request(
            message=decode_post(form),
            settings=settings,
            service_providers={SP_ENTITY: sp_signed},
            replay_cache=MemoryReplayCache(),
            now=dt.datetime.now(dt.UTC),
        )

    acs2 = "https://sp.example.com/acs2"
    plain = parse(_post_signed_with_transforms(_xml(acs=acs2), sp_key, None))
    assert plain.signed and plain.acs.url == acs2
    skip_acs = "not(self::node()[name()='AssertionConsumerServiceURL'])"
    form = _post_signed_with_transforms(
        _xml(acs=acs2), sp_key, (xmlsec.constants.TransformXPath, skip_acs)
    )
    swapped = base64.b64decode(form["SAMLRequest"]).replace(acs2.encode(), SP_ACS.encode())
    for candidate in (form, {"SAMLRequest": base64.b64encode(swapped).decode()}):
        with pytest.raises(SignatureInvalid, match=r"transform .*xpath.* refused"):
            parse(candidate)

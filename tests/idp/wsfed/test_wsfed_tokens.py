"""Sign-in tokens, checked by an independent verifier (signxml) and by the xmlsec1 program.

Exchange's requirements (DESIGN.md, "WS-Federation passive requestor"): a SAML 1.1 assertion
(MajorVersion 1, MinorVersion 1, AssertionID, one AuthenticationStatement,
AudienceRestrictionCondition = realm) with ``upn`` and ``primarysid``, signed enveloped
RSA-SHA256 with exclusive C14N, inside an RSTR (WS-Trust 2005/02) with AppliesTo = realm.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from signxml.exceptions import InvalidInput, InvalidSignature

from idp.directory.model import Employee
from idp.keys import KeySet, SigningKey
from idp.sessions import AuthContext
from idp.wsfed import constants as c
from idp.wsfed.errors import ClaimUnavailable
from idp.wsfed.model import ClaimRule, NameIdentifierRule, TokenType, WsFedSettings
from idp.wsfed.requests import SignInRequest, parse_request
from idp.wsfed.runtime import WsFedRuntime, build_wsfed
from idp.wsfed.tokens import SignInResponse, build_signin_response
from tests.idp.wsfed.conftest import (
    ECP,
    NOW,
    OWA,
    WIF,
    WIF_REPLY,
    make_settings,
    owa_rp,
)
from tests.idp.wsfed.verifier import NS, TokenRejected, verify_wresult, xmlsec1_verify

ISSUER = "https://idp.example.com"


def sign_in(settings: WsFedSettings, **params: str) -> SignInRequest:
    request = parse_request(
        {"wa": ["wsignin1.0"], **{k: [v] for k, v in params.items()}}, settings=settings, now=NOW
    )
    assert isinstance(request, SignInRequest)
    return request


def issue(
    wsfed: WsFedRuntime,
    request: SignInRequest,
    employee: Employee,
    context: AuthContext,
    *,
    class_ref: str = c.AC_UNSPECIFIED_20,
) -> SignInResponse:
    return build_signin_response(
        request=request,
        employee=employee,
        context=context,
        authn_context_class_ref=class_ref,
        issuer=wsfed.settings.issuer,
        lifetime=wsfed.settings.lifetime_for(request.relying_party),
        signer=wsfed.signer_for(request.relying_party),
        now=NOW,
    )


def test_exchange_owa_token_is_saml11_with_upn_and_primarysid(
    wsfed: WsFedRuntime,
    alice: Employee,
    context: AuthContext,
    rsa_key: SigningKey,
    key_dir: Path,
) -> None:
    request = sign_in(wsfed.settings, wtrealm=OWA, wreply=OWA, wctx="rm=0&id=passive&ru=%2fowa%2f")
    response = issue(wsfed, request, alice, context)

    token = verify_wresult(
        response.wresult, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW
    )
    xmlsec1_verify(response.wresult, cert_path=key_dir / "idp.crt", saml11=True)
    assert token.version == "1.1"
    assert token.claims[c.CLAIM_UPN] == ["alice@corp.example.com"]
    assert token.claims[c.CLAIM_PRIMARYSID] == ["S-1-5-21-3623811015-3361044348-30300820-1013"]
    assert token.claims[c.CLAIM_GROUP] == ["Staff", "VPN Users"]
    assert token.claims[c.CLAIM_NAME] == ["Alice Liddell"]
    assert token.authn_method == c.AM_UNSPECIFIED_11
    assert response.action == OWA
    assert response.fields == (
        ("wa", "wsignin1.0"),
        ("wresult", response.wresult),
        ("wctx", "rm=0&id=passive&ru=%2fowa%2f"),
    )


def test_rstr_carries_the_ws_trust_envelope(
    wsfed: WsFedRuntime, alice: Employee, context: AuthContext
) -> None:
    response = issue(wsfed, sign_in(wsfed.settings, wtrealm=OWA), alice, context)
    root = etree.fromstring(response.wresult.encode())
    assert root.xpath("t:TokenType/text()", namespaces=NS) == [c.TOKEN_TYPE_SAML11]
    assert root.xpath("t:RequestType/text()", namespaces=NS) == [c.REQUEST_TYPE_ISSUE]
    assert root.xpath("t:KeyType/text()", namespaces=NS) == [c.KEY_TYPE_NO_PROOF]
    assertion = root.xpath("t:RequestedSecurityToken/s1:Assertion", namespaces=NS)[0]
    # SAML 1.1 schema order: Conditions, statements, then the signature last.
    assert [etree.QName(e).localname for e in assertion] == [
        "Conditions",
        "AttributeStatement",
        "AuthenticationStatement",
        "Signature",
    ]
    signed_info = assertion.find(f"{{{c.DS_NS}}}Signature/{{{c.DS_NS}}}SignedInfo")
    assert signed_info is not None
    methods = [e.get("Algorithm") for e in signed_info.iter() if e.get("Algorithm")]
    assert methods == [
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/04/xmlenc#sha256",
    ]
    assert response.expires - response.created == dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("configured", "sent"),
    [
        ("https://mail.example.com/owa/", "https://mail.example.com/owa"),
        ("https://mail.example.com/owa/", "https://mail.example.com/owa/"),
        ("https://mail.example.com/owa", "https://mail.example.com/owa/"),
        ("https://mail.example.com/owa", "https://MAIL.example.com/owa"),
    ],
)
def test_exchange_realm_with_and_without_trailing_slash(
    configured: str,
    sent: str,
    rsa_key: SigningKey,
    alice: Employee,
    context: AuthContext,
    key_dir: Path,
) -> None:
    settings = make_settings(owa_rp(realm=configured, reply_urls=(configured,)))
    wsfed = build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW)
    response = issue(wsfed, sign_in(settings, wtrealm=sent, wreply=sent), alice, context)
    # Exchange compares the audience with what it sent as wtrealm (AdfsAudienceUris).
    token = verify_wresult(
        response.wresult, cert_pem=rsa_key.cert_pem, realm=sent, issuer=ISSUER, now=NOW
    )
    xmlsec1_verify(response.wresult, cert_path=key_dir / "idp.crt", saml11=True)
    assert token.claims[c.CLAIM_UPN] == ["alice@corp.example.com"]
    assert response.action == configured  # posted to the registered URL, not the sent one


def test_ecp_realm_is_its_own_audience(
    wsfed: WsFedRuntime, alice: Employee, context: AuthContext, rsa_key: SigningKey
) -> None:
    response = issue(wsfed, sign_in(wsfed.settings, wtrealm=ECP), alice, context)
    token = verify_wresult(
        response.wresult, cert_pem=rsa_key.cert_pem, realm=ECP, issuer=ISSUER, now=NOW
    )
    with pytest.raises(TokenRejected, match="AppliesTo"):
        verify_wresult(
            response.wresult, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW
        )
    assert token.audience == ECP


def test_saml20_token_for_a_wif_relying_party(
    wsfed: WsFedRuntime,
    alice: Employee,
    context: AuthContext,
    rsa_key: SigningKey,
    key_dir: Path,
) -> None:
    request = sign_in(wsfed.settings, wtrealm=WIF, wreply="https://expenses.example.com/alt")
    response = issue(wsfed, request, alice, context, class_ref="https://refeds.org/profile/mfa")
    token = verify_wresult(
        response.wresult, cert_pem=rsa_key.cert_pem, realm=WIF, issuer=ISSUER, now=NOW
    )
    xmlsec1_verify(response.wresult, cert_path=key_dir / "idp.crt", saml11=False)
    assert token.version == "2.0"
    assert token.name_identifier == "alice@example.com"
    assert token.claims[c.CLAIM_ROLE] == ["Staff", "VPN Users"]
    assert token.claims[c.CLAIM_AMR] == ["hwk", "user"]
    assert token.authn_method == "https://refeds.org/profile/mfa"
    recipient = token.assertion.xpath(
        "s2:Subject/s2:SubjectConfirmation/s2:SubjectConfirmationData/@Recipient", namespaces=NS
    )
    assert recipient == ["https://expenses.example.com/alt"]
    assert response.action == "https://expenses.example.com/alt"
    root = etree.fromstring(response.wresult.encode())
    assert root.xpath("t:TokenType/text()", namespaces=NS) == [c.TOKEN_TYPE_SAML20]
    assert "session-secret-value" not in response.wresult


def test_lifetimes_follow_the_settings_and_the_rp_override(
    rsa_key: SigningKey, alice: Employee, context: AuthContext
) -> None:
    settings = make_settings(
        owa_rp(),
        owa_rp(name="ecp", realm=ECP, reply_urls=(ECP,), token_lifetime=dt.timedelta(minutes=10)),
        token_lifetime=dt.timedelta(minutes=30),
    )
    wsfed = build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW)
    owa = verify_wresult(
        issue(wsfed, sign_in(settings, wtrealm=OWA), alice, context).wresult,
        cert_pem=rsa_key.cert_pem,
        realm=OWA,
        issuer=ISSUER,
        now=NOW,
    )
    ecp = verify_wresult(
        issue(wsfed, sign_in(settings, wtrealm=ECP), alice, context).wresult,
        cert_pem=rsa_key.cert_pem,
        realm=ECP,
        issuer=ISSUER,
        now=NOW,
    )
    assert owa.not_on_or_after - owa.not_before == dt.timedelta(minutes=30)
    assert ecp.not_on_or_after - ecp.not_before == dt.timedelta(minutes=10)
    later = NOW + dt.timedelta(minutes=11)
    with pytest.raises(TokenRejected, match="lifetime"):
        verify_wresult(
            issue(wsfed, sign_in(settings, wtrealm=ECP), alice, context).wresult,
            cert_pem=rsa_key.cert_pem,
            realm=ECP,
            issuer=ISSUER,
            now=later,
        )


def test_missing_primarysid_stops_the_exchange_sign_in(
    wsfed: WsFedRuntime, alice: Employee, context: AuthContext
) -> None:
    no_sid = replace(alice, ad_object_sid=None)
    with pytest.raises(ClaimUnavailable, match=r"primarysid.*'alice' has no value") as info:
        issue(wsfed, sign_in(wsfed.settings, wtrealm=OWA), no_sid, context)
    assert info.value.status == 403


def test_optional_claim_without_value_is_left_out(
    wsfed: WsFedRuntime, alice: Employee, context: AuthContext, rsa_key: SigningKey
) -> None:
    response = issue(
        wsfed, sign_in(wsfed.settings, wtrealm=OWA), replace(alice, groups=()), context
    )
    token = verify_wresult(
        response.wresult, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW
    )
    assert c.CLAIM_GROUP not in token.claims
    assert token.claims[c.CLAIM_UPN] == ["alice@corp.example.com"]


def test_upn_falls_back_to_email(
    wsfed: WsFedRuntime, alice: Employee, context: AuthContext, rsa_key: SigningKey
) -> None:
    response = issue(
        wsfed, sign_in(wsfed.settings, wtrealm=OWA), replace(alice, external_ids={}), context
    )
    token = verify_wresult(
        response.wresult, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW
    )
    assert token.claims[c.CLAIM_UPN] == ["alice@example.com"]


def test_markup_in_directory_values_is_escaped_and_still_signed(
    wsfed: WsFedRuntime,
    alice: Employee,
    context: AuthContext,
    rsa_key: SigningKey,
    key_dir: Path,
) -> None:
    hostile = replace(
        alice,
        first_name="<script>alert(1)</script>",
        last_name="]]>&amp;",
        groups=("<saml:Attribute/>",),
    )
    response = issue(wsfed, sign_in(wsfed.settings, wtrealm=OWA), hostile, context)
    token = verify_wresult(
        response.wresult, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW
    )
    xmlsec1_verify(response.wresult, cert_path=key_dir / "idp.crt", saml11=True)
    assert token.claims[c.CLAIM_NAME] == ["<script>alert(1)</script> ]]>&amp;"]
    assert token.claims[c.CLAIM_GROUP] == ["<saml:Attribute/>"]
    assert "<script>" not in response.wresult


def test_a_changed_claim_breaks_both_verifiers(
    wsfed: WsFedRuntime,
    alice: Employee,
    context: AuthContext,
    rsa_key: SigningKey,
    key_dir: Path,
) -> None:
    response = issue(wsfed, sign_in(wsfed.settings, wtrealm=OWA), alice, context)
    forged = response.wresult.replace("alice@corp.example.com", "admin@corp.example.com")
    with pytest.raises(InvalidSignature):
        verify_wresult(forged, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW)
    with pytest.raises(TokenRejected, match="xmlsec1 refused"):
        xmlsec1_verify(forged, cert_path=key_dir / "idp.crt", saml11=True)


def test_a_token_signed_by_another_key_is_refused(
    settings: WsFedSettings,
    other_key: SigningKey,
    rsa_key: SigningKey,
    alice: Employee,
    context: AuthContext,
    key_dir: Path,
) -> None:
    impostor = build_wsfed(settings=settings, keys=KeySet(other_key), now=NOW)
    response = issue(impostor, sign_in(settings, wtrealm=OWA), alice, context)
    with pytest.raises(InvalidSignature):
        verify_wresult(
            response.wresult, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW
        )
    with pytest.raises(TokenRejected):
        xmlsec1_verify(response.wresult, cert_path=key_dir / "idp.crt", saml11=True)


def test_signature_wrapping_is_caught_by_the_verifier(
    wsfed: WsFedRuntime, alice: Employee, context: AuthContext, rsa_key: SigningKey
) -> None:
    """The signed assertion is hidden elsewhere and an unsigned one put where RPs read."""
    response = issue(wsfed, sign_in(wsfed.settings, wtrealm=OWA), alice, context)
    root = etree.fromstring(response.wresult.encode())
    holder = root.xpath("t:RequestedSecurityToken", namespaces=NS)[0]
    signed = holder[0]
    evil = copy.deepcopy(signed)
    evil.set("AssertionID", "_evil")
    for value in evil.iter(f"{{{c.SAML11_NS}}}AttributeValue"):
        if value.text == "alice@corp.example.com":
            value.text = "admin@corp.example.com"
    evil.remove(evil.find(f"{{{c.DS_NS}}}Signature"))
    holder.remove(signed)
    holder.append(evil)
    etree.SubElement(root, f"{{{c.TRUST_NS}}}Hidden").append(signed)
    wrapped = etree.tostring(root)
    with pytest.raises(TokenRejected, match="not the assertion that is read"):
        verify_wresult(wrapped, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW)


def test_name_identifier_and_authentication_method_overrides(
    rsa_key: SigningKey, alice: Employee, context: AuthContext
) -> None:
    rp = owa_rp(
        name_identifier=NameIdentifierRule("upn", c.NAMEID_UNSPECIFIED),
        authentication_method="urn:oasis:names:tc:SAML:1.0:am:HardwareToken",
    )
    settings = make_settings(rp)
    wsfed = build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW)
    response = issue(wsfed, sign_in(settings, wtrealm=OWA), alice, context)
    token = verify_wresult(
        response.wresult, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW
    )
    assert token.name_identifier == "alice@corp.example.com"
    assert token.authn_method == "urn:oasis:names:tc:SAML:1.0:am:HardwareToken"
    no_upn = replace(rp, name_identifier=NameIdentifierRule("entra_object_id"))
    settings = make_settings(no_upn)
    wsfed = build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW)
    with pytest.raises(ClaimUnavailable, match="NameIdentifier"):
        issue(wsfed, sign_in(settings, wtrealm=OWA), alice, context)


def test_transient_name_identifier_differs_per_token(
    rsa_key: SigningKey, alice: Employee, context: AuthContext
) -> None:
    rp = owa_rp(
        name_identifier=NameIdentifierRule("transient", c.NAMEID_TRANSIENT),
        token_type=TokenType.SAML20,
    )
    settings = make_settings(rp)
    wsfed = build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW)
    ids = {
        verify_wresult(
            issue(wsfed, sign_in(settings, wtrealm=OWA), alice, context).wresult,
            cert_pem=rsa_key.cert_pem,
            realm=OWA,
            issuer=ISSUER,
            now=NOW,
        ).name_identifier
        for _ in range(2)
    }
    assert len(ids) == 2


def test_sha1_for_a_legacy_rp_is_signed_as_configured(
    rsa_key: SigningKey, alice: Employee, context: AuthContext, key_dir: Path
) -> None:
    settings = make_settings(owa_rp(signature_algorithm="rsa-sha1", digest_algorithm="sha1"))
    wsfed = build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW)
    response = issue(wsfed, sign_in(settings, wtrealm=OWA), alice, context)
    assert "http://www.w3.org/2000/09/xmldsig#rsa-sha1" in response.wresult
    xmlsec1_verify(response.wresult, cert_path=key_dir / "idp.crt", saml11=True)
    # signxml refuses SHA-1 by default, as a modern RP should.
    with pytest.raises(InvalidInput, match="RSA_SHA1"):
        verify_wresult(
            response.wresult, cert_pem=rsa_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW
        )


def test_ecdsa_key_with_an_ecdsa_relying_party(
    ec_key: SigningKey, alice: Employee, context: AuthContext
) -> None:
    rp = owa_rp(
        signature_algorithm="ecdsa-sha256",
        token_type=TokenType.SAML20,
        claims=(ClaimRule(c.CLAIM_UPN, "upn"),),
    )
    settings = make_settings(rp)
    wsfed = build_wsfed(settings=settings, keys=KeySet(ec_key), now=NOW)
    response = issue(wsfed, sign_in(settings, wtrealm=OWA), alice, context)
    token = verify_wresult(
        response.wresult, cert_pem=ec_key.cert_pem, realm=OWA, issuer=ISSUER, now=NOW
    )
    assert token.claims[c.CLAIM_UPN] == ["alice@corp.example.com"]


def test_naive_time_is_refused(wsfed: WsFedRuntime, alice: Employee, context: AuthContext) -> None:
    from idp.wsfed.errors import TokenBuildError

    request = sign_in(wsfed.settings, wtrealm=OWA)
    with pytest.raises(TokenBuildError, match="naive"):
        build_signin_response(
            request=request,
            employee=alice,
            context=context,
            authn_context_class_ref=c.AC_UNSPECIFIED_20,
            issuer=ISSUER,
            lifetime=dt.timedelta(hours=1),
            signer=wsfed.signer_for(request.relying_party),
            now=NOW.replace(tzinfo=None),
        )


def test_each_token_has_a_fresh_assertion_id(
    wsfed: WsFedRuntime, alice: Employee, context: AuthContext
) -> None:
    request = sign_in(wsfed.settings, wtrealm=WIF, wreply=WIF_REPLY)
    first = issue(wsfed, request, alice, context)
    second = issue(wsfed, request, alice, context)
    assert first.assertion_id != second.assertion_id
    assert first.assertion_id.startswith("_")


@pytest.mark.parametrize(
    ("change", "source"),
    [
        ({"first_name": "Al\x0bice"}, "'name'"),
        ({"groups": ("Staff", "VPN\x00Users")}, "'groups'"),
        ({"external_ids": {"upn": "alice\x1b@corp.example.com"}}, "'upn'"),
    ],
)
def test_a_directory_value_xml_cannot_carry_is_a_clear_refusal(
    wsfed: WsFedRuntime,
    alice: Employee,
    context: AuthContext,
    change: dict[str, object],
    source: str,
) -> None:
    """XML 1.0 §2.2: control characters (a synced AD attribute may hold one) cannot be put in
    a token; the sign-in is refused with a message naming the claim, not a server error."""
    hostile = replace(alice, **change)
    with pytest.raises(ClaimUnavailable, match=f"the {source} value of employee 'alice'") as info:
        issue(wsfed, sign_in(wsfed.settings, wtrealm=OWA), hostile, context)
    assert info.value.status == 403


def test_a_name_identifier_xml_cannot_carry_is_a_clear_refusal(
    rsa_key: SigningKey, alice: Employee, context: AuthContext
) -> None:
    settings = make_settings(owa_rp(claims=(), name_identifier=NameIdentifierRule("email")))
    wsfed = build_wsfed(settings=settings, keys=KeySet(rsa_key), now=NOW)
    hostile = replace(alice, email="alice\x08@example.com")
    with pytest.raises(ClaimUnavailable, match="control character"):
        issue(wsfed, sign_in(settings, wtrealm=OWA), hostile, context)

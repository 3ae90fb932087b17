"""The integration catalogue: each shipped SP profile answers as that SP's documentation asks.

Every response is consumed by OneLogin python3-saml in strict mode (playing the SP, with the
SP's entity id, ACS and expectations), and the xmlsec1 program verifies every signature.
The SP facts each test holds are the ones written in docs/sp/<name>.md.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from lxml import etree
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from idp.config.saml import IdpSamlSettings, ServiceProvider
from idp.directory.model import Employee
from idp.keys import SigningKey
from idp.saml import constants as c
from idp.saml.bindings import decode_redirect
from idp.saml.errors import BuildError, SignatureRequired
from idp.saml.requests import parse_authn_request
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.idp.saml import onelogin_sp as ol
from tests.idp.saml.saml_support import MemoryReplayCache, respond

SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
GUID = "9f3a6a0e-1c2b-4d5e-8f70-112233445566"
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"


@pytest.fixture(scope="module")
def ad_employee(employee: Employee) -> Employee:
    """An employee as the AD sync leaves them: SID, objectGUID and UPN known."""
    return replace(
        employee,
        ad_object_sid=SID,
        ad_object_guid=GUID,
        external_ids={"upn": "alice@corp.acme.example"},
    )


def _sp_initiated(
    sp: ServiceProvider,
    settings: IdpSamlSettings,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
    sp_settings: OneLogin_Saml2_Settings,
) -> OneLogin_Saml2_Response:
    """The SP's HTTP-Redirect AuthnRequest → our parser → our response → the SP's checks."""
    acs = sp.default_acs.url
    query, request_id = ol.redirect_login(sp_settings, acs=acs)
    info = parse_authn_request(
        message=decode_redirect(query),
        settings=settings,
        service_providers={sp.entity_id: sp},
        replay_cache=MemoryReplayCache(),
        now=dt.datetime.now(dt.UTC),
    )
    assert info.id == request_id and info.acs.url == acs
    xml = respond(settings, sp, info, employee, context, signer).xml
    return ol.validate(sp_settings, xml, acs=acs, request_id=request_id)


def _xmlsec1(xml: bytes, cert: Path, tmp_path: Path, *id_attrs: str) -> None:
    doc = tmp_path / "doc.xml"
    doc.write_bytes(xml)
    command = ["xmlsec1", "--verify", "--enabled-reference-uris", "same-doc",
               "--pubkey-cert-pem", str(cert), "--enabled-key-data", "rsa,key-name"]  # fmt: skip
    for attr in id_attrs:
        command += ["--id-attr:ID", attr]
    result = subprocess.run([*command, str(doc)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "name",
    ["cisco-asa", "citrix-gateway", "citrix-cloud", "fortigate", "fortiauthenticator", "adfs",
     "oracle-oam", "standard-sp", "google-workspace-sso-profile"],
)  # fmt: skip
def test_xmlsec1_verifies_each_profile_and_sha1_is_never_used(
    name: str,
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    ad_employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
    key_dir: Path,
    idp_key: SigningKey,
    tmp_path: Path,
) -> None:
    sp = sps[name]
    xml = respond(settings, sp, None, ad_employee, context, signer).xml
    # Every vendor profile signs both; the generic one (standard-sp) the assertion only.
    assert sp.sign_assertion and sp.sign_response == (sp.profile != "generic")
    assert b"rsa-sha1" not in xml and b"#sha1" not in xml
    assert xml.count(b"xmldsig-more#rsa-sha256") == 1 + sp.sign_response
    cert = key_dir / "idp.crt"
    if sp.sign_response:
        _xmlsec1(xml, cert, tmp_path, f"{c.SAMLP_NS}:Response", f"{c.SAML_NS}:Assertion")
    assertion = etree.fromstring(xml).find(f"{{{c.SAML_NS}}}Assertion")
    assert assertion is not None
    _xmlsec1(etree.tostring(assertion), cert, tmp_path, f"{c.SAML_NS}:Assertion")


def test_cisco_asa(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    """ASA: unsigned AuthnRequests (`no signature`), NameID = the VPN user name, signed
    assertion, ACS with `?tgname=` per tunnel group, entity id `/saml/sp/metadata/GROUP`."""
    sp = sps["cisco-asa"]
    assert sp.entity_id == "https://vpn.acme.example/saml/sp/metadata/AnyConnect"
    assert sp.default_acs.url.endswith("/+CSCOE+/saml/sp/acs?tgname=AnyConnect")
    assert not sp.want_authn_requests_signed
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=sp.entity_id, acs=sp.default_acs.url)
    checked = _sp_initiated(sp, settings, employee, context, signer, sp_settings)
    assert checked.get_nameid() == "alice"
    assert checked.get_nameid_format() == c.NAMEID_UNSPECIFIED
    attributes = checked.get_attributes()
    assert attributes["memberOf"] == ["engineering", "admins"]
    assert attributes["email"] == ["alice@example.com"]


def test_citrix_gateway(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    ad_employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    """NetScaler samlAction: -samlUserField NameID (the UPN-style email), -groupNameField
    groups, ACS /cgi/samlauth, RSA-SHA256 / SHA256 as -signatureAlg / -digestMethod."""
    sp = sps["citrix-gateway"]
    assert sp.default_acs.url == "https://gateway.acme.example/cgi/samlauth"
    sp_settings = ol.settings(
        idp_cert=idp_key,
        sp_entity=sp.entity_id,
        acs=sp.default_acs.url,
        want_name_id_format=c.NAMEID_EMAIL,
    )
    checked = _sp_initiated(sp, settings, ad_employee, context, signer, sp_settings)
    assert checked.get_nameid() == "alice@example.com"
    attributes = checked.get_attributes()
    assert attributes["upn"] == ["alice@corp.acme.example"]
    assert attributes["groups"] == ["engineering", "admins"]
    assert attributes["displayName"] == ["Alice Liddell"]


def test_citrix_cloud(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    ad_employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    """Citrix Cloud: entity id https://saml.cloud.com, ACS /saml/acs, and the four cip_*
    attributes that tie the sign-in to the AD account behind the Cloud Connectors."""
    sp = sps["citrix-cloud"]
    assert (sp.entity_id, sp.default_acs.url) == (
        "https://saml.cloud.com",
        "https://saml.cloud.com/saml/acs",
    )
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=sp.entity_id, acs=sp.default_acs.url)
    attributes = _sp_initiated(
        sp, settings, ad_employee, context, signer, sp_settings
    ).get_attributes()
    assert attributes["cip_upn"] == ["alice@corp.acme.example"]
    assert attributes["cip_email"] == ["alice@example.com"]
    assert attributes["cip_sid"] == [SID]
    assert attributes["cip_oid"] == [GUID]
    assert attributes["firstName"] == ["Alice"] and attributes["lastName"] == ["Liddell"]
    # Without the AD identifiers Citrix Cloud cannot find the account: refuse here, by name.
    with pytest.raises(BuildError, match="requires 'cip_sid'"):
        respond(settings, sp, None, replace(ad_employee, ad_object_sid=None), context, signer)


@pytest.mark.parametrize("name", ["fortigate", "fortiauthenticator"])
def test_fortinet(
    name: str,
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    """FortiGate `config user saml` (`set user-name username`, `set group-name group`,
    `set digest-method sha256`) and FortiAuthenticator's remote SAML server read the user
    and groups from attributes; SSL-VPN's ACS is /remote/saml/login."""
    sp = sps[name]
    if name == "fortigate":
        assert sp.default_acs.url == "https://vpn.acme.example:10443/remote/saml/login"
        assert sp.entity_id == "https://vpn.acme.example:10443/remote/saml/metadata"
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=sp.entity_id, acs=sp.default_acs.url)
    checked = _sp_initiated(sp, settings, employee, context, signer, sp_settings)
    attributes = checked.get_attributes()
    assert attributes["username"] == ["alice"]
    assert attributes["group"] == ["engineering", "admins"]
    assert sp.digest_algorithm == "sha256"


def test_adfs_claims_provider_trust(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    sp_key: SigningKey,
    ad_employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    """AD FS signs its AuthnRequests (AuthnRequestsSigned="true" in its metadata) and reads
    attribute names as claim types: upn and primarysid are what Exchange's trusts need."""
    shipped = sps["adfs"]
    assert shipped.entity_id == "http://adfs.acme.example/adfs/services/trust"
    assert shipped.want_authn_requests_signed and shipped.signing_certs
    assert shipped.default_acs.url == "https://adfs.acme.example/adfs/ls/"
    acs = shipped.default_acs.url
    unsigned = ol.settings(idp_cert=idp_key, sp_entity=shipped.entity_id, acs=acs)
    query, _ = ol.redirect_login(unsigned, acs=acs)
    with pytest.raises(SignatureRequired):
        parse_authn_request(
            message=decode_redirect(query),
            settings=settings,
            service_providers={shipped.entity_id: shipped},
            replay_cache=MemoryReplayCache(),
            now=dt.datetime.now(dt.UTC),
        )
    # The same SP with a certificate whose key the test holds, as AD FS holds its own.
    sp = replace(shipped, signing_certs=(sp_key.cert_pem,))
    sp_settings = ol.settings(
        idp_cert=idp_key, sp_entity=sp.entity_id, acs=acs, sp_key=sp_key,
        authn_requests_signed=True,
    )  # fmt: skip
    checked = _sp_initiated(sp, settings, ad_employee, context, signer, sp_settings)
    attributes = checked.get_attributes()
    assert attributes[CLAIMS + "upn"] == ["alice@corp.acme.example"]
    assert attributes["http://schemas.microsoft.com/ws/2008/06/identity/claims/primarysid"] == [SID]
    assert attributes["http://schemas.xmlsoap.org/claims/Group"] == ["engineering", "admins"]
    names = etree.fromstring(
        respond(settings, sp, None, ad_employee, context, signer).xml
    ).iterfind(f".//{{{c.SAML_NS}}}Attribute")
    assert {a.get("NameFormat") for a in names} == {c.ATTRNAME_URI}
    with pytest.raises(BuildError, match="primarysid"):
        respond(settings, sp, None, replace(ad_employee, ad_object_sid=None), context, signer)


def test_oracle_oam(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    """OAM maps the assertion to a user of its identity store by the email NameID (mail)."""
    sp = sps["oracle-oam"]
    assert sp.default_acs.url == "https://oam.acme.example/oam/server/fed/sp/sso"
    sp_settings = ol.settings(
        idp_cert=idp_key,
        sp_entity=sp.entity_id,
        acs=sp.default_acs.url,
        want_name_id_format=c.NAMEID_EMAIL,
    )
    checked = _sp_initiated(sp, settings, employee, context, signer, sp_settings)
    assert checked.get_nameid() == "alice@example.com"
    assert checked.get_nameid_format() == c.NAMEID_EMAIL
    assert checked.get_attributes()["mail"] == ["alice@example.com"]


def test_standard_sp_gets_oid_and_basic_names_and_transient_on_request(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    sp = sps["standard-sp"]
    sp_settings = ol.settings(
        idp_cert=idp_key,
        sp_entity=sp.entity_id,
        acs=sp.default_acs.url,
        want_name_id_format=c.NAMEID_TRANSIENT,
        want_messages_signed=False,
    )
    checked = _sp_initiated(sp, settings, employee, context, signer, sp_settings)
    assert checked.get_nameid_format() == c.NAMEID_TRANSIENT
    attributes = checked.get_attributes()
    assert attributes["urn:oid:0.9.2342.19200300.100.1.3"] == ["alice@example.com"]
    assert attributes["email"] == ["alice@example.com"]
    assert attributes["urn:oid:2.16.840.1.113730.3.1.241"] == ["Alice Liddell"]
    assert attributes["urn:oid:1.3.6.1.4.1.5923.1.5.1.1"] == ["engineering", "admins"]
    assert attributes["urn:oid:0.9.2342.19200300.100.1.1"] == attributes["username"] == ["alice"]


def test_google_workspace_sso_profile(
    sps: dict[str, ServiceProvider],
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
) -> None:
    """Google's newer SSO profiles: entity id and audience are the profile's
    accounts.google.com/samlrp/metadata?rpid=… URL, ACS …/samlrp/acs?rpid=…, email NameID."""
    sp = sps["google-workspace-sso-profile"]
    assert sp.audience_value == sp.entity_id
    assert sp.entity_id.startswith("https://accounts.google.com/samlrp/metadata?rpid=")
    assert sp.default_acs.url.startswith("https://accounts.google.com/samlrp/acs?rpid=")
    sp_settings = ol.settings(
        idp_cert=idp_key,
        sp_entity=sp.entity_id,
        acs=sp.default_acs.url,
        want_attribute_statement=False,
    )
    checked = _sp_initiated(sp, settings, employee, context, signer, sp_settings)
    assert checked.get_nameid() == "alice@example.com"
    assert checked.get_nameid_format() == c.NAMEID_EMAIL

"""The IdP's metadata (SAML metadata §2.4.3): EntityDescriptor with IDPSSODescriptor, signed.

During a key rollover both certificates are published (``KeySet.published``) so that SPs learn
the next key before it signs anything.
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from idp.config.saml import IdpSamlSettings
from idp.keys import KeySet
from idp.saml import constants as c
from idp.saml.attributes import instant
from idp.saml.responses import new_id
from idp.saml.signing import SamlSigner

_MD = f"{{{c.MD_NS}}}"
_DS = f"{{{c.DS_NS}}}"
NAME_ID_FORMATS = (c.NAMEID_PERSISTENT, c.NAMEID_EMAIL, c.NAMEID_TRANSIENT, c.NAMEID_UNSPECIFIED)


def build_metadata(
    *, settings: IdpSamlSettings, keys: KeySet, signer: SamlSigner, now: dt.datetime
) -> bytes:
    """Signed metadata XML, valid for ``settings.metadata_valid_for`` from ``now``."""
    root = etree.Element(f"{_MD}EntityDescriptor", nsmap={"md": c.MD_NS, "ds": c.DS_NS})
    root.set("ID", new_id())
    root.set("entityID", settings.entity_id)
    root.set("validUntil", instant(now + settings.metadata_valid_for))
    idp = etree.SubElement(root, f"{_MD}IDPSSODescriptor")
    idp.set("protocolSupportEnumeration", c.SAMLP_NS)
    idp.set("WantAuthnRequestsSigned", "true" if settings.want_authn_requests_signed else "false")
    for key in keys.published:
        descriptor = etree.SubElement(idp, f"{_MD}KeyDescriptor", use="signing")
        key_info = etree.SubElement(descriptor, f"{_DS}KeyInfo")
        etree.SubElement(key_info, f"{_DS}KeyName").text = key.kid
        x509_data = etree.SubElement(key_info, f"{_DS}X509Data")
        etree.SubElement(x509_data, f"{_DS}X509Certificate").text = key.cert_der_b64
    for binding in (c.BINDING_REDIRECT, c.BINDING_POST):
        etree.SubElement(
            idp, f"{_MD}SingleLogoutService", Binding=binding, Location=settings.slo_url
        )
    for name_id_format in NAME_ID_FORMATS:
        etree.SubElement(idp, f"{_MD}NameIDFormat").text = name_id_format
    for binding in (c.BINDING_REDIRECT, c.BINDING_POST):
        etree.SubElement(
            idp, f"{_MD}SingleSignOnService", Binding=binding, Location=settings.sso_url
        )
    _organisation(root, settings)
    signer.xml_signer(sign_hash="sha256", digest_hash="sha256").sign(root, id_attribute="ID")
    return bytes(etree.tostring(root, encoding="UTF-8", xml_declaration=True))


def _organisation(root: etree._Element, settings: IdpSamlSettings) -> None:
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    if settings.organisation_name:
        org = etree.SubElement(root, f"{_MD}Organization")
        for tag, value in (
            ("OrganizationName", settings.organisation_name),
            ("OrganizationDisplayName", settings.organisation_name),
            ("OrganizationURL", settings.organisation_url or settings.base_url),
        ):
            etree.SubElement(org, f"{_MD}{tag}", {lang: "en"}).text = value
    for contact in settings.contacts:
        person = etree.SubElement(root, f"{_MD}ContactPerson", contactType=contact.type)
        if contact.name:
            etree.SubElement(person, f"{_MD}GivenName").text = contact.name
        etree.SubElement(person, f"{_MD}EmailAddress").text = f"mailto:{contact.email}"

"""Federation metadata (WS-Federation 1.2 §3.1): a signed EntityDescriptor for our STS.

The ``RoleDescriptor`` of type ``fed:SecurityTokenServiceType`` lists our signing
certificate(s) — the next key too during a rollover, so relying parties that poll metadata
trust it before it signs — the token types and claim types we offer, and the passive
requestor endpoint. Signed enveloped with the key loaded at start.
"""

from __future__ import annotations

import datetime as dt
import secrets

from lxml import etree

from idp.keys import KeySet
from idp.wsfed import constants as c
from idp.wsfed.claims import display_name, offered_claim_types
from idp.wsfed.model import WsFedSettings
from idp.wsfed.tokens import instant
from idp.xmlsig import XmlSigner

q = c.q
_TOKEN_TYPES = (
    c.TOKEN_TYPE_SAML20,
    c.TOKEN_TYPE_SAML11,
    c.TOKEN_PROFILE_SAML20,
    c.TOKEN_PROFILE_SAML11,
)


def build_metadata(
    *, settings: WsFedSettings, keys: KeySet, signer: XmlSigner, now: dt.datetime
) -> bytes:
    """The signed metadata document, valid for ``settings.metadata_valid_for`` from ``now``."""
    root = etree.Element(q(c.MD_NS, "EntityDescriptor"), nsmap={"md": c.MD_NS})
    root.set("ID", "_" + secrets.token_hex(16))
    root.set("entityID", settings.issuer)
    root.set("validUntil", instant(now + settings.metadata_valid_for))
    role = etree.SubElement(
        root,
        q(c.MD_NS, "RoleDescriptor"),
        nsmap={"xsi": c.XSI_NS, "fed": c.FED_NS},
    )
    role.set(q(c.XSI_NS, "type"), "fed:SecurityTokenServiceType")
    role.set("protocolSupportEnumeration", c.FED_NS)
    for key in keys.published:
        descriptor = etree.SubElement(role, q(c.MD_NS, "KeyDescriptor"), use="signing")
        info = etree.SubElement(descriptor, q(c.DS_NS, "KeyInfo"), nsmap={"ds": c.DS_NS})
        data = etree.SubElement(info, q(c.DS_NS, "X509Data"))
        etree.SubElement(data, q(c.DS_NS, "X509Certificate")).text = key.cert_der_b64
    offered = etree.SubElement(role, q(c.FED_NS, "TokenTypesOffered"))
    for uri in _TOKEN_TYPES:
        etree.SubElement(offered, q(c.FED_NS, "TokenType"), Uri=uri)
    _claim_types(role, settings)
    # SecurityTokenServiceEndpoint is required by the schema; we only have the passive one.
    for local in ("SecurityTokenServiceEndpoint", "PassiveRequestorEndpoint"):
        endpoint = etree.SubElement(role, q(c.FED_NS, local))
        ref = etree.SubElement(endpoint, q(c.WSA_NS, "EndpointReference"), nsmap={"wsa": c.WSA_NS})
        etree.SubElement(ref, q(c.WSA_NS, "Address")).text = settings.endpoint
    signer.sign(root, id_attribute="ID")
    document: bytes = etree.tostring(root, xml_declaration=True, encoding="utf-8")
    return document


def _claim_types(role: etree._Element, settings: WsFedSettings) -> None:
    types = offered_claim_types(settings.relying_parties)
    if not types:
        return
    offered = etree.SubElement(role, q(c.FED_NS, "ClaimTypesOffered"))
    for uri in types:
        claim = etree.SubElement(
            offered,
            q(c.AUTH_NS, "ClaimType"),
            nsmap={"auth": c.AUTH_NS},
            Uri=uri,
            Optional="true",
        )
        etree.SubElement(claim, q(c.AUTH_NS, "DisplayName")).text = display_name(uri)

"""Reading an SP's metadata XML (SAML metadata §2.4.4) into the facts an SP config needs."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from idp.saml import constants as c
from idp.saml.bindings import parse_xml, text_of
from idp.saml.errors import XmlRejected

MAX_METADATA_BYTES = 1024 * 1024
_HTTP_URL = re.compile(r"https?://\S+")
_MD = f"{{{c.MD_NS}}}"
_DS = f"{{{c.DS_NS}}}"


@dataclass(frozen=True)
class MetadataEndpoint:
    binding: str
    url: str
    index: int | None
    is_default: bool
    response_url: str | None


@dataclass(frozen=True)
class SpMetadata:
    entity_id: str
    acs: tuple[MetadataEndpoint, ...]
    slo: tuple[MetadataEndpoint, ...]
    signing_certs: tuple[bytes, ...]
    encryption_cert: bytes | None
    authn_requests_signed: bool


def parse_sp_metadata(xml: bytes) -> SpMetadata:
    """The one SPSSODescriptor of an EntityDescriptor; only HTTP-POST ACS endpoints are kept."""
    root = parse_xml(xml, expected=(f"{_MD}EntityDescriptor",))
    entity_id = root.get("entityID")
    if not entity_id:
        raise XmlRejected("EntityDescriptor has no entityID")
    sp = root.find(f"{_MD}SPSSODescriptor")
    if sp is None:
        raise XmlRejected(f"{entity_id}: no SPSSODescriptor")
    acs = tuple(
        e
        for e in (_endpoint(el) for el in sp.findall(f"{_MD}AssertionConsumerService"))
        if e.binding == c.BINDING_POST
    )
    slo = tuple(
        e
        for e in (_endpoint(el) for el in sp.findall(f"{_MD}SingleLogoutService"))
        if e.binding in (c.BINDING_POST, c.BINDING_REDIRECT)
    )
    signing: list[bytes] = []
    encryption: bytes | None = None
    for kd in sp.findall(f"{_MD}KeyDescriptor"):
        use = kd.get("use")
        for cert_el in kd.iter(f"{_DS}X509Certificate"):
            pem = _pem(text_of(cert_el, what="X509Certificate"))
            if use in (None, "signing"):
                signing.append(pem)
            if use in (None, "encryption") and encryption is None:
                encryption = pem
    return SpMetadata(
        entity_id=entity_id,
        acs=acs,
        slo=slo,
        signing_certs=tuple(signing),
        encryption_cert=encryption,
        authn_requests_signed=sp.get("AuthnRequestsSigned") in ("true", "1"),
    )


def _endpoint(element: etree._Element) -> MetadataEndpoint:
    index = element.get("index")
    binding, location = element.get("Binding"), element.get("Location")
    if not binding or not location:
        raise XmlRejected(f"{etree.QName(element).localname} without Binding or Location")
    for url in (location, element.get("ResponseLocation")):
        # These become form actions and redirect targets: never javascript:, data:, ...
        if url is not None and not _HTTP_URL.fullmatch(url):
            raise XmlRejected(
                f"{etree.QName(element).localname} Location {url[:100]!r} is not an http(s) URL"
            )
    return MetadataEndpoint(
        binding=binding,
        url=location,
        index=int(index) if index and index.isdigit() else None,
        is_default=element.get("isDefault") in ("true", "1"),
        response_url=element.get("ResponseLocation"),
    )


def _pem(b64: str) -> bytes:
    try:
        der = base64.b64decode("".join(b64.split()), validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise XmlRejected("X509Certificate in metadata is not a valid certificate") from None
    return cert.public_bytes(serialization.Encoding.PEM)

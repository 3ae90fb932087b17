"""Reading an SP's metadata XML (SAML metadata §2.4.4) into the facts an SP config needs."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from idp.saml import constants as c
from idp.saml.bindings import parse_xml

MAX_METADATA_BYTES = 1024 * 1024
_MD = f"{{{c.MD_NS}}}"
_DS = f"{{{c.DS_NS}}}"


@dataclass(frozen=True)
class SpMetadata:
    from idp.config.saml import Endpoint  # noqa: PLC0415 - only the type, no cycle at runtime

    entity_id: str
    acs: tuple[Endpoint, ...]
    slo: tuple[Endpoint, ...]
    signing_certs: tuple[bytes, ...]
    encryption_cert: bytes | None
    authn_requests_signed: bool

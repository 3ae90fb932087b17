"""HTTP-Redirect and HTTP-POST bindings (SAML bindings §3.4, §3.5), and a hardened XML parser.

Sans-IO: inputs are the raw query string or the decoded form fields, outputs are frozen
dataclasses. Limits are checked before work is done: the encoded size before base64, the
inflated size while inflating (a DEFLATE bomb stops at the limit, not after).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from lxml import etree

from idp.saml import constants as c
from idp.saml.errors import MessageDecodeError, MessageTooLarge, XmlRejected

DEFAULT_MAX_BYTES = 100 * 1024

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_pis=True,
    collect_ids=False,
)


@dataclass(frozen=True)
class InboundMessage:
    """A SAML protocol message as it arrived, decoded but not yet trusted.

    ``signed_octets``/``signature``/``sig_alg`` are set for a signed HTTP-Redirect message:
    the query-string signature covers the octets exactly as they were URL-encoded on the wire
    (bindings §3.4.4.1), so they are kept rather than rebuilt.
    """

    binding: str
    kind: str  # "SAMLRequest" or "SAMLResponse"
    xml: bytes
    relay_state: str | None
    sig_alg: str | None = None
    signature: bytes | None = None
    signed_octets: bytes | None = None


@dataclass(frozen=True)
class OutboundMessage:
    """What to send: a redirect (``redirect_url``) or an auto-posted form (``url`` + ``fields``)."""

    binding: str
    url: str
    redirect_url: str | None = None
    fields: tuple[tuple[str, str], ...] = ()


def decode_redirect(query_string: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> InboundMessage:
    """Decode an HTTP-Redirect message from the raw (still URL-encoded) query string."""
    if len(query_string) > max_bytes * 2:
        raise MessageTooLarge(f"query string of {len(query_string)} bytes; limit {max_bytes * 2}")
    raw: dict[str, str] = {}
    for pair in query_string.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        name = unquote_plus(name)
        if name in raw:
            raise MessageDecodeError(f"parameter {name} appears more than once")
        raw[name] = value
    kinds = [k for k in ("SAMLRequest", "SAMLResponse") if k in raw]
    if len(kinds) != 1:
        raise MessageDecodeError("expected exactly one of SAMLRequest or SAMLResponse")
    kind = kinds[0]
    encoded = unquote_plus(raw[kind])
    if len(encoded) > max_bytes:
        raise MessageTooLarge(f"{kind} of {len(encoded)} bytes; limit {max_bytes}")
    xml = inflate(b64decode(encoded, what=kind), max_bytes=max_bytes)
    relay_state = unquote_plus(raw["RelayState"]) if "RelayState" in raw else None
    if "Signature" not in raw:
        return InboundMessage(c.BINDING_REDIRECT, kind, xml, relay_state)
    if "SigAlg" not in raw:
        raise MessageDecodeError("Signature given without SigAlg")
    parts = [f"{kind}={raw[kind]}"]
    if "RelayState" in raw:
        parts.append(f"RelayState={raw['RelayState']}")
    parts.append(f"SigAlg={raw['SigAlg']}")
    return InboundMessage(
        c.BINDING_REDIRECT,
        kind,
        xml,
        relay_state,
        sig_alg=unquote_plus(raw["SigAlg"]),
        signature=b64decode(unquote_plus(raw["Signature"]), what="Signature"),
        signed_octets="&".join(parts).encode("ascii", "replace"),
    )


def decode_post(form: Mapping[str, str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> InboundMessage:
    """Decode an HTTP-POST message from its form fields (already URL-decoded)."""
    kinds = [k for k in ("SAMLRequest", "SAMLResponse") if k in form]
    if len(kinds) != 1:
        raise MessageDecodeError("expected exactly one of SAMLRequest or SAMLResponse")
    kind = kinds[0]
    encoded = form[kind]
    if len(encoded) > max_bytes * 4 // 3 + 4:
        raise MessageTooLarge(f"{kind} of {len(encoded)} bytes; limit {max_bytes}")
    xml = b64decode(encoded, what=kind)
    if len(xml) > max_bytes:
        raise MessageTooLarge(f"{kind} decodes to {len(xml)} bytes; limit {max_bytes}")
    return InboundMessage(c.BINDING_POST, kind, xml, form.get("RelayState"))


def b64decode(value: str, *, what: str) -> bytes:
    # Strict: whitespace from form line-wrapping is allowed, any other stray byte is not.
    cleaned = "".join(value.split())
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raise MessageDecodeError(f"{what} is not valid base64") from None


def inflate(data: bytes, *, max_bytes: int) -> bytes:
    """Raw DEFLATE (RFC 1951) as HTTP-Redirect uses it, stopping at ``max_bytes``."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, max_bytes + 1)
    except zlib.error as exc:
        raise MessageDecodeError(f"SAML message is not valid raw DEFLATE data ({exc})") from None
    if len(out) > max_bytes or inflater.unconsumed_tail:
        raise MessageTooLarge(f"SAML message inflates to more than {max_bytes} bytes")
    if not inflater.eof:
        raise MessageDecodeError("SAML message DEFLATE stream is truncated")
    return out


def deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def parse_xml(xml: bytes, *, expected: tuple[str, ...]) -> etree._Element:
    """Parse untrusted SAML XML: no DTD, no entities, no network; the root must be expected.

    A DOCTYPE is refused outright (XXE, billion laughs): SAML never needs one.
    """
    head = xml[:4]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00<", b"<\x00")):
        raise XmlRejected("SAML messages must be UTF-8; got UTF-16")
    if b"<!doctype" in xml.lower() or b"<!entity" in xml.lower():
        raise XmlRejected("SAML message contains a DOCTYPE or ENTITY declaration; refused")
    try:
        root = etree.fromstring(xml, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise XmlRejected(f"SAML message is not well-formed XML: {exc.msg}") from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype:
        raise XmlRejected("SAML message contains a DOCTYPE; refused")
    if root.tag not in expected:
        names = ", ".join(etree.QName(t).localname for t in expected)
        raise XmlRejected(f"expected {names}, got {etree.QName(root).localname}")
    return root


def text_of(element: etree._Element, *, what: str) -> str:
    """Text of a leaf element; children (even comments) are refused so text cannot be split."""
    if len(element):
        raise XmlRejected(f"{what} must contain text only")
    return (element.text or "").strip()


def encode_redirect(
    *,
    url: str,
    kind: str,
    xml: bytes,
    relay_state: str | None,
    sig_alg: str | None = None,
    sign: Callable[[bytes], bytes] | None = None,
) -> OutboundMessage:
    """Build an HTTP-Redirect URL, signed over the query (bindings §3.4.4.1) if ``sign``."""
    query = f"{kind}={quote_plus(base64.b64encode(deflate(xml)).decode('ascii'))}"
    if relay_state is not None:
        query += f"&RelayState={quote_plus(relay_state)}"
    if sign is not None and sig_alg is not None:
        query += f"&SigAlg={quote_plus(sig_alg)}"
        signature = sign(query.encode("ascii"))
        query += f"&Signature={quote_plus(base64.b64encode(signature).decode('ascii'))}"
    separator = "&" if "?" in url else "?"
    return OutboundMessage(c.BINDING_REDIRECT, url, redirect_url=f"{url}{separator}{query}")


def encode_post(*, url: str, kind: str, xml: bytes, relay_state: str | None) -> OutboundMessage:
    """Build the auto-posted form for HTTP-POST (the XML carries its own signature)."""
    fields = [(kind, base64.b64encode(xml).decode("ascii"))]
    if relay_state is not None:
        fields.append(("RelayState", relay_state))
    return OutboundMessage(c.BINDING_POST, url, fields=tuple(fields))

"""Checks every inbound SAML protocol message gets, whatever its kind (core §3.2.1, §3.2.2).

Version, ID, Issuer (known SP), signature (Redirect query or enveloped POST), Destination,
IssueInstant within the clock skew, and one-time IDs through the replay cache.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from lxml import etree

from idp.config.saml import IdpSamlSettings, ServiceProvider
from idp.saml import constants as c
from idp.saml.bindings import InboundMessage, parse_xml, text_of
from idp.saml.errors import (
    EndpointMismatch,
    MessageExpired,
    MessageReplayed,
    SignatureInvalid,
    SignatureRequired,
    UnknownServiceProvider,
    UnsupportedVersion,
    XmlRejected,
)
from idp.saml.signing import verify_enveloped, verify_redirect_signature


class ReplayCache(Protocol):
    """The short-lived store's set-if-absent with a TTL (Redis ``SET NX EX``)."""

    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool: ...


@dataclass(frozen=True)
class VerifiedMessage:
    root: etree._Element
    sp: ServiceProvider
    id: str
    issue_instant: dt.datetime
    signed: bool


def verify_message(
    *,
    message: InboundMessage,
    root_tag: str,
    expected_destination: str,
    settings: IdpSamlSettings,
    service_providers: Mapping[str, ServiceProvider],
    now: dt.datetime,
    require_signature: bool,
) -> VerifiedMessage:
    root = parse_xml(message.xml, expected=(root_tag,))
    version = root.get("Version")
    if version != "2.0":
        raise UnsupportedVersion(f"expected Version 2.0, got {version!r}")
    message_id = root.get("ID")
    if not message_id or len(message_id) > 256:
        raise XmlRejected("the message has no ID (or one longer than 256 characters)")
    issuer_el = root.find(f"{{{c.SAML_NS}}}Issuer")
    if issuer_el is None:
        raise XmlRejected("the message has no Issuer")
    issuer = text_of(issuer_el, what="Issuer")
    sp = service_providers.get(issuer)
    if sp is None:
        raise UnknownServiceProvider(f"no service provider is configured as {issuer[:200]!r}")
    signed = _check_signature(message, root, sp)
    if not signed and (require_signature or sp.want_authn_requests_signed):
        raise SignatureRequired(f"{sp.name} must sign its requests; this one is unsigned")
    destination = root.get("Destination")
    if (destination is not None or signed) and destination != expected_destination:
        raise EndpointMismatch(
            f"Destination must be {expected_destination!r}, got {(destination or '')[:200]!r}"
        )
    issued = parse_instant(root.get("IssueInstant"), what="IssueInstant")
    if abs(issued - now) > settings.clock_skew:
        raise MessageExpired(
            f"IssueInstant {issued.isoformat()} is more than "
            f"{int(settings.clock_skew.total_seconds())} s away from now ({now.isoformat()})"
        )
    return VerifiedMessage(root, sp, message_id, issued, signed)


def remember_id(
    *,
    kind: str,
    sp: ServiceProvider,
    message_id: str,
    replay_cache: ReplayCache,
    settings: IdpSamlSettings,
) -> None:
    """Accept each message ID once for as long as its IssueInstant could still be accepted."""
    ttl = int(settings.clock_skew.total_seconds()) * 2 + 60
    key = f"saml:{kind}:{sp.entity_id}:{message_id}"
    if not replay_cache.add_if_absent(key, b"1", ttl=ttl):
        raise MessageReplayed(f"{kind} ID {message_id[:100]!r} from {sp.name} was already used")


def parse_instant(value: str | None, *, what: str) -> dt.datetime:
    """An xs:dateTime with a time zone, in UTC; any value it can hold is safe to compare.

    Values at the edge of the calendar (``0001-01-01T00:00:00+14:00`` is before year 1 in UTC)
    are refused here, so no caller meets an OverflowError in date arithmetic.
    """
    if not value:
        raise XmlRejected(f"{what} is missing")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise XmlRejected(f"{what} {value[:40]!r} is not an xs:dateTime") from None
    if moment.tzinfo is None:
        raise XmlRejected(f"{what} {value[:40]!r} has no time zone; SAML instants are UTC")
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:
        raise XmlRejected(f"{what} {value[:40]!r} lies outside the calendar") from None


def _check_signature(message: InboundMessage, root: etree._Element, sp: ServiceProvider) -> bool:
    if message.binding == c.BINDING_REDIRECT:
        if root.find(f".//{{{c.DS_NS}}}Signature") is not None:
            raise SignatureInvalid("HTTP-Redirect messages are signed in the query, not the XML")
        if message.signature is None:
            return False
        if not sp.signing_certs:
            raise SignatureInvalid(f"{sp.name} has no signing certificate configured")
        assert message.signed_octets is not None and message.sig_alg is not None
        verify_redirect_signature(
            signed_octets=message.signed_octets,
            signature=message.signature,
            sig_alg=message.sig_alg,
            certs=sp.signing_certs,
            allow_sha1=sp.allow_sha1,
        )
        return True
    has_signature = root.find(f"{{{c.DS_NS}}}Signature") is not None
    if has_signature and not sp.signing_certs:
        raise SignatureInvalid(f"{sp.name} has no signing certificate configured")
    return verify_enveloped(root, certs=sp.signing_certs, allow_sha1=sp.allow_sha1)

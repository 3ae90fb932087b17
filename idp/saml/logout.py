"""Single Logout (SAML core §3.7, profiles §4.4): requests and responses, both bindings.

The IdP is the session authority: it parses the LogoutRequest of the SP that starts the
logout, builds one LogoutRequest per other SP of the session (the adapter sends them in turn
and parses each LogoutResponse), then answers the first SP with a LogoutResponse.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from idp.config.saml import Endpoint, IdpSamlSettings, ServiceProvider
from idp.saml import constants as c
from idp.saml.attributes import instant
from idp.saml.bindings import InboundMessage, OutboundMessage, encode_post, encode_redirect, text_of
from idp.saml.errors import EndpointMismatch, MessageExpired, ResponseMismatch, XmlRejected
from idp.saml.inbound import ReplayCache, parse_instant, remember_id, verify_message
from idp.saml.responses import new_id
from idp.saml.signing import SamlSigner

_SAMLP = f"{{{c.SAMLP_NS}}}"
_SAML = f"{{{c.SAML_NS}}}"
#: the furthest a LogoutRequest's NotOnOrAfter may lie ahead; real SPs give minutes
MAX_LOGOUT_VALIDITY = dt.timedelta(hours=24)


@dataclass(frozen=True)
class SessionParticipant:
    """An SP this session signed in to, as recorded in the session for single logout."""

    entity_id: str
    name_id: str
    session_index: str
    #: the NameID format issued (a requested transient one may differ from the SP's own)
    name_id_format: str | None = None

    PREFIX = "saml:"

    def encode(self) -> str:
        # JSON, not a separator: entity ids and NameIDs may contain any character.
        values = [self.entity_id, self.name_id, self.session_index]
        if self.name_id_format is not None:
            values.append(self.name_id_format)
        return self.PREFIX + json.dumps(values)

    @classmethod
    def decode(cls, value: str) -> SessionParticipant | None:
        """The participant, or None for another protocol's (or a malformed) entry."""
        if not value.startswith(cls.PREFIX):
            return None
        try:
            entity_id, name_id, session_index, *rest = json.loads(value[len(cls.PREFIX) :])
        except (ValueError, TypeError):
            return None
        name_id_format = str(rest[0]) if rest else None
        return cls(str(entity_id), str(name_id), str(session_index), name_id_format)

    def matches(self, request: LogoutRequestInfo) -> bool:
        """Whether ``request`` names this participant's principal (profiles §4.4.4.1)."""
        if request.sp.entity_id != self.entity_id or request.name_id != self.name_id:
            return False
        return not request.session_indexes or self.session_index in request.session_indexes


@dataclass(frozen=True)
class LogoutRequestInfo:
    id: str
    sp: ServiceProvider
    name_id: str
    name_id_format: str | None
    session_indexes: tuple[str, ...]
    relay_state: str | None
    binding: str


@dataclass(frozen=True)
class OutboundLogoutRequest:
    request_id: str
    sp: ServiceProvider
    message: OutboundMessage


@dataclass(frozen=True)
class LogoutResponseInfo:
    sp: ServiceProvider
    in_response_to: str
    success: bool
    status_code: str


def parse_logout_request(
    *,
    message: InboundMessage,
    settings: IdpSamlSettings,
    service_providers: Mapping[str, ServiceProvider],
    replay_cache: ReplayCache,
    now: dt.datetime,
) -> LogoutRequestInfo:
    """Validate an SP's LogoutRequest; it must be signed (profiles §4.4.4.1)."""
    if message.kind != "SAMLRequest":
        raise XmlRejected("expected a SAMLRequest, got a SAMLResponse")
    verified = verify_message(
        message=message,
        root_tag=f"{_SAMLP}LogoutRequest",
        expected_destination=settings.slo_url,
        settings=settings,
        service_providers=service_providers,
        now=now,
        require_signature=True,
    )
    root = verified.root
    _check_not_on_or_after(root, settings, now)
    name_id = root.find(f"{_SAML}NameID")
    if name_id is None:
        raise XmlRejected("LogoutRequest has no NameID (encrypted NameIDs are not supported)")
    indexes = tuple(text_of(e, what="SessionIndex") for e in root.findall(f"{_SAMLP}SessionIndex"))
    remember_id(
        kind="LogoutRequest",
        sp=verified.sp,
        message_id=verified.id,
        replay_cache=replay_cache,
        settings=settings,
    )
    return LogoutRequestInfo(
        id=verified.id,
        sp=verified.sp,
        name_id=text_of(name_id, what="NameID"),
        name_id_format=name_id.get("Format"),
        session_indexes=indexes,
        relay_state=message.relay_state,
        binding=message.binding,
    )


def _check_not_on_or_after(
    root: etree._Element, settings: IdpSamlSettings, now: dt.datetime
) -> None:
    # core §3.7.1: the request is void at NotOnOrAfter (allowing the configured clock skew).
    value = root.get("NotOnOrAfter")
    if value is None:
        return
    deadline = parse_instant(value, what="LogoutRequest NotOnOrAfter")
    # Arithmetic on ``now`` only: a deadline near year 9999 plus the skew would overflow.
    if now - settings.clock_skew >= deadline:
        raise MessageExpired(
            f"LogoutRequest expired at {value[:40]} (its NotOnOrAfter); it is now {instant(now)}"
        )
    if deadline - now > MAX_LOGOUT_VALIDITY:
        raise MessageExpired(
            f"LogoutRequest NotOnOrAfter {value[:40]} lies more than "
            f"{int(MAX_LOGOUT_VALIDITY.total_seconds() // 3600)} h ahead; it is now {instant(now)}"
        )


def build_logout_response(
    *,
    settings: IdpSamlSettings,
    request: LogoutRequestInfo,
    signer: SamlSigner,
    now: dt.datetime,
    partial: bool = False,
) -> OutboundMessage:
    """Answer the SP that started the logout, over the binding of its SLO endpoint."""
    sp = request.sp
    endpoint = _slo_endpoint(sp, prefer=request.binding)
    url = endpoint.response_url or endpoint.url
    root = _message_root(f"{_SAMLP}LogoutResponse", settings, url, now)
    root.set("InResponseTo", request.id)
    status = etree.SubElement(root, f"{_SAMLP}Status")
    code = etree.SubElement(status, f"{_SAMLP}StatusCode", Value=c.STATUS_SUCCESS)
    if partial:
        etree.SubElement(code, f"{_SAMLP}StatusCode", Value=c.STATUS_PARTIAL_LOGOUT)
    return _send(root, sp, endpoint, url, "SAMLResponse", request.relay_state, signer)


def build_logout_request(
    *,
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    name_id: str,
    name_id_format: str,
    session_index: str,
    signer: SamlSigner,
    now: dt.datetime,
    relay_state: str | None = None,
) -> OutboundLogoutRequest:
    """A LogoutRequest to one other SP of the session (profiles §4.4.3.3)."""
    endpoint = _slo_endpoint(sp, prefer=c.BINDING_REDIRECT)
    root = _message_root(f"{_SAMLP}LogoutRequest", settings, endpoint.url, now)
    root.set("NotOnOrAfter", instant(now + settings.assertion_lifetime))
    name = etree.SubElement(root, f"{_SAML}NameID", Format=name_id_format)
    if name_id_format == c.NAMEID_PERSISTENT:
        name.set("NameQualifier", settings.entity_id)
        name.set("SPNameQualifier", sp.entity_id)
    name.text = name_id
    etree.SubElement(root, f"{_SAMLP}SessionIndex").text = session_index
    message = _send(root, sp, endpoint, endpoint.url, "SAMLRequest", relay_state, signer)
    return OutboundLogoutRequest(root.get("ID", ""), sp, message)


def parse_logout_response(
    *,
    message: InboundMessage,
    expected_request_id: str,
    expected_sp: ServiceProvider,
    settings: IdpSamlSettings,
    now: dt.datetime,
) -> LogoutResponseInfo:
    """Check an SP's LogoutResponse to the LogoutRequest we sent it (signed, as requests)."""
    if message.kind != "SAMLResponse":
        raise XmlRejected("expected a SAMLResponse, got a SAMLRequest")
    verified = verify_message(
        message=message,
        root_tag=f"{_SAMLP}LogoutResponse",
        expected_destination=settings.slo_url,
        settings=settings,
        service_providers={expected_sp.entity_id: expected_sp},
        now=now,
        require_signature=True,
    )
    in_response_to = verified.root.get("InResponseTo")
    if in_response_to != expected_request_id:
        raise ResponseMismatch(
            f"LogoutResponse answers {in_response_to!r}; expected {expected_request_id!r}"
        )
    code = verified.root.find(f"{_SAMLP}Status/{_SAMLP}StatusCode")
    value = code.get("Value", "") if code is not None else ""
    return LogoutResponseInfo(expected_sp, in_response_to, value == c.STATUS_SUCCESS, value)


def _message_root(
    tag: str, settings: IdpSamlSettings, destination: str, now: dt.datetime
) -> etree._Element:
    root = etree.Element(tag, nsmap={"samlp": c.SAMLP_NS, "saml": c.SAML_NS})
    root.set("ID", new_id())
    root.set("Version", "2.0")
    root.set("IssueInstant", instant(now))
    root.set("Destination", destination)
    etree.SubElement(root, f"{_SAML}Issuer").text = settings.entity_id
    return root


def _slo_endpoint(sp: ServiceProvider, *, prefer: str) -> Endpoint:
    if not sp.slo:
        raise EndpointMismatch(f"{sp.name} has no SingleLogoutService endpoint")
    for endpoint in sp.slo:
        if endpoint.binding == prefer:
            return endpoint
    return sp.slo[0]


def _send(
    root: etree._Element,
    sp: ServiceProvider,
    endpoint: Endpoint,
    url: str,
    kind: str,
    relay_state: str | None,
    signer: SamlSigner,
) -> OutboundMessage:
    if endpoint.binding == c.BINDING_POST:
        signer.xml_signer(sign_hash=sp.signature_algorithm, digest_hash=sp.digest_algorithm).sign(
            root, id_attribute="ID", insert_after=f"{_SAML}Issuer"
        )
        xml = etree.tostring(root, encoding="UTF-8")
        return encode_post(url=url, kind=kind, xml=xml, relay_state=relay_state)
    xml = etree.tostring(root, encoding="UTF-8")
    return encode_redirect(
        url=url,
        kind=kind,
        xml=xml,
        relay_state=relay_state,
        sig_alg=signer.sig_alg_uri(sp.signature_algorithm),
        sign=lambda octets: signer.sign_octets(octets, sign_hash=sp.signature_algorithm),
    )

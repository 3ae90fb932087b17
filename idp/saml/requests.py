"""Parsing and validating an AuthnRequest (SAML core §3.4.1, profiles §4.1.4.1).

:func:`parse_authn_request` is one ceremony: the decoded binding message and explicit
expectations in, a frozen :class:`AuthnRequestInfo` out, one typed exception per failure.
:func:`check_requested_subject` holds a request that names its subject (core §3.4.1.4) to
that subject: another signed-in user gets a SAML error Response, never their own assertion.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace

from lxml import etree

from idp.config.saml import Endpoint, IdpSamlSettings, ServiceProvider
from idp.saml import constants as c
from idp.saml.attributes import name_id_value
from idp.saml.bindings import InboundMessage, text_of
from idp.saml.errors import (
    EndpointMismatch,
    IdpInitiatedRefused,
    NameIdPolicyUnsupported,
    RelayStateTooLong,
    SubjectMismatch,
    UnknownServiceProvider,
    XmlRejected,
)
from idp.saml.inbound import ReplayCache, remember_id, verify_message
from idp.subject import Subject

_COMPARISONS = ("exact", "minimum", "maximum", "better")


@dataclass(frozen=True)
class RequestedAuthnContext:
    class_refs: tuple[str, ...]
    comparison: str = "exact"


@dataclass(frozen=True)
class AuthnRequestInfo:
    """A validated AuthnRequest: everything the login flow and the response builder need."""

    id: str
    sp: ServiceProvider
    acs: Endpoint
    binding: str
    issue_instant: dt.datetime
    relay_state: str | None
    force_authn: bool
    is_passive: bool
    name_id_format: str | None
    allow_create: bool
    requested_authn_context: RequestedAuthnContext | None
    signed: bool
    #: the NameID of the request's ``<saml:Subject>``: the answer must be about this subject
    subject_name_id: str | None = None
    subject_name_id_format: str | None = None


def parse_authn_request(
    *,
    message: InboundMessage,
    settings: IdpSamlSettings,
    service_providers: Mapping[str, ServiceProvider],
    replay_cache: ReplayCache,
    now: dt.datetime,
) -> AuthnRequestInfo:
    """Validate an AuthnRequest; the request ID is consumed only when everything else holds.

    Raises :class:`~idp.saml.errors.NameIdPolicyUnsupported` (a
    :class:`~idp.saml.errors.SamlStatusError`) after full validation, so the adapter can
    answer the SP with a SAML error Response.
    """
    if message.kind != "SAMLRequest":
        raise XmlRejected("expected a SAMLRequest, got a SAMLResponse")
    verified = verify_message(
        message=message,
        root_tag=f"{{{c.SAMLP_NS}}}AuthnRequest",
        expected_destination=settings.sso_url,
        settings=settings,
        service_providers=service_providers,
        now=now,
        require_signature=settings.want_authn_requests_signed,
    )
    root, sp = verified.root, verified.sp
    _check_relay_state(message.relay_state, sp)
    info = AuthnRequestInfo(
        id=verified.id,
        sp=sp,
        acs=_acs(root, sp),
        binding=message.binding,
        issue_instant=verified.issue_instant,
        relay_state=message.relay_state,
        force_authn=_bool(root, "ForceAuthn"),
        is_passive=_bool(root, "IsPassive"),
        name_id_format=None,
        allow_create=True,
        requested_authn_context=_requested_context(root),
        signed=verified.signed,
    )
    info = _with_subject(root, _with_name_id_policy(root, info))
    remember_id(
        kind="AuthnRequest",
        sp=sp,
        message_id=verified.id,
        replay_cache=replay_cache,
        settings=settings,
    )
    # A transient NameID is a one-time value that reveals nothing, so it is always granted
    # (see responses.name_id_rule); any other format must be the one configured for the SP.
    if info.name_id_format not in (
        None,
        c.NAMEID_UNSPECIFIED,
        c.NAMEID_TRANSIENT,
        sp.name_id.format,
    ):
        raise NameIdPolicyUnsupported(
            f"{sp.name} asked for NameID format {info.name_id_format!r}; "
            f"configured: {sp.name_id.format!r}",
            request=info,
        )
    return info


def check_requested_subject(*, request: AuthnRequestInfo, subject: Subject, salt: str) -> None:
    """Whether ``subject`` is the one ``request`` names, if it names one (core §3.4.1.4).

    The NameID this IdP would issue to the SP for ``subject`` must equal the requested one
    (e-mail addresses compared without case), in the SP's NameID format. A transient NameID
    names nobody across requests, so it never matches. Raises :class:`SubjectMismatch` (a
    SAML error Response with ``Requester``/``UnknownPrincipal``) otherwise; the message does
    not say who is signed in.
    """
    wanted = request.subject_name_id
    if wanted is None:
        return
    sp, rule = request.sp, request.sp.name_id
    asked_format = request.subject_name_id_format
    mismatch = SubjectMismatch(
        f"{sp.name} asked for a sign-in as {wanted[:100]!r}; the signed-in user is not that "
        "subject (sign out and sign in as that user, or start again at the application)",
        request=request,
    )
    if rule.source == "transient" or asked_format == c.NAMEID_TRANSIENT:
        raise mismatch
    if asked_format not in (None, c.NAMEID_UNSPECIFIED, rule.format):
        raise mismatch
    ours = name_id_value(rule=rule, subject=subject, salt=salt, sp_entity_id=sp.entity_id)
    same = ours.casefold() == wanted.casefold() if rule.source == "email" else ours == wanted
    if not same:
        raise mismatch


def idp_initiated(
    *,
    sp_entity_id: str,
    relay_state: str | None,
    service_providers: Mapping[str, ServiceProvider],
) -> ServiceProvider:
    """Check an IdP-initiated SSO start (no AuthnRequest): known SP that allows it."""
    sp = service_providers.get(sp_entity_id)
    if sp is None:
        raise UnknownServiceProvider(f"no service provider is configured as {sp_entity_id[:200]!r}")
    if not sp.allow_idp_initiated:
        raise IdpInitiatedRefused(f"{sp.name} does not accept IdP-initiated sign-in")
    _check_relay_state(relay_state, sp)
    return sp


def _check_relay_state(relay_state: str | None, sp: ServiceProvider) -> None:
    # The spec's 80-byte limit (bindings §3.4.3) is exceeded by real SPs such as Google.
    if relay_state is not None and len(relay_state.encode()) > sp.relay_state_max_bytes:
        raise RelayStateTooLong(
            f"RelayState of {len(relay_state.encode())} bytes; {sp.name} allows "
            f"{sp.relay_state_max_bytes}"
        )


def _acs(root: etree._Element, sp: ServiceProvider) -> Endpoint:
    url, index = root.get("AssertionConsumerServiceURL"), root.get("AssertionConsumerServiceIndex")
    binding = root.get("ProtocolBinding")
    if url is not None and index is not None:
        raise XmlRejected("AssertionConsumerServiceURL and Index are mutually exclusive")
    if binding is not None and binding != c.BINDING_POST:
        raise EndpointMismatch(f"ProtocolBinding {binding[:100]!r} unsupported; HTTP-POST only")
    if url is not None:
        for endpoint in sp.acs:
            if endpoint.url == url:
                return endpoint
        raise EndpointMismatch(f"ACS URL {url[:200]!r} is not in {sp.name}'s metadata")
    if index is not None:
        for endpoint in sp.acs:
            if str(endpoint.index) == index:
                return endpoint
        raise EndpointMismatch(f"ACS index {index[:20]!r} is not in {sp.name}'s metadata")
    return sp.default_acs


def _bool(root: etree._Element, name: str) -> bool:
    value = root.get(name)
    if value is None:
        return False
    if value not in ("true", "false", "1", "0"):
        raise XmlRejected(f"{name} must be an xs:boolean, got {value[:20]!r}")
    return value in ("true", "1")


def _with_name_id_policy(root: etree._Element, info: AuthnRequestInfo) -> AuthnRequestInfo:
    policy = root.find(f"{{{c.SAMLP_NS}}}NameIDPolicy")
    if policy is None:
        return info
    return replace(
        info,
        name_id_format=policy.get("Format"),
        allow_create=policy.get("AllowCreate", "true") in ("true", "1"),
    )


def _with_subject(root: etree._Element, info: AuthnRequestInfo) -> AuthnRequestInfo:
    subject = root.find(f"{{{c.SAML_NS}}}Subject")
    if subject is None:
        return info
    if (
        subject.find(f"{{{c.SAML_NS}}}BaseID") is not None
        or subject.find(f"{{{c.SAML_NS}}}EncryptedID") is not None
    ):
        # Neither can be matched against a user here; answering anyway would ignore §3.4.1.4.
        raise XmlRejected("a Subject given as BaseID or EncryptedID is not supported; use NameID")
    name_id = subject.find(f"{{{c.SAML_NS}}}NameID")
    if name_id is None:
        return info  # only SubjectConfirmation: no one is named
    value = text_of(name_id, what="Subject NameID")
    if not value:
        raise XmlRejected("the Subject's NameID is empty")
    return replace(info, subject_name_id=value, subject_name_id_format=name_id.get("Format"))


def _requested_context(root: etree._Element) -> RequestedAuthnContext | None:
    element = root.find(f"{{{c.SAMLP_NS}}}RequestedAuthnContext")
    if element is None:
        return None
    comparison = element.get("Comparison", "exact")
    if comparison not in _COMPARISONS:
        raise XmlRejected(f"RequestedAuthnContext Comparison {comparison[:20]!r} is invalid")
    refs = tuple(
        text_of(ref, what="AuthnContextClassRef")
        for ref in element.findall(f"{{{c.SAML_NS}}}AuthnContextClassRef")
    )
    if not refs:
        raise XmlRejected("RequestedAuthnContext without AuthnContextClassRef is not supported")
    return RequestedAuthnContext(refs, comparison)

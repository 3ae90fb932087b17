"""One exception per failure stage of SAML message handling, all under :class:`SamlError`.

Each error carries its HTTP status. :class:`SamlStatusError` marks the failures that the SAML
spec answers with a SAML error ``Response`` sent back to the SP (core §3.2.2.2) rather than an
error page: it carries the already-validated request so the adapter can call
:func:`idp.saml.responses.build_error_response`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idp.errors import IdpError
from idp.saml import constants as c

if TYPE_CHECKING:
    from idp.saml.requests import AuthnRequestInfo


class SamlError(IdpError):
    """Root of SAML failures; 400 unless a subclass says otherwise."""

    error = "saml_error"
    status = 400


class MessageDecodeError(SamlError):
    """Base64, DEFLATE or the binding's parameters are malformed."""

    error = "saml_decode_error"


class MessageTooLarge(SamlError):
    """The message (encoded or inflated) is over the configured limit."""

    error = "saml_message_too_large"
    status = 413


class XmlRejected(SamlError):
    """Not well-formed XML, a DOCTYPE/entity, or not the expected SAML element."""

    error = "saml_xml_rejected"


class UnsupportedVersion(SamlError):
    error = "saml_version_mismatch"


class UnknownServiceProvider(SamlError):
    error = "saml_unknown_sp"
    status = 403


class EndpointMismatch(SamlError):
    """ACS URL/index, Destination or SLO endpoint is not one the metadata gives."""

    error = "saml_endpoint_mismatch"
    status = 403


class SignatureRequired(SamlError):
    error = "saml_signature_required"
    status = 403


class SignatureInvalid(SamlError):
    """A signature is present but wrong, uses a refused algorithm or references another node."""

    error = "saml_signature_invalid"
    status = 403


class MessageExpired(SamlError):
    """IssueInstant outside the allowed clock skew, or a NotOnOrAfter past or too far ahead."""

    error = "saml_message_expired"


class MessageReplayed(SamlError):
    error = "saml_message_replayed"


class RelayStateTooLong(SamlError):
    error = "saml_relay_state_too_long"


class IdpInitiatedRefused(SamlError):
    error = "saml_idp_initiated_refused"
    status = 403


class ResponseMismatch(SamlError):
    """A LogoutResponse does not answer the request we sent, or reports failure."""

    error = "saml_response_mismatch"


class BuildError(SamlError):
    """A response cannot be built for this SP (missing attribute source, cert, ...)."""

    error = "saml_build_error"
    status = 500


class SamlStatusError(SamlError):
    """A valid request that we must refuse with a SAML error Response to the SP's ACS."""

    error = "saml_status_error"
    status_code: str = c.STATUS_RESPONDER
    second_level: str | None = None

    def __init__(self, description: str, *, request: AuthnRequestInfo) -> None:
        super().__init__(description)
        self.request = request


class NoPassive(SamlStatusError):
    error = "saml_no_passive"
    status_code = c.STATUS_RESPONDER
    second_level = c.STATUS_NO_PASSIVE


class NoAuthnContext(SamlStatusError):
    error = "saml_no_authn_context"
    status_code = c.STATUS_RESPONDER
    second_level = c.STATUS_NO_AUTHN_CONTEXT


class RequestDenied(SamlStatusError):
    error = "saml_request_denied"
    status = 403
    status_code = c.STATUS_RESPONDER
    second_level = c.STATUS_REQUEST_DENIED


class NameIdPolicyUnsupported(SamlStatusError):
    error = "saml_invalid_nameid_policy"
    status_code = c.STATUS_REQUESTER
    second_level = c.STATUS_INVALID_NAMEID_POLICY


class AuthnFailed(SamlStatusError):
    """The user did not complete the sign-in (cancelled it, or no factor could be used)."""

    error = "saml_authn_failed"
    status = 401
    status_code = c.STATUS_RESPONDER
    second_level = c.STATUS_AUTHN_FAILED


class SubjectMismatch(SamlStatusError):
    """The AuthnRequest names a subject (core §3.4.1.4) who is not the signed-in user."""

    error = "saml_subject_mismatch"
    status = 403
    status_code = c.STATUS_REQUESTER
    second_level = c.STATUS_UNKNOWN_PRINCIPAL

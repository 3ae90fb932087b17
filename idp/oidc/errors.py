"""OIDC/OAuth errors, each with its wire ``error`` code (RFC 6749 §4.1.2.1, §5.2; OIDC Core
§3.1.2.6; RFC 6750 §3.1) and whether it may be sent to the client's ``redirect_uri``.

An error raised before the client and its ``redirect_uri`` are established is never
redirected (OIDC Core §3.1.2.6: the OP must not redirect to an unverified URI); the shell shows
it as an error page instead.

Every ``description`` is reduced, when the error is made, to the characters RFC 6749
§4.1.2.1 and §5.2 allow in ``error_description`` (%x20-21 / %x23-5B / %x5D-7E: printable ASCII
without the double quote and the backslash), so no answer — redirect, form post or JSON — can
carry anything else, whatever the message quotes from the request.
"""

from __future__ import annotations

import enum
from typing import ClassVar

from idp.errors import IdpError

#: longest ``error_description``; the rest of a long message adds nothing a client can act on
MAX_DESCRIPTION = 500
#: readable stand-ins for characters the wire form may not carry
_REPLACEMENTS = {"§": "section ", '"': "'", "\\": "/", "\u2019": "'", "\u2013": "-",
                 "\u2014": "-", "\u2026": "..."}  # fmt: skip


def wire_description(text: str) -> str:
    """``text`` in the ``error_description`` character set; anything else becomes ``?``."""
    out = []
    for char in text:
        char = _REPLACEMENTS.get(char, char)
        if char.isspace():
            out.append(" ")  # newlines and tabs are outside the set; keep the word break
        elif all(" " <= c <= "~" for c in char):
            out.append(char)
        else:
            out.append("?")
    return "".join(out)[:MAX_DESCRIPTION]


class OidcError(IdpError):
    """Root of the OIDC errors; the description is already in its wire form."""

    error: ClassVar[str] = "server_error"
    status: ClassVar[int] = 400
    #: False when the error must not be sent to a redirect_uri (unknown client, bad URI)
    redirectable: ClassVar[bool] = True

    def __init__(self, description: str) -> None:
        super().__init__(wire_description(description))


class InvalidRequestError(OidcError):
    error = "invalid_request"


class UnknownClientError(OidcError):
    """The ``client_id`` of an authorization request is not registered (not redirected)."""

    error = "invalid_client"
    redirectable = False


class InvalidRedirectUriError(OidcError):
    """The ``redirect_uri`` is missing or not registered for the client (not redirected)."""

    error = "invalid_request"
    redirectable = False


class UnsupportedResponseTypeError(OidcError):
    error = "unsupported_response_type"


class InvalidScopeError(OidcError):
    error = "invalid_scope"


class LoginRequiredError(OidcError):
    error = "login_required"


class ConsentRequiredError(OidcError):
    error = "consent_required"


class AccessDeniedError(OidcError):
    error = "access_denied"
    status = 403


class TemporarilyUnavailableError(OidcError):
    error = "temporarily_unavailable"
    status = 503


class UnmetAuthenticationRequirementsError(OidcError):
    """The requested essential ``acr`` cannot be met (OpenID unmet_authentication_requirements)."""

    error = "unmet_authentication_requirements"


class RequestNotSupportedError(OidcError):
    error = "request_not_supported"


class RequestUriNotSupportedError(OidcError):
    error = "request_uri_not_supported"


# -- token endpoint (RFC 6749 §5.2) ------------------------------------------------------------
class InvalidClientError(OidcError):
    """Client authentication failed (HTTP 401 with ``WWW-Authenticate``)."""

    error = "invalid_client"
    status = 401
    redirectable = False


class InvalidGrantError(OidcError):
    error = "invalid_grant"
    redirectable = False


class FamilyRevokedError(InvalidGrantError):
    """This presentation revoked the refresh-token family (a spent token replayed, or a token
    of another client); ``grant_id`` names the family so its access tokens can go too."""

    def __init__(self, description: str, *, grant_id: str) -> None:
        super().__init__(description)
        self.grant_id = grant_id


class UnauthorizedClientError(OidcError):
    error = "unauthorized_client"
    redirectable = False


class UnsupportedGrantTypeError(OidcError):
    error = "unsupported_grant_type"
    redirectable = False


class TokenRequestError(OidcError):
    """A malformed token or userinfo request (``invalid_request``, never redirected)."""

    error = "invalid_request"
    redirectable = False


# -- protected resources (RFC 6750 §3.1) -------------------------------------------------------
class InvalidTokenError(OidcError):
    error = "invalid_token"
    status = 401
    redirectable = False


# -- JWT checks --------------------------------------------------------------------------------
class JwtError(OidcError):
    """A JWT (id_token_hint, client assertion) failed a check; the message says which."""

    error = "invalid_request"
    redirectable = False


class JwtMalformedError(JwtError):
    """Not a compact JWS with a JSON header and a JSON object payload."""


class JwtAlgorithmError(JwtError):
    """The header's ``alg`` is not one we accept here (``none``, ``HS256``, …)."""


class JwtUnknownKeyError(JwtError):
    """No trusted key has the header's ``kid``."""


class JwtSignatureError(JwtError):
    """The signature does not verify with the trusted key named by ``kid``."""


class JwtClaimsError(JwtError):
    """A claim (``iss``, ``aud``, ``iat``, ``exp``, ``tid`` …) is missing or not as expected."""


# -- logout channels (Front-Channel Logout 1.0, Back-Channel Logout 1.0) ----------------------
class LogoutChannelError(OidcError):
    """A logout message was asked for that the client's registration does not allow (no such
    channel, or no ``sid`` for a client that requires one). The caller's plan is at fault,
    never the user's input, so this is a server error."""

    error = "server_error"
    status = 500
    redirectable = False


class DeliveryFailure(enum.Enum):
    """Why a back-channel POST failed (callers branch on it; the description says more)."""

    HTTP_STATUS = "http_status"
    TIMEOUT = "timeout"
    REFUSED = "connection_refused"
    TLS = "tls"
    NETWORK = "network"


class BackchannelDeliveryError(OidcError):
    """A Logout Token could not be delivered; ``kind`` says how it failed. Raised by a
    transport and turned into a failed :class:`~idp.oidc.backchannel.DeliveryResult` by the
    sender: an unreachable client is reported, never fatal to the logout."""

    error = "temporarily_unavailable"
    status = 502
    redirectable = False

    def __init__(self, description: str, *, kind: DeliveryFailure) -> None:
        super().__init__(description)
        self.kind = kind

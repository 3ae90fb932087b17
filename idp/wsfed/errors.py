"""Typed failures of the WS-Federation passive requestor, one class per failure stage.

Every class derives from :class:`WsFedError` (itself an :class:`~idp.errors.IdpError`), so the
adapters render any of them in one place. A request that cannot be trusted (unknown realm,
unregistered ``wreply``) is answered with an error page and never with a redirect: WS-Fed has
no error channel back to the relying party, and redirecting to an unchecked URL would make us
an open redirector.
"""

from __future__ import annotations

from idp.errors import IdpError


class WsFedError(IdpError):
    """Root of every WS-Federation failure."""

    error = "wsfed_error"
    status = 400


class MalformedRequest(WsFedError):
    """A parameter is missing, repeated, not text, too long or not of the expected shape."""

    error = "invalid_request"


class MissingAction(MalformedRequest):
    """No ``wa`` parameter: the request is not a WS-Federation message."""


class UnsupportedAction(MalformedRequest):
    """``wa`` is not ``wsignin1.0``, ``wsignout1.0`` or ``wsignoutcleanup1.0``."""

    error = "unsupported_action"


class ContextTooLarge(MalformedRequest):
    """``wctx`` is larger than we echo back (2 KB by default)."""

    error = "request_too_large"
    status = 413


class UnknownRealm(WsFedError):
    """``wtrealm`` names no configured relying party."""

    error = "unknown_realm"


class UnregisteredReply(WsFedError):
    """``wreply`` is not a reply URL registered for the realm."""

    error = "unregistered_reply"


class ClaimUnavailable(WsFedError):
    """A claim the relying party requires has no value for this employee (e.g. no objectSid)."""

    error = "claim_unavailable"
    status = 403


class TokenBuildError(WsFedError):
    """The token could not be built or signed (a server-side fault, never the caller's)."""

    error = "token_build_error"
    status = 500

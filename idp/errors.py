"""The root exception of the core and the shared error shape.

Every error the core raises derives from :class:`IdpError`. Each carries its wire form
(``error`` code, HTTP ``status``, a ``description`` safe to show to the client) so that the
adapters render it in one place instead of repeating ``except`` blocks in every handler.
Messages say what was expected and what arrived; they never carry secrets or stack traces.
"""

from __future__ import annotations

import secrets
from typing import ClassVar


class IdpError(Exception):
    """Root of every error raised by :mod:`idp`."""

    error: ClassVar[str] = "server_error"
    status: ClassVar[int] = 500
    #: seconds after which trying again may succeed (a 429's or 503's Retry-After, RFC 9110 §10.2.3)
    retry_after: int | None = None

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description
        self.error_id = secrets.token_hex(6)

    def headers(self) -> dict[str, str]:
        """The HTTP headers this error's answer carries besides its body."""
        return {} if self.retry_after is None else {"Retry-After": str(max(1, self.retry_after))}

    def to_dict(self) -> dict[str, str]:
        return {
            "error": self.error,
            "error_description": self.description,
            "error_id": self.error_id,
        }


class InvalidRequest(IdpError):
    """The request is malformed, oversized or hostile (HTTP 400)."""

    error = "invalid_request"
    status = 400


class RequestTooLarge(InvalidRequest):
    error = "request_too_large"
    status = 413


class Unauthorized(IdpError):
    """The caller is not authenticated or the credential did not verify (HTTP 401)."""

    error = "unauthorized"
    status = 401


class AccessDenied(IdpError):
    """Authenticated, but not allowed (HTTP 403)."""

    error = "access_denied"
    status = 403


class NotFound(IdpError):
    error = "not_found"
    status = 404


class Conflict(IdpError):
    error = "conflict"
    status = 409


class ReplayDetected(InvalidRequest):
    """A single-use value (request id, challenge, code) arrived a second time."""

    error = "replay_detected"


class ConfigError(IdpError):
    """A configuration file is invalid. Raised at start, never on a request path."""

    error = "config_error"

    def __init__(self, source: str, path: str, reason: str) -> None:
        self.source = source
        self.path = path
        self.reason = reason
        where = f"{source}: {path}" if path else source
        super().__init__(f"{where}: {reason}")


class SecretsLocked(IdpError):
    """Secrets at rest cannot be decrypted because no data key is unlocked."""

    error = "secrets_locked"
    status = 503

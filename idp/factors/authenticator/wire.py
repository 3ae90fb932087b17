"""The authenticator protocol's wire model (docs/authenticator-protocol.md), shared by the
server and every client: the canonical bytes a device signs, header names, limits and the
enrolment URI. Standard library only, so that a client can import it without the server.

A device-signed request carries four headers; the signature is ECDSA P-256 with SHA-256
(DER, base64url without padding) over :func:`canonical_request`::

    HIDEEZ-DEVICE-REQUEST-V1 \\n device-id \\n METHOD \\n path \\n timestamp \\n nonce \\n
    hex(SHA-256(body))

(lines joined by a single ``\\n``, no trailing newline; ``path`` is the request path without
the query; ``timestamp`` whole seconds since the epoch, in decimal).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

SIGNING_CONTEXT = "HIDEEZ-DEVICE-REQUEST-V1"
HEADER_DEVICE = "X-Hideez-Device"
HEADER_TIMESTAMP = "X-Hideez-Timestamp"
HEADER_NONCE = "X-Hideez-Nonce"
HEADER_SIGNATURE = "X-Hideez-Signature"

API_PREFIX = "/api/authenticator/v1"
REGISTER_PATH = API_PREFIX + "/devices"
CHALLENGES_PATH = API_PREFIX + "/challenges"


def answer_path(transaction_id: str) -> str:
    return f"{CHALLENGES_PATH}/{transaction_id}/answer"


ENROL_SCHEME = "hideez-idp"
DEVICE_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
TRANSACTION_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_BODY = 8 * 1024
MAX_DISPLAY_NAME = 64
MAX_PUSH_TOKEN = 4096
PLATFORMS = ("android", "ios", "desktop", "other")
PUSH_PROVIDERS = ("fcm", "apns")
DECISIONS = ("approve", "deny")
#: why a person denied: they did not start this sign-in, or they only chose not to go on
DENY_REASONS = ("not_me", "declined")


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64u(text: str) -> bytes:
    """base64url with or without padding; raises ValueError on anything else."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical_request(
    *, device_id: str, method: str, path: str, timestamp: int, nonce: str, body: bytes
) -> bytes:
    """The bytes a device signs for one request (see the module docstring)."""
    lines = (
        SIGNING_CONTEXT,
        device_id,
        method.upper(),
        path,
        str(timestamp),
        nonce,
        body_digest(body),
    )
    return "\n".join(lines).encode("utf-8")


@dataclass(frozen=True)
class EnrolmentInvite:
    """What the enrolment QR code holds: the server to talk to and the one-time token."""

    server: str
    token: str

    def uri(self) -> str:
        return f"{ENROL_SCHEME}://enrol?" + urlencode({"server": self.server, "token": self.token})

    @classmethod
    def parse(cls, text: str) -> EnrolmentInvite:
        """Parse the QR content; raises ValueError saying what is wrong."""
        if len(text) > 2048:
            raise ValueError("the enrolment code is longer than 2048 characters")
        parts = urlsplit(text.strip())
        if parts.scheme != ENROL_SCHEME or parts.netloc != "enrol":
            raise ValueError(f"expected a {ENROL_SCHEME}://enrol?… code, got {text[:60]!r}")
        query = parse_qs(parts.query)
        server = (query.get("server") or [""])[0]
        token = (query.get("token") or [""])[0]
        if urlsplit(server).scheme not in ("http", "https") or not urlsplit(server).hostname:
            raise ValueError("the enrolment code names no http(s) server")
        if not re.fullmatch(r"[A-Za-z0-9_-]{16,128}", token):
            raise ValueError("the enrolment code carries no valid token")
        return cls(server=server.rstrip("/"), token=token)

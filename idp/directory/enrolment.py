"""One-time enrolment links: how an employee registers a first passkey.

A link carries a random token (32 bytes, base64url); the store keeps only its SHA-256, so a
copy of the database does not hand out enrolment links. A link is valid for 24 hours (the
Hideez invitation lifetime) and for one use. These functions are pure; the store applies
them atomically.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from idp.errors import IdpError

LINK_LIFETIME = dt.timedelta(hours=24)
TOKEN_BYTES = 32
_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")


class EnrolmentError(IdpError):
    """Root of the enrolment-link errors."""

    error = "enrolment_error"
    status = 400


class UnknownEnrolmentLink(EnrolmentError):
    """No such link (or a malformed token: the two are not told apart to the caller)."""

    error = "enrolment_link_unknown"
    status = 404


class EnrolmentLinkExpired(EnrolmentError):
    error = "enrolment_link_expired"
    status = 410


class EnrolmentLinkUsed(EnrolmentError):
    error = "enrolment_link_used"
    status = 410


@dataclass(frozen=True)
class EnrolmentLink:
    """A stored link: whose it is, who made it, and when it stops working."""

    token_hash: str
    employee_id: str
    created_by: str
    created_at: dt.datetime
    expires_at: dt.datetime
    used_at: dt.datetime | None = None


def hash_token(token: str) -> str:
    """SHA-256 (hex) of a well-formed token; a malformed one is an unknown link."""
    if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
        raise UnknownEnrolmentLink("the enrolment link is not valid")
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def issue_link(
    *,
    employee_id: str,
    created_by: str,
    now: dt.datetime,
    lifetime: dt.timedelta = LINK_LIFETIME,
) -> tuple[str, EnrolmentLink]:
    """A fresh token and the link to store for it (the token itself is never stored)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if lifetime <= dt.timedelta(0):
        raise ValueError(f"lifetime must be positive, got {lifetime}")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = EnrolmentLink(
        token_hash=hash_token(token),
        employee_id=employee_id,
        created_by=created_by,
        created_at=now,
        expires_at=now + lifetime,
    )
    return token, link


def check_redeemable(link: EnrolmentLink | None, *, now: dt.datetime) -> EnrolmentLink:
    """``link`` if it can be used at ``now``; otherwise the typed reason it cannot."""
    if link is None:
        raise UnknownEnrolmentLink("the enrolment link is not valid")
    if link.used_at is not None:
        raise EnrolmentLinkUsed(
            f"the enrolment link was already used at {link.used_at.isoformat()}"
        )
    if now >= link.expires_at:
        raise EnrolmentLinkExpired(
            f"the enrolment link expired at {link.expires_at.isoformat()}; ask for a new one"
        )
    return link

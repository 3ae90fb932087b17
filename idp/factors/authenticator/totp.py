"""TOTP (RFC 6238) ceremonies: new secrets, the ``otpauth://`` URI, and verification.

Secrets are 160 bits (RFC 4226 §4 recommends it; pyotp refuses fewer than 112). A code is
accepted for the current step and one step either side (RFC 6238 §5.2), and only for a step
later than the last one used, so a code cannot be used twice (§5.2: "the verifier MUST NOT
accept the second attempt of the OTP after the successful validation").
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import quote

import pyotp

from idp.factors.authenticator.errors import TotpError, TotpReused

SECRET_BYTES = 20
_DIGESTS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256}
MAX_CODE_FIELD = 16


def new_secret() -> str:
    """A random 160-bit secret in base32 (32 characters, no padding)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def provisioning_uri(
    *, secret: str, account: str, issuer: str, algorithm: str, digits: int, period: int
) -> str:
    """The ``otpauth://totp/…`` URI authenticator apps read from a QR code (Key Uri Format)."""
    label = quote(f"{issuer}:{account}", safe="@:")
    return (
        f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}"
        f"&algorithm={algorithm}&digits={digits}&period={period}"
    )


@dataclass(frozen=True)
class TotpMatch:
    #: the time step the code belongs to (what is stored as the last used step)
    step: int


def verify_code(
    *,
    secret: str,
    code: str,
    now: dt.datetime,
    algorithm: str,
    digits: int,
    period: int,
    last_used_step: int | None,
) -> TotpMatch:
    """Check ``code`` at ``now`` ±1 step; raise :class:`TotpError` or :class:`TotpReused`."""
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != digits:
        raise TotpError(f"expected a {digits}-digit code, got {len(code)} characters")
    totp = pyotp.TOTP(secret, digits=digits, digest=_DIGESTS[algorithm], interval=period)
    current = int(now.timestamp()) // period
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            if last_used_step is not None and step <= last_used_step:
                raise TotpReused("this code was already used; wait for the next one")
            return TotpMatch(step=step)
    raise TotpError("the code is not correct; check the time on your phone and try again")

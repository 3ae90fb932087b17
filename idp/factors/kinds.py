"""Factor kinds and how a use of one is described to relying parties."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class FactorKind(StrEnum):
    PASSKEY = "passkey"
    TOTP = "totp"
    AUTHENTICATOR_APP = "authenticator_app"
    HARDWARE_VAULT = "hardware_vault"
    PASSWORD = "password"  # the first factor of the two-factor SSO mode only


@dataclass(frozen=True)
class FactorUse:
    """One successful factor ceremony inside a sign-in.

    ``amr`` follows RFC 8176 (``hwk`` hardware-bound key, ``swk`` software key, ``otp``,
    ``pwd``, ``user`` user presence+verification as ``fido`` per the FIDO profile) and is what
    OIDC/EAM ``amr`` and SAML AuthnContext derive from.
    """

    kind: FactorKind
    credential_id: str
    at: dt.datetime
    user_verified: bool
    amr: tuple[str, ...]

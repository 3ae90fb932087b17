"""Factor kinds and how a use of one is described to relying parties."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

#: the values a passkey use is described with: RFC 8176 §2, and ``fido``, which is not in
#: RFC 8176 but is Entra's value for a FIDO2 passkey sign-in (one Entra always makes with
#: user verification) and what EAM answers name
AMR_FIDO = "fido"
AMR_HARDWARE_KEY = "hwk"
AMR_SOFTWARE_KEY = "swk"
#: the user-presence test (UP flag): every WebAuthn use passes it, a U2F touch included
PRESENCE_AMR: tuple[str, ...] = ("user",)
#: the authenticator verified its user (UV flag). WebAuthn does not say whether by PIN or by
#: biometric; ``pin`` (a PIN or pattern that unlocks a key on the device) is the RFC 8176
#: value that covers what every verifying authenticator offers, and possession plus
#: verification is two factors, so ``mfa`` too.
VERIFICATION_AMR: tuple[str, ...] = ("pin", "mfa")


class FactorKind(StrEnum):
    PASSKEY = "passkey"
    TOTP = "totp"
    AUTHENTICATOR_APP = "authenticator_app"
    HARDWARE_VAULT = "hardware_vault"
    PASSWORD = "password"  # the first factor of the two-factor SSO mode only


@dataclass(frozen=True)
class FactorUse:
    """One successful factor ceremony inside a sign-in.

    ``amr`` follows RFC 8176 (``hwk`` hardware-bound key, ``swk`` software key, ``user``
    presence test, ``pin`` user verification, ``otp``, ``pwd``, ``mfa``) and is what OIDC/EAM
    ``amr`` and SAML AuthnContext derive from; ``user_verified`` is the UV flag of the
    ceremony, which :func:`idp.policy.evaluate` weighs before it claims any context.
    """

    kind: FactorKind
    credential_id: str
    at: dt.datetime
    user_verified: bool
    amr: tuple[str, ...]

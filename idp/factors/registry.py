"""Registered factors of an employee (what the store keeps for each credential)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from idp.factors.kinds import FactorKind


@dataclass(frozen=True)
class PasskeyCredential:
    """A WebAuthn credential (platform passkey or roaming security key, incl. U2F keys).

    ``credential_id`` is the base64url (unpadded) credential id; ``public_key`` the COSE key.
    """

    credential_id: str
    employee_id: str
    public_key: bytes
    sign_count: int
    aaguid: str
    transports: tuple[str, ...]
    backup_eligible: bool
    backed_up: bool
    user_verified: bool
    attestation_format: str
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None = None
    kind: FactorKind = FactorKind.PASSKEY

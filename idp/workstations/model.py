"""The workstation as the server knows it, its status and its settings.

A workstation's id is derived from its P-256 public key (:func:`workstation_id_for`), so a
gateway cannot claim another workstation's id without that workstation's private key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from idp.workstations.errors import InvalidLinkMessage, InvalidWorkstationInput

WORKSTATION_ID = re.compile(r"ws-[a-z2-7]{32}")
#: the descriptive fields a gateway reports (limits keep a hostile gateway from filling rows)
FIELD_LIMITS = {"name": 255, "domain": 255, "os": 128, "ip": 64, "client_version": 64}


class WorkstationStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    UNAPPROVED = "unapproved"
    REMOVED = "removed"


def workstation_id_for(public_key: ec.EllipticCurvePublicKey) -> str:
    """``ws-`` + base32 of the first 20 bytes of SHA-256 over the key's SubjectPublicKeyInfo."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashlib.sha256(spki).digest()[:20]
    return "ws-" + base64.b32encode(digest).decode("ascii").lower()


def load_public_key(spki_b64: str) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from base64 (standard alphabet) DER SubjectPublicKeyInfo."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(spki_b64, validate=True))
    except (ValueError, TypeError) as exc:
        raise InvalidLinkMessage("public_key: expected base64 DER SubjectPublicKeyInfo") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidLinkMessage("public_key: expected an EC P-256 key")
    return key


def public_key_b64(public_key: ec.EllipticCurvePublicKey) -> str:
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(spki).decode("ascii")


@dataclass(frozen=True)
class ProximitySettings:
    """The Hideez defaults: lock below 30, unlock above 70 (0-100 from RSSI), after 5 s."""

    lock_proximity: int = 30
    unlock_proximity: int = 70
    lock_timeout: int = 5

    def __post_init__(self) -> None:
        for name in ("lock_proximity", "unlock_proximity"):
            value = getattr(self, name)
            if not 0 <= value <= 100:
                raise InvalidWorkstationInput(f"{name}: expected 0-100, got {value}")
        if self.unlock_proximity <= self.lock_proximity:
            raise InvalidWorkstationInput(
                f"unlock_proximity ({self.unlock_proximity}) must be above lock_proximity "
                f"({self.lock_proximity})"
            )
        if not 1 <= self.lock_timeout <= 300:
            raise InvalidWorkstationInput(
                f"lock_timeout: expected 1-300 seconds, got {self.lock_timeout}"
            )

    def to_wire(self) -> dict[str, int]:
        return {
            "lock_proximity": self.lock_proximity,
            "unlock_proximity": self.unlock_proximity,
            "lock_timeout": self.lock_timeout,
        }


@dataclass(frozen=True)
class WorkstationInfo:
    """What a gateway says about itself when it registers (and on every hello)."""

    name: str
    domain: str
    os: str
    ip: str
    client_version: str

    @classmethod
    def from_wire(cls, body: dict[str, object]) -> WorkstationInfo:
        values: dict[str, str] = {}
        for name, limit in FIELD_LIMITS.items():
            value = body.get(name, "")
            if not isinstance(value, str) or len(value) > limit or "\x00" in value:
                raise InvalidLinkMessage(f"{name}: expected text of at most {limit} characters")
            values[name] = value
        if not values["name"]:
            raise InvalidLinkMessage("name: a workstation name is required")
        return cls(**values)

    def to_wire(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELD_LIMITS}


@dataclass(frozen=True)
class Workstation:
    id: str
    info: WorkstationInfo
    public_key: str
    status: WorkstationStatus
    settings: ProximitySettings
    registered_at: dt.datetime
    last_seen_at: dt.datetime | None
    approved_by: str | None = None
    approved_at: dt.datetime | None = None

    @property
    def approved(self) -> bool:
        return self.status is WorkstationStatus.APPROVED

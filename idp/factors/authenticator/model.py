"""What the server keeps about an employee's authenticator app and TOTP credential."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class DeviceStatus(StrEnum):
    ACTIVE = "active"
    #: an administrator switched it off for sign-in (it stays enrolled; ``enable`` reverses it)
    DISABLED = "disabled"


@dataclass(frozen=True)
class Device:
    """An enrolled authenticator app: one per employee (re-enrolment replaces it).

    ``public_key`` is the device's P-256 key as DER SubjectPublicKeyInfo; ``push_token`` is
    the FCM registration token or APNs device token, ``None`` for a polling-only app, and
    ``push_unregistered_at`` is set when the push service said the token is gone.
    """

    device_id: str
    employee_id: str
    public_key: bytes
    display_name: str
    platform: str
    status: DeviceStatus
    created_at: dt.datetime
    push_provider: str | None = None
    push_token: str | None = None
    push_unregistered_at: dt.datetime | None = None
    last_seen_at: dt.datetime | None = None
    #: "this wasn't me" answers, for the administrator
    reported_count: int = 0

    @property
    def usable(self) -> bool:
        return self.status is DeviceStatus.ACTIVE


@dataclass(frozen=True)
class TotpCredential:
    """A TOTP secret, encrypted with the secrets envelope; the plaintext is never kept."""

    employee_id: str
    secret_encrypted: bytes
    algorithm: str
    digits: int
    period: int
    created_at: dt.datetime
    confirmed: bool
    last_used_step: int | None = None

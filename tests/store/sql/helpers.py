"""Builders shared by the repository tests."""

from __future__ import annotations

import datetime as dt

from idp.directory.model import Employee
from idp.factors.registry import PasskeyCredential

NOW = dt.datetime(2025, 4, 1, 8, 30, 15, 123456, tzinfo=dt.UTC)


def employee(n: int = 1, **changes: object) -> Employee:
    values: dict[str, object] = {
        "id": f"emp-{n}",
        "username": f"User{n}",
        "email": f"User{n}@Example.com",
        "first_name": f"First{n}",
        "last_name": f"Last{n}",
    }
    values.update(changes)
    return Employee(**values)  # type: ignore[arg-type]


def passkey(
    credential_id: str = "cred-1", employee_id: str = "emp-1", **changes: object
) -> PasskeyCredential:
    values: dict[str, object] = {
        "credential_id": credential_id,
        "employee_id": employee_id,
        "public_key": b"\xa5\x01\x02\x03&",
        "sign_count": 5,
        "aaguid": "00000000-0000-0000-0000-000000000000",
        "transports": ("usb", "nfc"),
        "backup_eligible": False,
        "backed_up": False,
        "user_verified": True,
        "attestation_format": "packed",
        "name": "YubiKey 5",
        "created_at": NOW,
    }
    values.update(changes)
    return PasskeyCredential(**values)  # type: ignore[arg-type]

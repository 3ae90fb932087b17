"""The key's GATT layout and advertisement (docs/key-protocol.md, "GATT")."""

from __future__ import annotations

import re

#: the Hideez Key vault service; the key advertises it, the gateway scans for it
SERVICE_UUID = "6e7a1000-4b1d-4f5e-9c1a-3d2f0e8a7b10"
#: host → key frames (Write Without Response is not used: every write is acknowledged)
WRITE_UUID = "6e7a1001-4b1d-4f5e-9c1a-3d2f0e8a7b10"
#: key → host frames, as notifications
NOTIFY_UUID = "6e7a1002-4b1d-4f5e-9c1a-3d2f0e8a7b10"
#: the advertised local name is this prefix and the serial
NAME_PREFIX = "HK-"
#: a key's serial as printed on it (e.g. ST10301234567890); ``HK-`` and up to 26 characters
#: fill the 31-byte scan response with its 2-byte field header
SERIAL = re.compile(r"[A-Z0-9][A-Z0-9-]{3,25}")
SERIAL_MAX = 26
#: the ATT MTU bumble and most centrals agree on without an exchange; frames fit in MTU - 3
DEFAULT_MTU = 23


def serial_from_name(name: str | None) -> str | None:
    """The serial a key advertises in its local name, or None for anything else."""
    if name is None or not name.startswith(NAME_PREFIX):
        return None
    serial = name[len(NAME_PREFIX) :]
    return serial if SERIAL.fullmatch(serial) else None


def advertised_name(serial: str) -> str:
    if not SERIAL.fullmatch(serial):
        raise ValueError(f"a serial is 4-26 capital letters, digits and -, got {serial!r}")
    return NAME_PREFIX + serial

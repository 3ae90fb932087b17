"""The authenticator's state on disk: one directory, the device key (PEM, mode 0600) and a
JSON file with the enrolment and the TOTP accounts. Writes go to a temporary file first, so
a crash never leaves half a state."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

STATE_FILE = "authenticator.json"
KEY_FILE = "device-key.pem"


@dataclass
class Enrolment:
    server: str
    device_id: str
    username: str
    display_name: str


@dataclass
class State:
    enrolment: Enrolment | None = None
    #: label → otpauth:// URI
    totp: dict[str, str] = field(default_factory=dict)
    #: workstation id → the offline-code grant of the last PC login there (plus ``used``)
    offline: dict[str, dict[str, object]] = field(default_factory=dict)


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


class StateDir:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def load(self) -> State:
        path = self.directory / STATE_FILE
        if not path.exists():
            return State()
        data = json.loads(path.read_text())
        enrolment = data.get("enrolment")
        return State(
            enrolment=Enrolment(**enrolment) if enrolment else None,
            totp=dict(data.get("totp", {})),
            offline=dict(data.get("offline", {})),
        )

    def save(self, state: State) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = {"enrolment": asdict(state.enrolment) if state.enrolment else None,
                "totp": state.totp, "offline": state.offline}  # fmt: skip
        _write_private(self.directory / STATE_FILE, json.dumps(data, indent=2).encode())

    def key(self) -> ec.EllipticCurvePrivateKey | None:
        path = self.directory / KEY_FILE
        if not path.exists():
            return None
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path} does not hold an EC private key")
        return key

    def save_key(self, key: ec.EllipticCurvePrivateKey) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private(self.directory / KEY_FILE, pem)

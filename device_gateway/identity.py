"""The workstation's identity: a P-256 key made at first start and kept with 0600 permissions."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from idp.workstations.model import public_key_b64, workstation_id_for

KEY_FILE = "workstation.key"
STATE_FILE = "state.json"


class IdentityError(Exception):
    """The identity files are unreadable or too open."""


@dataclass
class Identity:
    key: ec.EllipticCurvePrivateKey
    directory: Path
    #: set once the server has welcomed this workstation (later connections say hello)
    registered: bool = False

    @property
    def workstation_id(self) -> str:
        return workstation_id_for(self.key.public_key())

    @property
    def public_key(self) -> str:
        return public_key_b64(self.key.public_key())

    @classmethod
    def load_or_create(cls, directory: Path) -> Identity:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = directory / KEY_FILE
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            # Created 0600 from the start: never readable by others, not even for a moment.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            return cls(key, directory)
        if os.name == "posix" and path.stat().st_mode & 0o077:
            raise IdentityError(f"{path} is readable by others: chmod 600 it")
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise IdentityError(f"{path} does not hold an EC private key")
        state = directory / STATE_FILE
        registered = bool(state.exists() and json.loads(state.read_text()).get("registered"))
        return cls(loaded, directory, registered)

    def mark_registered(self) -> None:
        if not self.registered:
            self.registered = True
            (self.directory / STATE_FILE).write_text(json.dumps({"registered": True}))

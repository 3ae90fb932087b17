"""Secrets sealed to a workstation's P-256 key: ECDH (ephemeral-static) + HKDF-SHA256 + AES-GCM.

The server seals a credential (a domain password for PC login) to the public key the
workstation registered; only the gateway holding the private key opens it. The ephemeral
public key, the workstation id and the purpose are bound into the HKDF info and the AES-GCM
associated data, so a sealed value cannot be replayed to another workstation or for another
purpose. This is the construction of ECIES as in SEC 1 §5.1 with HKDF (RFC 5869) as the KDF.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.workstations.errors import SealedCredentialInvalid
from idp.workstations.wire import b64url, unb64url

SUITE = "ECDH-P256+HKDF-SHA256+A256GCM"
_INFO = b"hideez-idp sealed v1"
MAX_PLAINTEXT = 4096
#: the purpose a PC-login password is sealed for
PASSWORD_PURPOSE = "pc-login-password"
#: the purpose a key's primary-account password is sealed for (a proximity unlock)
KEY_PASSWORD_PURPOSE = "key-unlock-password"


@dataclass(frozen=True)
class Sealed:
    epk: str
    nonce: str
    ciphertext: str

    def to_wire(self) -> dict[str, str]:
        return {"suite": SUITE, "epk": self.epk, "nonce": self.nonce, "ct": self.ciphertext}

    @classmethod
    def from_wire(cls, value: object) -> Sealed:
        if not isinstance(value, dict) or value.get("suite") != SUITE:
            raise SealedCredentialInvalid(f"expected a sealed value of suite {SUITE}")
        parts = [value.get(k) for k in ("epk", "nonce", "ct")]
        if not all(isinstance(p, str) and len(p) < 8192 for p in parts):
            raise SealedCredentialInvalid("a sealed value has epk, nonce and ct as base64url")
        epk, nonce, ct = (str(p) for p in parts)
        return cls(epk, nonce, ct)


def _key(shared: bytes, epk: bytes, workstation_id: str, purpose: str) -> bytes:
    info = b"|".join((_INFO, workstation_id.encode(), purpose.encode(), epk))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


def seal(
    plaintext: bytes, *, recipient: ec.EllipticCurvePublicKey, workstation_id: str, purpose: str
) -> Sealed:
    if len(plaintext) > MAX_PLAINTEXT:
        raise ValueError(f"a sealed value is at most {MAX_PLAINTEXT} bytes")
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    epk = ephemeral.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    key = _key(ephemeral.exchange(ec.ECDH(), recipient), epk, workstation_id, purpose)
    nonce = os.urandom(12)
    aad = workstation_id.encode() + b"|" + purpose.encode()
    ciphertext = AESGCM(key).encrypt(nonce, plaintext, aad)
    return Sealed(b64url(epk), b64url(nonce), b64url(ciphertext))


def open_sealed(
    sealed: Sealed, *, key: ec.EllipticCurvePrivateKey, workstation_id: str, purpose: str
) -> bytes:
    try:
        epk = unb64url(sealed.epk)
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), epk)
        nonce, ciphertext = unb64url(sealed.nonce), unb64url(sealed.ciphertext)
        if len(nonce) != 12:
            raise ValueError("nonce")
        shared = key.exchange(ec.ECDH(), peer)
        aad = workstation_id.encode() + b"|" + purpose.encode()
        return AESGCM(_key(shared, epk, workstation_id, purpose)).decrypt(nonce, ciphertext, aad)
    except (ValueError, InvalidTag) as exc:
        raise SealedCredentialInvalid(
            f"the sealed {purpose} does not open with the key of {workstation_id}"
        ) from exc


def open_text(
    value: object, *, key: ec.EllipticCurvePrivateKey, workstation_id: str, purpose: str
) -> str:
    """The text sealed in ``value`` (a sealed value's wire form), as the gateway opens it."""
    opened = open_sealed(
        Sealed.from_wire(value), key=key, workstation_id=workstation_id, purpose=purpose
    )
    try:
        return opened.decode("utf-8")
    except UnicodeDecodeError:
        raise SealedCredentialInvalid(f"the sealed {purpose} is not UTF-8 text") from None

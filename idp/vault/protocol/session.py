"""The session's cryptography, shared by host and key (docs/key-protocol.md, "Session").

Both sides prove the master key over the handshake transcript (HMAC-SHA256, one label per
direction), then derive two AES-256-GCM keys from the ECDH P-256 secret with HKDF-SHA256
(salt: the master key; info: label and transcript hash). A sealed message carries its 8-byte
counter; the nonce is the direction byte, three zero bytes and the counter; the AAD is the
type byte and the counter. A receiver accepts only the next counter, so a replayed, reordered
or dropped message is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.vault.protocol.errors import AuthenticationFailed, MalformedMessage, ReplayedMessage
from idp.vault.protocol.messages import MASTER_KEY_BYTES, Outer

#: an unlinked key has no master key; its one session (info, link) is keyed with this
UNLINKED_KEY = bytes(MASTER_KEY_BYTES)
HOST_TO_KEY = 0x01
KEY_TO_HOST = 0x02
_COUNTER = struct.Struct(">Q")
_TAG_BYTES = 16


def transcript(
    hello: bytes, *, serial: str, linked: bool, nonce: bytes, public_key: bytes
) -> bytes:
    """SHA-256 of the host's HELLO message and the key's reply without its proof."""
    h = hashlib.sha256(b"hideez-key v1\x00")
    h.update(struct.pack(">H", len(hello)) + hello)
    h.update(struct.pack(">B", len(serial)) + serial.encode() + bytes([linked]))
    h.update(nonce + public_key)
    return h.digest()


def proof(auth_key: bytes, label: bytes, transcript_hash: bytes) -> bytes:
    return hmac.new(auth_key, label + transcript_hash, hashlib.sha256).digest()


def check_proof(auth_key: bytes, label: bytes, transcript_hash: bytes, got: bytes) -> None:
    if not hmac.compare_digest(proof(auth_key, label, transcript_hash), got):
        side = "key" if label == b"key" else "host"
        raise AuthenticationFailed(
            f"the {side}'s proof does not verify: it does not hold this key's master key"
        )


def new_ephemeral() -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return private, public


def shared_secret(private: ec.EllipticCurvePrivateKey, peer_public: bytes) -> bytes:
    try:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), peer_public)
    except ValueError:
        raise MalformedMessage("the peer's public key is not a P-256 point") from None
    return private.exchange(ec.ECDH(), peer)


@dataclass(frozen=True)
class SessionKeys:
    host_to_key: bytes
    key_to_host: bytes


def derive(secret: bytes, auth_key: bytes, transcript_hash: bytes) -> SessionKeys:
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=64,
        salt=auth_key,
        info=b"hideez-key session v1" + transcript_hash,
    ).derive(secret)
    return SessionKeys(okm[:32], okm[32:])


def _nonce(direction: int, counter: int) -> bytes:
    return bytes([direction, 0, 0, 0]) + _COUNTER.pack(counter)


class Channel:
    """One side's sealed channel: its own send counter and the peer's expected counter."""

    def __init__(self, keys: SessionKeys, *, host: bool) -> None:
        send_key, receive_key = (
            (keys.host_to_key, keys.key_to_host) if host else (keys.key_to_host, keys.host_to_key)
        )
        self._send = AESGCM(send_key)
        self._receive = AESGCM(receive_key)
        self._send_dir, self._receive_dir = (
            (HOST_TO_KEY, KEY_TO_HOST) if host else (KEY_TO_HOST, HOST_TO_KEY)
        )
        self._sent = 0
        self._expected = 0

    def seal(self, plaintext: bytes) -> bytes:
        counter = _COUNTER.pack(self._sent)
        aad = bytes([Outer.SEALED]) + counter
        sealed = self._send.encrypt(_nonce(self._send_dir, self._sent), plaintext, aad)
        self._sent += 1
        return aad + sealed

    def open(self, message: bytes) -> bytes:
        """The plaintext of a SEALED message (its type byte included)."""
        if len(message) < 1 + _COUNTER.size + _TAG_BYTES or message[0] != Outer.SEALED:
            raise MalformedMessage("a sealed message is 0x10, an 8-byte counter and a ciphertext")
        (counter,) = _COUNTER.unpack_from(message, 1)
        if counter != self._expected:
            what = "replayed" if counter < self._expected else "ahead of its turn"
            raise ReplayedMessage(
                f"sealed message {counter} is {what}: message {self._expected} was due"
            )
        aad = message[: 1 + _COUNTER.size]
        try:
            plaintext = self._receive.decrypt(
                _nonce(self._receive_dir, counter), message[len(aad) :], aad
            )
        except InvalidTag:
            raise AuthenticationFailed(
                "a sealed message does not decrypt with the session key"
            ) from None
        self._expected += 1
        return plaintext

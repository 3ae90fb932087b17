"""Secrets at rest: envelope encryption with AES-256-GCM.

A random 256-bit *data key* encrypts every secret (OTP seeds, key master keys, activation
codes, bind passwords). The data key is stored only *wrapped* (AES-GCM) by a key-encryption
key (KEK) that is either derived from an admin passphrase (scrypt n=2**15, r=8, p=1, or
PBKDF2-SHA256 with 600,000 iterations; the choice, its parameters and the salt are recorded in
the wrapped blob) or given by the environment (``HIDEEZ_IDP_MASTER_KEY``, base64 of 32 bytes).

Wrapped data key (:class:`WrappedDataKey`, 106 bytes)::

    version(1)=1 | kdf(1) | param_a(4) | param_b(4) | param_c(4) | salt(16) | key_id(16)
    | nonce(12) | AES-GCM(kek, data_key, aad=everything before the nonce)(48)

Secret (:meth:`SecretBox.encrypt`)::

    version(1)=1 | key_id(16) | nonce(12) | AES-GCM(data_key, plaintext, aad=version|key_id|aad)

The caller's ``aad`` binds a ciphertext to its purpose and owner (:func:`secret_aad`), so a
ciphertext copied into another row or column does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from idp.errors import IdpError, SecretsLocked

MASTER_KEY_ENV = "HIDEEZ_IDP_MASTER_KEY"
FORMAT_VERSION = 1
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
PBKDF2_ITERATIONS = 600_000
MIN_PASSPHRASE_LENGTH = 12
_KEY_LEN, _NONCE_LEN, _SALT_LEN, _ID_LEN, _TAG_LEN = 32, 12, 16, 16, 16
_WRAP_HEADER = struct.Struct(">BBIII16s16s")
_WRAPPED_LEN = _WRAP_HEADER.size + _NONCE_LEN + _KEY_LEN + _TAG_LEN
_SECRET_HEADER_LEN = 1 + _ID_LEN + _NONCE_LEN


class SecretsError(IdpError):
    """Root of the errors about secrets at rest."""

    error = "secrets_error"


class WrongPassphrase(SecretsError):
    """The admin passphrase does not unwrap the data key."""

    error = "wrong_passphrase"
    status = 401


class WrongMasterKey(SecretsError):
    """The master key from the environment does not unwrap the data key."""

    error = "wrong_master_key"


class InvalidMasterKey(SecretsError):
    """``HIDEEZ_IDP_MASTER_KEY`` is not base64 of exactly 32 bytes."""

    error = "invalid_master_key"


class WeakPassphrase(SecretsError):
    error = "weak_passphrase"
    status = 400


class CorruptSecret(SecretsError):
    """A ciphertext or wrapped key is malformed, tampered with, or bound to other data."""

    error = "secret_corrupt"


class UnsupportedSecretFormat(CorruptSecret):
    error = "secret_format_unsupported"


class UnknownDataKey(SecretsError):
    """A ciphertext names a data key that is not unlocked."""

    error = "unknown_data_key"


class Kdf(IntEnum):
    SCRYPT = 1
    PBKDF2_SHA256 = 2
    MASTER_KEY = 3  # the KEK is given directly; nothing derived


@dataclass(frozen=True)
class WrappedDataKey:
    """A data key wrapped by a KEK; ``blob`` is what the ``secret_keys`` table stores."""

    key_id: str
    kdf: Kdf
    blob: bytes

    @classmethod
    def from_bytes(cls, blob: bytes) -> WrappedDataKey:
        version, kdf, *_, key_id = _parse_wrapped_header(blob)
        del version
        return cls(key_id=key_id.hex(), kdf=Kdf(kdf), blob=bytes(blob))


def _parse_wrapped_header(blob: bytes) -> tuple[int, int, int, int, int, bytes, bytes]:
    if len(blob) != _WRAPPED_LEN:
        raise CorruptSecret(f"wrapped data key must be {_WRAPPED_LEN} bytes, got {len(blob)}")
    version, kdf, a, b, c, salt, key_id = _WRAP_HEADER.unpack_from(blob)
    if version != FORMAT_VERSION:
        raise UnsupportedSecretFormat(
            f"wrapped data key version {version}, expected {FORMAT_VERSION}"
        )
    if kdf not in Kdf._value2member_map_:
        raise UnsupportedSecretFormat(f"unknown key derivation id {kdf}")
    return version, kdf, a, b, c, salt, key_id


def _derive(kdf: Kdf, a: int, b: int, c: int, salt: bytes, passphrase: str) -> bytes:
    secret = passphrase.encode("utf-8")
    if kdf is Kdf.SCRYPT:
        # Refuse weakened parameters: whoever can write the row must not downgrade the KDF.
        if (a, b, c) != (SCRYPT_N, SCRYPT_R, SCRYPT_P):
            raise UnsupportedSecretFormat(f"scrypt parameters n={a} r={b} p={c} not accepted")
        return Scrypt(salt=salt, length=_KEY_LEN, n=a, r=b, p=c).derive(secret)
    if kdf is Kdf.PBKDF2_SHA256:
        if a < PBKDF2_ITERATIONS:
            raise UnsupportedSecretFormat(f"PBKDF2 with {a} iterations, need {PBKDF2_ITERATIONS}")
        pbkdf2 = PBKDF2HMAC(algorithm=hashes.SHA256(), length=_KEY_LEN, salt=salt, iterations=a)
        return pbkdf2.derive(secret)
    raise UnsupportedSecretFormat(f"key derivation {kdf.name} takes no passphrase")


def _kek_source(passphrase: str | None, master_key: bytes | None) -> tuple[str | None, bytes]:
    if (passphrase is None) == (master_key is None):
        raise TypeError("give exactly one of passphrase= or master_key=")
    if master_key is not None:
        if len(master_key) != _KEY_LEN:
            raise InvalidMasterKey(f"master key must be {_KEY_LEN} bytes, got {len(master_key)}")
        return None, master_key
    return passphrase, b""


def wrap_data_key(
    data_key: bytes,
    *,
    key_id: bytes,
    passphrase: str | None = None,
    master_key: bytes | None = None,
    kdf: Kdf = Kdf.SCRYPT,
) -> WrappedDataKey:
    """Wrap ``data_key`` under a passphrase (scrypt or PBKDF2) or a master key."""
    phrase, kek = _kek_source(passphrase, master_key)
    if phrase is not None:
        if len(phrase) < MIN_PASSPHRASE_LENGTH:
            raise WeakPassphrase(
                f"passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters"
            )
        if kdf is Kdf.MASTER_KEY:
            raise TypeError("a passphrase needs kdf=Kdf.SCRYPT or Kdf.PBKDF2_SHA256")
        a, b, c = (SCRYPT_N, SCRYPT_R, SCRYPT_P) if kdf is Kdf.SCRYPT else (PBKDF2_ITERATIONS, 0, 0)
        salt = os.urandom(_SALT_LEN)
        kek = _derive(kdf, a, b, c, salt, phrase)
    else:
        kdf, a, b, c, salt = Kdf.MASTER_KEY, 0, 0, 0, bytes(_SALT_LEN)
    header = _WRAP_HEADER.pack(FORMAT_VERSION, kdf, a, b, c, salt, key_id)
    nonce = os.urandom(_NONCE_LEN)
    blob = header + nonce + AESGCM(kek).encrypt(nonce, data_key, header)
    return WrappedDataKey(key_id=key_id.hex(), kdf=kdf, blob=blob)


def new_data_key(
    *, passphrase: str | None = None, master_key: bytes | None = None, kdf: Kdf = Kdf.SCRYPT
) -> WrappedDataKey:
    """A fresh random data key, returned wrapped (the plaintext key is never returned)."""
    return wrap_data_key(
        AESGCM.generate_key(bit_length=256),
        key_id=os.urandom(_ID_LEN),
        passphrase=passphrase,
        master_key=master_key,
        kdf=kdf,
    )


def unwrap_data_key(
    wrapped: WrappedDataKey, *, passphrase: str | None = None, master_key: bytes | None = None
) -> bytes:
    """The plaintext data key; a wrong passphrase/master key raises its own typed error."""
    phrase, kek = _kek_source(passphrase, master_key)
    _, kdf_id, a, b, c, salt, _ = _parse_wrapped_header(wrapped.blob)
    kdf = Kdf(kdf_id)
    if phrase is not None:
        if kdf is Kdf.MASTER_KEY:
            raise WrongPassphrase("this data key is wrapped by a master key, not a passphrase")
        kek = _derive(kdf, a, b, c, salt, phrase)
    elif kdf is not Kdf.MASTER_KEY:
        raise WrongMasterKey(f"this data key is wrapped by a passphrase ({kdf.name})")
    header_len = _WRAP_HEADER.size
    nonce = wrapped.blob[header_len : header_len + _NONCE_LEN]
    try:
        return AESGCM(kek).decrypt(
            nonce, wrapped.blob[header_len + _NONCE_LEN :], wrapped.blob[:header_len]
        )
    except InvalidTag:
        if phrase is not None:
            raise WrongPassphrase("the passphrase does not unlock the data key") from None
        raise WrongMasterKey(f"{MASTER_KEY_ENV} does not unlock the data key") from None


def rewrap(
    wrapped: WrappedDataKey,
    *,
    old_passphrase: str | None = None,
    old_master_key: bytes | None = None,
    new_passphrase: str | None = None,
    new_master_key: bytes | None = None,
    kdf: Kdf = Kdf.SCRYPT,
) -> WrappedDataKey:
    """Wrap the same data key (same id) under a new passphrase or master key."""
    data_key = unwrap_data_key(wrapped, passphrase=old_passphrase, master_key=old_master_key)
    return wrap_data_key(
        data_key,
        key_id=bytes.fromhex(wrapped.key_id),
        passphrase=new_passphrase,
        master_key=new_master_key,
        kdf=kdf,
    )


def master_key_from_env(environ: Mapping[str, str]) -> bytes | None:
    """``HIDEEZ_IDP_MASTER_KEY`` decoded, or ``None`` when unset."""
    raw = environ.get(MASTER_KEY_ENV)
    if raw is None or raw == "":
        return None
    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidMasterKey(f"{MASTER_KEY_ENV} is not valid base64") from None
    if len(key) != _KEY_LEN:
        raise InvalidMasterKey(f"{MASTER_KEY_ENV} must decode to {_KEY_LEN} bytes, got {len(key)}")
    return key


def secret_aad(purpose: str, owner: str) -> bytes:
    """AAD binding a secret to what it is (``totp_secret``) and whose (an employee id)."""
    parts = [purpose.encode("utf-8"), owner.encode("utf-8")]
    # Length prefixes make ("ab", "c") and ("a", "bc") different.
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


class SecretBox:
    """Encrypts and decrypts secrets with the unlocked data key(s); locked until unlocked.

    Several data keys may be unlocked (after a rotation, old ciphertexts name the old key);
    the last one unlocked encrypts.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[bytes, AESGCM] = {}
        self._primary: bytes | None = None

    @property
    def locked(self) -> bool:
        return self._primary is None

    def unlock(
        self,
        wrapped: WrappedDataKey,
        *,
        passphrase: str | None = None,
        master_key: bytes | None = None,
    ) -> None:
        data_key = unwrap_data_key(wrapped, passphrase=passphrase, master_key=master_key)
        key_id = bytes.fromhex(wrapped.key_id)
        with self._lock:
            self._keys[key_id] = AESGCM(data_key)
            self._primary = key_id

    def lock(self) -> None:
        with self._lock:
            self._keys.clear()
            self._primary = None

    def encrypt(self, plaintext: bytes, *, aad: bytes) -> bytes:
        with self._lock:
            key_id = self._primary
            cipher = self._keys.get(key_id) if key_id is not None else None
        if key_id is None or cipher is None:
            raise SecretsLocked(
                f"secrets are locked: unlock them with the admin passphrase or set {MASTER_KEY_ENV}"
            )
        header = bytes([FORMAT_VERSION]) + key_id
        nonce = os.urandom(_NONCE_LEN)
        return header + nonce + cipher.encrypt(nonce, plaintext, header + aad)

    def decrypt(self, blob: bytes, *, aad: bytes) -> bytes:
        if self.locked:
            raise SecretsLocked(
                f"secrets are locked: unlock them with the admin passphrase or set {MASTER_KEY_ENV}"
            )
        if len(blob) < _SECRET_HEADER_LEN + _TAG_LEN:
            raise CorruptSecret(
                f"ciphertext of {len(blob)} bytes is shorter than the minimum "
                f"{_SECRET_HEADER_LEN + _TAG_LEN}"
            )
        if blob[0] != FORMAT_VERSION:
            raise UnsupportedSecretFormat(
                f"ciphertext version {blob[0]}, expected {FORMAT_VERSION}"
            )
        key_id = blob[1 : 1 + _ID_LEN]
        with self._lock:
            cipher = self._keys.get(key_id)
        if cipher is None:
            raise UnknownDataKey(f"ciphertext needs data key {key_id.hex()}, which is not unlocked")
        header, nonce = blob[: 1 + _ID_LEN], blob[1 + _ID_LEN : _SECRET_HEADER_LEN]
        try:
            return cipher.decrypt(nonce, blob[_SECRET_HEADER_LEN:], header + aad)
        except InvalidTag:
            raise CorruptSecret(
                "ciphertext does not authenticate: tampered with, or bound to another purpose/owner"
            ) from None

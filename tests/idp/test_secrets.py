"""Envelope encryption of secrets at rest (AES-256-GCM; scrypt / PBKDF2 / env master key)."""

from __future__ import annotations

import base64
import os

import pytest

from idp.errors import SecretsLocked
from idp.secrets import (
    MASTER_KEY_ENV,
    CorruptSecret,
    InvalidMasterKey,
    Kdf,
    SecretBox,
    UnknownDataKey,
    UnsupportedSecretFormat,
    WeakPassphrase,
    WrappedDataKey,
    WrongMasterKey,
    WrongPassphrase,
    master_key_from_env,
    new_data_key,
    rewrap,
    secret_aad,
    unwrap_data_key,
)

PASSPHRASE = "correct horse battery staple"
AAD = secret_aad("totp_secret", "emp-1")


@pytest.fixture(scope="module")
def scrypt_key() -> WrappedDataKey:
    return new_data_key(passphrase=PASSPHRASE, kdf=Kdf.SCRYPT)


@pytest.fixture(scope="module")
def master_key() -> bytes:
    return os.urandom(32)


@pytest.fixture(scope="module")
def env_key(master_key: bytes) -> WrappedDataKey:
    return new_data_key(master_key=master_key)


@pytest.fixture
def box(env_key: WrappedDataKey, master_key: bytes) -> SecretBox:
    box = SecretBox()
    box.unlock(env_key, master_key=master_key)
    return box


def test_roundtrip_with_master_key(box: SecretBox) -> None:
    blob = box.encrypt(b"JBSWY3DPEHPK3PXP", aad=AAD)
    assert b"JBSWY3DPEHPK3PXP" not in blob
    assert blob[0] == 1
    assert box.decrypt(blob, aad=AAD) == b"JBSWY3DPEHPK3PXP"


def test_fresh_nonce_per_encryption(box: SecretBox) -> None:
    assert box.encrypt(b"same", aad=AAD) != box.encrypt(b"same", aad=AAD)


def test_passphrase_unlock_scrypt(scrypt_key: WrappedDataKey) -> None:
    assert scrypt_key.kdf is Kdf.SCRYPT
    box = SecretBox()
    box.unlock(scrypt_key, passphrase=PASSPHRASE)
    assert box.decrypt(box.encrypt(b"x", aad=AAD), aad=AAD) == b"x"


def test_passphrase_unlock_pbkdf2() -> None:
    wrapped = new_data_key(passphrase=PASSPHRASE, kdf=Kdf.PBKDF2_SHA256)
    assert wrapped.blob[1] == Kdf.PBKDF2_SHA256
    assert int.from_bytes(wrapped.blob[2:6], "big") == 600_000  # recorded in the blob
    box = SecretBox()
    box.unlock(wrapped, passphrase=PASSPHRASE)
    assert not box.locked


def test_wrong_passphrase_is_its_own_error(scrypt_key: WrappedDataKey) -> None:
    box = SecretBox()
    with pytest.raises(WrongPassphrase) as info:
        box.unlock(scrypt_key, passphrase="not the passphrase at all")
    assert info.value.status == 401
    assert box.locked


def test_wrong_master_key(env_key: WrappedDataKey) -> None:
    with pytest.raises(WrongMasterKey):
        unwrap_data_key(env_key, master_key=os.urandom(32))


def test_source_must_match_how_key_was_wrapped(
    env_key: WrappedDataKey, scrypt_key: WrappedDataKey
) -> None:
    with pytest.raises(WrongPassphrase, match="master key"):
        unwrap_data_key(env_key, passphrase=PASSPHRASE)
    with pytest.raises(WrongMasterKey, match="passphrase"):
        unwrap_data_key(scrypt_key, master_key=os.urandom(32))
    with pytest.raises(TypeError):
        unwrap_data_key(env_key)


def test_locked_box_refuses_clearly() -> None:
    box = SecretBox()
    assert box.locked
    with pytest.raises(SecretsLocked, match="locked") as info:
        box.encrypt(b"x", aad=AAD)
    assert info.value.status == 503
    with pytest.raises(SecretsLocked):
        box.decrypt(b"\x01" + bytes(60), aad=AAD)


def test_lock_again(box: SecretBox) -> None:
    blob = box.encrypt(b"x", aad=AAD)
    box.lock()
    with pytest.raises(SecretsLocked):
        box.decrypt(blob, aad=AAD)


def test_aad_binds_purpose_and_owner(box: SecretBox) -> None:
    blob = box.encrypt(b"secret", aad=secret_aad("totp_secret", "emp-1"))
    for other in (secret_aad("totp_secret", "emp-2"), secret_aad("vault_master_key", "emp-1"), b""):
        with pytest.raises(CorruptSecret, match="another purpose/owner"):
            box.decrypt(blob, aad=other)


def test_aad_encoding_is_unambiguous() -> None:
    assert secret_aad("ab", "c") != secret_aad("a", "bc")


@pytest.mark.parametrize("position", ["nonce", "ciphertext", "tag", "key_id"])
def test_tampered_ciphertext_refused(box: SecretBox, position: str) -> None:
    blob = bytearray(box.encrypt(b"secret value", aad=AAD))
    index = {"key_id": 5, "nonce": 20, "ciphertext": 30, "tag": len(blob) - 1}[position]
    blob[index] ^= 0x01
    with pytest.raises((CorruptSecret, UnknownDataKey)):
        box.decrypt(bytes(blob), aad=AAD)


def test_version_byte_checked(box: SecretBox) -> None:
    blob = bytearray(box.encrypt(b"x", aad=AAD))
    blob[0] = 2
    with pytest.raises(UnsupportedSecretFormat, match="version 2"):
        box.decrypt(bytes(blob), aad=AAD)


@pytest.mark.parametrize("length", [0, 1, 28, 44])
def test_truncated_ciphertext_refused(box: SecretBox, length: int) -> None:
    blob = box.encrypt(b"", aad=AAD)[:length]
    with pytest.raises(CorruptSecret):
        box.decrypt(blob, aad=AAD)


def test_tampered_wrapped_key_refused(env_key: WrappedDataKey, master_key: bytes) -> None:
    header_bit = bytearray(env_key.blob)
    header_bit[30] ^= 1  # salt/key id area: authenticated as AAD
    with pytest.raises(WrongMasterKey):
        unwrap_data_key(
            WrappedDataKey(env_key.key_id, env_key.kdf, bytes(header_bit)), master_key=master_key
        )
    with pytest.raises(CorruptSecret, match="106 bytes"):
        WrappedDataKey.from_bytes(env_key.blob[:-1])
    bad_version = b"\x07" + env_key.blob[1:]
    with pytest.raises(UnsupportedSecretFormat):
        WrappedDataKey.from_bytes(bad_version)


def test_weakened_kdf_parameters_refused(scrypt_key: WrappedDataKey) -> None:
    weakened = bytearray(scrypt_key.blob)
    weakened[2:6] = (2**10).to_bytes(4, "big")
    with pytest.raises(UnsupportedSecretFormat, match="scrypt parameters"):
        unwrap_data_key(WrappedDataKey.from_bytes(bytes(weakened)), passphrase=PASSPHRASE)


def test_from_bytes_roundtrip(scrypt_key: WrappedDataKey) -> None:
    assert WrappedDataKey.from_bytes(scrypt_key.blob) == scrypt_key


def test_weak_passphrase_refused() -> None:
    with pytest.raises(WeakPassphrase):
        new_data_key(passphrase="short")


def test_rewrap_keeps_the_data_key(env_key: WrappedDataKey, master_key: bytes) -> None:
    box = SecretBox()
    box.unlock(env_key, master_key=master_key)
    blob = box.encrypt(b"kept", aad=AAD)
    moved = rewrap(env_key, old_master_key=master_key, new_passphrase=PASSPHRASE)
    assert moved.key_id == env_key.key_id and moved.kdf is Kdf.SCRYPT
    fresh = SecretBox()
    fresh.unlock(moved, passphrase=PASSPHRASE)
    assert fresh.decrypt(blob, aad=AAD) == b"kept"


def test_rotation_old_key_still_decrypts(box: SecretBox, master_key: bytes) -> None:
    old_blob = box.encrypt(b"old", aad=AAD)
    newer = new_data_key(master_key=master_key)
    box.unlock(newer, master_key=master_key)
    new_blob = box.encrypt(b"new", aad=AAD)
    assert new_blob[1:17].hex() == newer.key_id
    assert box.decrypt(old_blob, aad=AAD) == b"old"
    other = SecretBox()
    other.unlock(newer, master_key=master_key)
    with pytest.raises(UnknownDataKey, match="not unlocked"):
        other.decrypt(old_blob, aad=AAD)


def test_master_key_from_env() -> None:
    key = os.urandom(32)
    assert master_key_from_env({MASTER_KEY_ENV: base64.b64encode(key).decode()}) == key
    assert master_key_from_env({}) is None
    assert master_key_from_env({MASTER_KEY_ENV: ""}) is None
    with pytest.raises(InvalidMasterKey, match="base64"):
        master_key_from_env({MASTER_KEY_ENV: "not base64!!"})
    with pytest.raises(InvalidMasterKey, match="32 bytes"):
        master_key_from_env({MASTER_KEY_ENV: base64.b64encode(b"short").decode()})

"""The encrypted backup of an employee's key accounts: the file format, sealing and opening.

Pure: bytes and a passphrase in, entries out; no storage, no clock (the caller gives the
metadata). A backup file is::

    magic(8)="HIDKBAK\\n" | version(1)=1 | kdf(1)=1 (scrypt) | log2 n(1) | r(1) | p(1)
    | salt(16) | check(16) | nonce(12) | metadata length(4) | metadata (UTF-8 JSON)
    | AES-256-GCM(key, accounts JSON, aad = every byte before it)

scrypt (n=2**15, r=8, p=1, the parameters of :mod:`idp.secrets`) stretches the passphrase and
salt into 64 bytes: the first 32 are the AES key, SHA-256 of the last 32 gives ``check``, so a
wrong passphrase is told apart from a file changed after it was written. The metadata (who
the accounts belonged to, when, how many) is readable without the passphrase and
authenticated with the accounts: changing a byte of it, or of anything else, fails the tag.
Opening checks everything before returning anything, so an import sees all or nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from idp.errors import InvalidRequest, RequestTooLarge
from idp.secrets import MIN_PASSPHRASE_LENGTH, SCRYPT_N, SCRYPT_P, SCRYPT_R
from idp.vault.model import LoginType

MAGIC = b"HIDKBAK\n"
VERSION = 1
_KDF_SCRYPT = 1
#: a backup file is at most this large (what the API accepts as an upload, too)
MAX_BACKUP_BYTES = 1024 * 1024
#: at most this many accounts in one backup
MAX_ENTRIES = 1000
MAX_METADATA_BYTES = 4096
_HEADER = struct.Struct(">8sBBBBB16s16s12sI")
_TAG_LEN = 16
_ENTRY_FIELDS = frozenset(
    {"name", "login", "login_type", "urls", "apps", "password", "otp_secret", "skip_password",
     "primary"}
)  # fmt: skip


class BackupError(InvalidRequest):
    """Root of the refusals to read a backup file; nothing was imported."""

    error = "invalid_backup"


class NotABackup(BackupError):
    error = "not_a_backup"


class UnsupportedBackupVersion(BackupError):
    error = "unsupported_backup_version"


class TruncatedBackup(BackupError):
    error = "truncated_backup"


class TamperedBackup(BackupError):
    error = "tampered_backup"


class WrongBackupPassphrase(BackupError):
    error = "wrong_backup_passphrase"


class WeakBackupPassphrase(BackupError):
    error = "weak_backup_passphrase"


class BackupTooLarge(RequestTooLarge):
    error = "backup_too_large"


@dataclass(frozen=True)
class BackupEntry:
    """One account as the backup holds it (with its secrets, decrypted)."""

    name: str
    login: str
    login_type: LoginType
    urls: tuple[str, ...]
    apps: tuple[str, ...]
    password: str | None = field(repr=False)
    otp_secret: str | None = field(repr=False)
    skip_password: bool
    primary: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "login": self.login, "login_type": self.login_type.value,
            "urls": list(self.urls), "apps": list(self.apps), "password": self.password,
            "otp_secret": self.otp_secret, "skip_password": self.skip_password,
            "primary": self.primary,
        }  # fmt: skip


@dataclass(frozen=True)
class BackupMetadata:
    """What the file says about itself, readable without the passphrase (and authenticated)."""

    employee: str
    exported_at: str
    exported_by: str
    accounts: int


@dataclass(frozen=True)
class Backup:
    metadata: BackupMetadata
    entries: tuple[BackupEntry, ...]


def _keys(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    stretched = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return stretched[:32], hashlib.sha256(stretched[32:]).digest()[:16]


def seal(*, entries: tuple[BackupEntry, ...], metadata: BackupMetadata, passphrase: str) -> bytes:
    """The backup file of ``entries`` under ``passphrase`` (at least 12 characters)."""
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise WeakBackupPassphrase(
            f"a backup passphrase needs at least {MIN_PASSPHRASE_LENGTH} characters, "
            f"got {len(passphrase)}"
        )
    if len(entries) > MAX_ENTRIES:
        raise BackupTooLarge(f"at most {MAX_ENTRIES} accounts per backup, got {len(entries)}")
    meta = json.dumps(metadata.__dict__, sort_keys=True).encode("utf-8")
    salt, nonce = os.urandom(16), os.urandom(12)
    key, check = _keys(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    log_n = SCRYPT_N.bit_length() - 1
    header = _HEADER.pack(
        MAGIC, VERSION, _KDF_SCRYPT, log_n, SCRYPT_R, SCRYPT_P, salt, check, nonce, len(meta)
    )
    body = json.dumps({"accounts": [e.to_json() for e in entries]}).encode("utf-8")
    aad = header + meta
    blob = aad + AESGCM(key).encrypt(nonce, body, aad)
    if len(blob) > MAX_BACKUP_BYTES:
        raise BackupTooLarge(f"the backup would be {len(blob)} bytes, over {MAX_BACKUP_BYTES}")
    return blob


def read_metadata(blob: bytes) -> BackupMetadata:
    """The file's metadata, checked for form only (the passphrase authenticates it)."""
    return _parse(blob)[1]


def _parse(blob: bytes) -> tuple[tuple[Any, ...], BackupMetadata, bytes, bytes]:
    if len(blob) > MAX_BACKUP_BYTES:
        raise BackupTooLarge(f"a backup is at most {MAX_BACKUP_BYTES} bytes, got {len(blob)}")
    if blob[: len(MAGIC)] != MAGIC[: len(blob)] or not blob:
        raise NotABackup("this is not a key account backup (it does not start with HIDKBAK)")
    if len(blob) < _HEADER.size:
        raise TruncatedBackup(f"the backup is cut short: {len(blob)} bytes, no full header")
    fields = _HEADER.unpack_from(blob)
    _, version, kdf, log_n, r, p, _, _, _, meta_len = fields
    if version != VERSION:
        raise UnsupportedBackupVersion(
            f"backup format version {version}; this server reads version {VERSION}"
        )
    if kdf != _KDF_SCRYPT or (1 << log_n, r, p) != (SCRYPT_N, SCRYPT_R, SCRYPT_P):
        raise UnsupportedBackupVersion(
            f"backup key derivation {kdf} (n=2**{log_n}, r={r}, p={p}) is not accepted; "
            f"expected scrypt n=2**{SCRYPT_N.bit_length() - 1}, r={SCRYPT_R}, p={SCRYPT_P}"
        )
    end = _HEADER.size + meta_len
    if meta_len > MAX_METADATA_BYTES or len(blob) < end + _TAG_LEN:
        raise TruncatedBackup(
            f"the backup is cut short or malformed: {len(blob)} bytes, the header promises "
            f"{meta_len} bytes of metadata and a {_TAG_LEN}-byte tag after it"
        )
    return fields, _metadata(blob[_HEADER.size : end]), blob[:end], blob[end:]


def _metadata(raw: bytes) -> BackupMetadata:
    try:
        data = json.loads(raw)
        return BackupMetadata(
            employee=str(data["employee"]), exported_at=str(data["exported_at"]),
            exported_by=str(data["exported_by"]), accounts=int(data["accounts"]),
        )  # fmt: skip
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        raise TamperedBackup("the backup's metadata is not what this server writes") from None


def open_backup(blob: bytes, *, passphrase: str) -> Backup:
    """Every entry of the backup, or a :class:`BackupError` and nothing."""
    fields, metadata, aad, sealed = _parse(blob)
    salt, check, nonce = fields[6], fields[7], fields[8]
    key, expected = _keys(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    if not hmac.compare_digest(check, expected):
        raise WrongBackupPassphrase("the passphrase does not open this backup")
    try:
        body = AESGCM(key).decrypt(nonce, sealed, aad)
    except InvalidTag:
        raise TamperedBackup(
            "the backup was changed after it was written (its authentication tag fails)"
        ) from None
    entries = _entries(body)
    if len(entries) != metadata.accounts:
        raise TamperedBackup(
            f"the metadata says {metadata.accounts} accounts, found {len(entries)}"
        )
    return Backup(metadata=metadata, entries=entries)


def _entries(body: bytes) -> tuple[BackupEntry, ...]:
    try:
        found = json.loads(body)["accounts"]
        if not isinstance(found, list) or len(found) > MAX_ENTRIES:
            raise ValueError("accounts")
        return tuple(_entry(raw) for raw in found)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise TamperedBackup("the backup's accounts are not what this server writes") from None


def _entry(raw: Any) -> BackupEntry:
    if not isinstance(raw, dict) or set(raw) != _ENTRY_FIELDS:
        raise ValueError("entry")
    texts = [raw[k] for k in ("name", "login")]
    lists = [raw[k] for k in ("urls", "apps")]
    secrets = [raw[k] for k in ("password", "otp_secret")]
    if not all(isinstance(t, str) for t in texts) or not all(
        isinstance(v, list) and all(isinstance(s, str) for s in v) for v in lists
    ):
        raise ValueError("entry")
    if not all(s is None or isinstance(s, str) for s in secrets):
        raise ValueError("entry")
    return BackupEntry(
        name=raw["name"], login=raw["login"], login_type=LoginType(raw["login_type"]),
        urls=tuple(raw["urls"]), apps=tuple(raw["apps"]), password=raw["password"],
        otp_secret=raw["otp_secret"], skip_password=raw["skip_password"] is True,
        primary=raw["primary"] is True,
    )  # fmt: skip

"""The backup file format (idp.vault.backup): a round trip, and every way a file is refused —
wrong passphrase, truncation at each part, a flipped byte anywhere, another version or KDF,
an oversized file, a weak passphrase. Each refusal is typed and returns nothing."""

from __future__ import annotations

import struct

import pytest

from idp.vault import backup
from idp.vault.backup import (
    BackupEntry,
    BackupMetadata,
    BackupTooLarge,
    NotABackup,
    TamperedBackup,
    TruncatedBackup,
    UnsupportedBackupVersion,
    WeakBackupPassphrase,
    WrongBackupPassphrase,
    open_backup,
    read_metadata,
    seal,
)
from idp.vault.model import LoginType

PASS = "correct horse battery"
ENTRIES = (
    BackupEntry("GitHub", "alice", LoginType.WEB_APP, ("https://github.com",), (), "pw-1",
                "JBSWY3DPEHPK3PXP", False, False),
    BackupEntry("PC", "CORP\\alice", LoginType.DOMAIN, (), ("explorer.exe",), None, None,
                True, True),
)  # fmt: skip
META = BackupMetadata(employee="alice", exported_at="2026-12-02T09:00:00+00:00",
                      exported_by="admin:root", accounts=2)  # fmt: skip


@pytest.fixture(scope="module")
def sealed() -> bytes:
    return seal(entries=ENTRIES, metadata=META, passphrase=PASS)


def test_round_trip_keeps_every_field_and_the_metadata(sealed: bytes) -> None:
    opened = open_backup(sealed, passphrase=PASS)
    assert opened.entries == ENTRIES
    assert opened.metadata == META
    assert read_metadata(sealed) == META
    assert b"pw-1" not in sealed and b"JBSWY3DP" not in sealed


def test_each_seal_uses_a_new_salt_and_nonce() -> None:
    one = seal(entries=(), metadata=META.__class__("bob", "t", "cli", 0), passphrase=PASS)
    two = seal(entries=(), metadata=META.__class__("bob", "t", "cli", 0), passphrase=PASS)
    assert one != two


def test_a_wrong_passphrase_is_named_as_such(sealed: bytes) -> None:
    with pytest.raises(WrongBackupPassphrase, match="passphrase does not open"):
        open_backup(sealed, passphrase=PASS + "!")


@pytest.mark.parametrize("where", ["metadata", "ciphertext", "tag", "nonce"])
def test_a_flipped_byte_is_tampering(sealed: bytes, where: str) -> None:
    header = backup._HEADER.size
    index = {"metadata": header + 3, "ciphertext": header + 200, "tag": len(sealed) - 1,
             "nonce": header - 6}[where]  # fmt: skip
    changed = bytearray(sealed)
    changed[index] ^= 0x01
    with pytest.raises(TamperedBackup):
        open_backup(bytes(changed), passphrase=PASS)


def test_metadata_changed_to_name_another_employee_fails_the_tag(sealed: bytes) -> None:
    forged = sealed.replace(b'"alice"', b'"mallo"', 1)
    assert read_metadata(forged).employee == "mallo"  # readable, yet not believed:
    with pytest.raises(TamperedBackup, match="authentication tag"):
        open_backup(forged, passphrase=PASS)


@pytest.mark.parametrize("keep", [1, 8, 20, backup._HEADER.size, backup._HEADER.size + 40, -1])
def test_a_truncated_file_is_refused(sealed: bytes, keep: int) -> None:
    cut = sealed[:keep] if keep > 0 else sealed[:-17]
    with pytest.raises((TruncatedBackup, TamperedBackup)):
        open_backup(cut, passphrase=PASS)


def test_not_a_backup_at_all() -> None:
    for junk in (b"", b"PK\x03\x04 a zip file", b'{"accounts": []}'):
        with pytest.raises(NotABackup, match="HIDKBAK"):
            open_backup(junk, passphrase=PASS)


def test_another_version_is_refused_before_any_key_is_derived(sealed: bytes) -> None:
    newer = sealed[:8] + bytes([2]) + sealed[9:]
    with pytest.raises(UnsupportedBackupVersion, match="version 2; this server reads version 1"):
        open_backup(newer, passphrase=PASS)


def test_weakened_scrypt_parameters_are_refused(sealed: bytes) -> None:
    weak = sealed[:10] + bytes([10]) + sealed[11:]  # n = 2**10
    with pytest.raises(UnsupportedBackupVersion, match=r"n=2\*\*10"):
        open_backup(weak, passphrase=PASS)


def test_an_oversized_file_is_refused_unread(sealed: bytes) -> None:
    with pytest.raises(BackupTooLarge, match="at most 1048576 bytes"):
        open_backup(sealed + b"\0" * backup.MAX_BACKUP_BYTES, passphrase=PASS)


def test_a_metadata_length_past_the_end_is_truncation(sealed: bytes) -> None:
    size = backup._HEADER.size
    lying = sealed[: size - 4] + struct.pack(">I", 4000) + sealed[size:]
    with pytest.raises(TruncatedBackup, match="4000 bytes of metadata"):
        open_backup(lying, passphrase=PASS)


def test_a_short_passphrase_is_refused_on_export() -> None:
    with pytest.raises(WeakBackupPassphrase, match="at least 12 characters, got 5"):
        seal(entries=ENTRIES, metadata=META, passphrase="short")

"""Every message of the protocol: handshake, commands and their replies (docs/key-protocol.md).

Outer messages start with a type byte: HELLO, HELLO_REPLY, CONFIRM and ERROR travel in clear,
SEALED carries a counter and an AES-GCM ciphertext. Inside SEALED, a request is a command byte
and its body; a reply is ``0x00`` and the command's reply body, or ``0x0E`` and an error body.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import ClassVar

from idp.vault.protocol.codec import Body, F, Kind

VERSION = 1
NONCE_BYTES = 16
PUBLIC_KEY_BYTES = 65  # an uncompressed P-256 point
PROOF_BYTES = 32
MASTER_KEY_BYTES = 32


class Outer(IntEnum):
    HELLO = 0x01
    HELLO_REPLY = 0x02
    CONFIRM = 0x03
    ERROR = 0x0E
    SEALED = 0x10


OK = 0x00
ERROR = 0x0E


class Op(IntEnum):
    INFO = 0x20
    LINK = 0x21
    LOCK = 0x22
    UNLOCK = 0x23
    SET_PIN = 0x24
    VERIFY_PIN = 0x25
    SET_PROFILE = 0x26
    LIST_ACCOUNTS = 0x27
    SAVE_ACCOUNT = 0x28
    DELETE_ACCOUNT = 0x29
    READ_CREDENTIALS = 0x2A
    OTP = 0x2B
    WIPE = 0x2C
    SET_PRIMARY = 0x2D


# -- handshake ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello(Body):
    FIELDS = (
        F(1, "version", Kind.U8),
        F(2, "nonce", Kind.BYTES, exact=NONCE_BYTES),
        F(3, "public_key", Kind.BYTES, exact=PUBLIC_KEY_BYTES),
    )
    version: int
    nonce: bytes
    public_key: bytes


@dataclass(frozen=True)
class HelloReply(Body):
    FIELDS = (
        F(1, "serial", Kind.STR, cap=26),
        F(2, "linked", Kind.BOOL),
        F(3, "nonce", Kind.BYTES, exact=NONCE_BYTES),
        F(4, "public_key", Kind.BYTES, exact=PUBLIC_KEY_BYTES),
        F(5, "proof", Kind.BYTES, exact=PROOF_BYTES),
    )
    serial: str
    linked: bool
    nonce: bytes
    public_key: bytes
    proof: bytes


@dataclass(frozen=True)
class Confirm(Body):
    FIELDS = (F(1, "proof", Kind.BYTES, exact=PROOF_BYTES),)
    proof: bytes


@dataclass(frozen=True)
class ErrorBody(Body):
    FIELDS = (F(1, "code", Kind.U16), F(2, "message", Kind.STR, cap=200))
    code: int
    message: str


# -- commands -------------------------------------------------------------------------------


class Command(Body):
    OP: ClassVar[Op]
    REPLY: ClassVar[type[Body]]


@dataclass(frozen=True)
class Empty(Body):
    FIELDS = ()


@dataclass(frozen=True)
class Info(Body):
    FIELDS = (
        F(1, "serial", Kind.STR, cap=26),
        F(2, "firmware", Kind.STR, cap=32),
        F(3, "battery", Kind.U8, cap=100),
        F(4, "linked", Kind.BOOL),
        F(5, "locked", Kind.BOOL),
        F(6, "pin_set", Kind.BOOL),
        F(7, "accounts", Kind.U16),
        F(8, "free_slots", Kind.U16),
        F(9, "pin_attempts_left", Kind.U8, cap=100, required=False),
    )
    serial: str
    firmware: str
    battery: int
    linked: bool
    locked: bool
    pin_set: bool
    accounts: int
    free_slots: int
    #: the PIN tries the key still allows (a PIN prompt says how many are left)
    pin_attempts_left: int | None = None


@dataclass(frozen=True)
class InfoCommand(Command):
    OP = Op.INFO
    REPLY = Info
    FIELDS = ()


@dataclass(frozen=True)
class Link(Command):
    OP = Op.LINK
    REPLY = Empty
    FIELDS = (F(1, "master_key", Kind.BYTES, exact=MASTER_KEY_BYTES),)
    master_key: bytes


@dataclass(frozen=True)
class Lock(Command):
    """The server locks the key with an activation code (a suspended key)."""

    OP = Op.LOCK
    REPLY = Empty
    FIELDS = (F(1, "code", Kind.STR, cap=6),)
    code: str


@dataclass(frozen=True)
class Unlock(Command):
    OP = Op.UNLOCK
    REPLY = Empty
    FIELDS = (F(1, "code", Kind.STR, cap=6),)
    code: str


@dataclass(frozen=True)
class SetPin(Command):
    OP = Op.SET_PIN
    REPLY = Empty
    FIELDS = (F(1, "pin", Kind.STR, cap=16),)
    pin: str


@dataclass(frozen=True)
class VerifyPin(Command):
    OP = Op.VERIFY_PIN
    REPLY = Empty
    FIELDS = (F(1, "pin", Kind.STR, cap=16),)
    pin: str


class ProfileFlag(IntFlag):
    BUTTON_PAIRING = 0x001
    BUTTON_CONNECTION = 0x002
    BUTTON_STORAGE = 0x004
    PIN_PAIRING = 0x008
    PIN_CONNECTION = 0x010
    PIN_STORAGE = 0x020
    MASTER_KEY_PAIRING = 0x040
    MASTER_KEY_CONNECTION = 0x080
    MASTER_KEY_STORAGE = 0x100


DEFAULT_FLAGS = ProfileFlag.BUTTON_PAIRING | ProfileFlag.MASTER_KEY_PAIRING


@dataclass(frozen=True)
class SetProfile(Command):
    """The access profile (DESIGN.md defaults: button + master key for pairing, PIN 4/24 h/10)."""

    OP = Op.SET_PROFILE
    REPLY = Empty
    FIELDS = (
        F(1, "flags", Kind.U16),
        F(2, "pin_length", Kind.U8, cap=16),
        F(3, "pin_expiry", Kind.U32),
        F(4, "pin_attempts", Kind.U8, cap=100),
    )
    flags: int = int(DEFAULT_FLAGS)
    pin_length: int = 4
    pin_expiry: int = 24 * 3600
    pin_attempts: int = 10


@dataclass(frozen=True)
class AccountSummary(Body):
    FIELDS = (
        F(1, "id", Kind.STR, cap=64),
        F(2, "name", Kind.STR, cap=128),
        F(3, "login", Kind.STR, cap=255),
        F(4, "urls", Kind.STRS, cap=16),
        F(5, "apps", Kind.STRS, cap=16),
        F(6, "has_otp", Kind.BOOL),
        F(7, "primary", Kind.BOOL),
    )
    id: str
    name: str
    login: str
    urls: tuple[str, ...]
    apps: tuple[str, ...]
    has_otp: bool
    primary: bool


@dataclass(frozen=True)
class AccountPage(Body):
    FIELDS = (
        F(1, "accounts", Kind.RECORDS, cap=64, record=AccountSummary),
        F(2, "next", Kind.U16, required=False),
    )
    accounts: tuple[AccountSummary, ...]
    next: int | None = None


@dataclass(frozen=True)
class ListAccounts(Command):
    """One page of the accounts, from index ``start``; the reply's ``next`` is the next page."""

    OP = Op.LIST_ACCOUNTS
    REPLY = AccountPage
    FIELDS = (F(1, "start", Kind.U16),)
    start: int = 0


@dataclass(frozen=True)
class SaveAccount(Command):
    """Create or replace the account ``id`` (the server's account id)."""

    OP = Op.SAVE_ACCOUNT
    REPLY = Empty
    FIELDS = (
        F(1, "id", Kind.STR, cap=64),
        F(2, "name", Kind.STR, cap=128),
        F(3, "login", Kind.STR, cap=255),
        F(4, "password", Kind.STR, cap=255),
        F(5, "urls", Kind.STRS, cap=16),
        F(6, "apps", Kind.STRS, cap=16),
        F(7, "otp_secret", Kind.STR, cap=128, required=False),
        F(8, "primary", Kind.BOOL),
    )
    id: str
    name: str
    login: str
    password: str
    urls: tuple[str, ...] = ()
    apps: tuple[str, ...] = ()
    otp_secret: str | None = None
    primary: bool = False


@dataclass(frozen=True)
class DeleteAccount(Command):
    OP = Op.DELETE_ACCOUNT
    REPLY = Empty
    FIELDS = (F(1, "id", Kind.STR, cap=64),)
    id: str


@dataclass(frozen=True)
class Credentials(Body):
    FIELDS = (F(1, "login", Kind.STR, cap=255), F(2, "password", Kind.STR, cap=255))
    login: str
    password: str


@dataclass(frozen=True)
class ReadCredentials(Command):
    OP = Op.READ_CREDENTIALS
    REPLY = Credentials
    FIELDS = (F(1, "id", Kind.STR, cap=64),)
    id: str


@dataclass(frozen=True)
class OtpCode(Body):
    FIELDS = (F(1, "code", Kind.STR, cap=10),)
    code: str


@dataclass(frozen=True)
class Otp(Command):
    """The TOTP code of account ``id`` at ``time`` (seconds since the epoch, the host's clock)."""

    OP = Op.OTP
    REPLY = OtpCode
    FIELDS = (F(1, "id", Kind.STR, cap=64), F(2, "time", Kind.U64))
    id: str
    time: int


@dataclass(frozen=True)
class SetPrimary(Command):
    """Make account ``id`` the primary one (Windows logon); the others lose the mark."""

    OP = Op.SET_PRIMARY
    REPLY = Empty
    FIELDS = (F(1, "id", Kind.STR, cap=64),)
    id: str


@dataclass(frozen=True)
class Wipe(Command):
    OP = Op.WIPE
    REPLY = Empty
    FIELDS = ()


COMMANDS: dict[int, type[Command]] = {
    cls.OP: cls
    for cls in (
        InfoCommand,
        Link,
        Lock,
        Unlock,
        SetPin,
        VerifyPin,
        SetProfile,
        ListAccounts,
        SaveAccount,
        DeleteAccount,
        ReadCredentials,
        Otp,
        Wipe,
        SetPrimary,
    )
}

"""The key side of the protocol, sans-IO, with the key's storage semantics.

:class:`KeyEndpoint` takes one whole message and returns the one message to answer with; it
never raises for what arrives (every refusal is an ERROR message with its code). The storage
(:class:`KeyStorage`) is what the key's flash holds: master key, lock code, PIN and its tries,
access profile and accounts. The virtual key (``device_gateway/virtual_key``) serves this over
GATT; real firmware would implement the same document.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from idp.vault.protocol import messages as m
from idp.vault.protocol import session
from idp.vault.protocol.codec import Body, decode
from idp.vault.protocol.errors import (
    AlreadyLinked,
    AttemptsExhausted,
    ButtonNotPressed,
    KeyLocked,
    KeyProtocolError,
    MalformedMessage,
    NoOtpSecret,
    NoSession,
    NoSuchAccount,
    NotLinked,
    PinPolicy,
    PinRequired,
    StorageFull,
    UnknownCommand,
    WrongCode,
    WrongPin,
)

CODE_ATTEMPTS = 3
#: what a locked key still serves
_WHEN_LOCKED = frozenset({m.Op.INFO, m.Op.LOCK, m.Op.UNLOCK, m.Op.WIPE})
#: what the one session of an unlinked key serves
_WHEN_UNLINKED = frozenset({m.Op.INFO, m.Op.LINK})
#: a page of the account list stays well under the message cap
_PAGE_BYTES = 6000


@dataclass(frozen=True)
class StoredAccount:
    id: str
    name: str
    login: str
    password: str
    urls: tuple[str, ...]
    apps: tuple[str, ...]
    otp_secret: str | None
    primary: bool

    def summary(self) -> m.AccountSummary:
        return m.AccountSummary(
            self.id,
            self.name,
            self.login,
            self.urls,
            self.apps,
            self.otp_secret is not None,
            self.primary,
        )


def _digest(secret: str) -> bytes:
    return hashlib.sha256(b"hideez-key pin\x00" + secret.encode()).digest()


@dataclass
class KeyStorage:
    """The key's persistent state (its flash), mutated only by :class:`KeyEndpoint`."""

    serial: str
    firmware: str = "1.0.0-virtual"
    battery: int = 100
    capacity: int = 200
    master_key: bytes | None = None
    lock_code: bytes | None = None
    code_attempts_left: int = CODE_ATTEMPTS
    locked_by_pin: bool = False
    pin: bytes | None = None
    pin_attempts_left: int = 10
    pin_verified_at: float | None = None
    profile: m.SetProfile = field(default_factory=m.SetProfile)
    accounts: dict[str, StoredAccount] = field(default_factory=dict)

    @property
    def linked(self) -> bool:
        return self.master_key is not None

    @property
    def locked(self) -> bool:
        return self.lock_code is not None or self.locked_by_pin

    def wipe(self) -> None:
        """Everything but the identity of the device goes: the key is as it left the factory."""
        self.master_key = self.lock_code = self.pin = self.pin_verified_at = None
        self.code_attempts_left = CODE_ATTEMPTS
        self.locked_by_pin = False
        self.profile = m.SetProfile()
        self.pin_attempts_left = self.profile.pin_attempts
        self.accounts.clear()

    def info(self) -> m.Info:
        return m.Info(
            serial=self.serial,
            firmware=self.firmware,
            battery=self.battery,
            linked=self.linked,
            locked=self.locked,
            pin_set=self.pin is not None,
            accounts=len(self.accounts),
            free_slots=self.capacity - len(self.accounts),
            pin_attempts_left=self.pin_attempts_left,
        )


def error_message(exc: KeyProtocolError) -> bytes:
    return bytes([m.ERROR]) + m.ErrorBody(exc.code, exc.description[:200]).encode()


class KeyEndpoint:
    """One key's protocol endpoint; ``button`` answers whether the user pressed the button."""

    def __init__(
        self,
        storage: KeyStorage,
        *,
        clock: Callable[[], float],
        button: Callable[[], bool] = lambda: True,
    ) -> None:
        self.storage = storage
        self.clock = clock
        self.button = button
        self._channel: session.Channel | None = None
        self._pending: tuple[bytes, bytes, session.SessionKeys] | None = None
        self._session_linked = False

    def disconnected(self) -> None:
        self._channel = self._pending = None

    def receive(self, message: bytes) -> bytes:
        kind = message[:1]
        try:
            if kind == bytes([m.Outer.HELLO]):
                return self._hello(message)
            if kind == bytes([m.Outer.CONFIRM]):
                return self._confirm(message)
            if kind == bytes([m.Outer.SEALED]):
                return self._sealed(message)
            raise MalformedMessage(f"unknown message type {message[:1].hex() or 'none'}")
        except KeyProtocolError as exc:
            # Outer.ERROR and the sealed ERROR status are both 0x0E: one encoding.
            return error_message(exc)

    # -- handshake --------------------------------------------------------------------------

    def _auth_key(self) -> bytes:
        return self.storage.master_key or session.UNLINKED_KEY

    def _hello(self, message: bytes) -> bytes:
        self.disconnected()
        hello = decode(m.Hello, message[1:])
        if hello.version != m.VERSION:
            raise MalformedMessage(f"this key speaks version {m.VERSION}, got {hello.version}")
        private, public = session.new_ephemeral()
        nonce = os.urandom(m.NONCE_BYTES)
        linked = self.storage.linked
        th = session.transcript(
            message, serial=self.storage.serial, linked=linked, nonce=nonce, public_key=public
        )
        auth_key = self._auth_key()
        keys = session.derive(session.shared_secret(private, hello.public_key), auth_key, th)
        self._pending = (auth_key, th, keys)
        self._session_linked = linked
        reply = m.HelloReply(
            self.storage.serial, linked, nonce, public, session.proof(auth_key, b"key", th)
        )
        return bytes([m.Outer.HELLO_REPLY]) + reply.encode()

    def _confirm(self, message: bytes) -> bytes:
        if self._pending is None:
            raise NoSession("CONFIRM arrived without a HELLO before it")
        auth_key, th, keys = self._pending
        self._pending = None
        confirm = decode(m.Confirm, message[1:])
        session.check_proof(auth_key, b"host", th, confirm.proof)
        flags = m.ProfileFlag(self.storage.profile.flags)
        if self._session_linked and flags & m.ProfileFlag.BUTTON_CONNECTION and not self.button():
            raise ButtonNotPressed("the profile asks for a button press to connect")
        self._channel = session.Channel(keys, host=False)
        return self._channel.seal(bytes([m.OK]) + self.storage.info().encode())

    # -- commands ---------------------------------------------------------------------------

    def _sealed(self, message: bytes) -> bytes:
        if self._channel is None:
            raise NoSession("a sealed message arrived before the session was established")
        plaintext = self._channel.open(message)
        channel = self._channel
        try:
            reply = self._command(plaintext)
            out = bytes([m.OK]) + reply.encode()
        except KeyProtocolError as exc:
            out = error_message(exc)
        sealed = channel.seal(out)
        if plaintext[:1] in (bytes([m.Op.LINK]), bytes([m.Op.WIPE])) and out[0] == m.OK:
            # The session's key was the old (or no) master key: the next one starts afresh.
            self.disconnected()
        return sealed

    def _command(self, plaintext: bytes) -> Body:
        if not plaintext:
            raise MalformedMessage("a request has a command byte")
        command_cls = m.COMMANDS.get(plaintext[0])
        if command_cls is None:
            raise UnknownCommand(f"unknown command {plaintext[0]:#04x}")
        command = decode(command_cls, plaintext[1:])
        op = command_cls.OP
        if not self._session_linked and op not in _WHEN_UNLINKED:
            raise NotLinked(f"{op.name}: the key is not linked; only INFO and LINK are served")
        if self.storage.locked and op not in _WHEN_LOCKED:
            raise KeyLocked(f"{op.name}: the key is locked; unlock it with the activation code")
        handler = getattr(self, f"_do_{op.name.lower()}")
        result: Body = handler(command)
        return result

    def _do_info(self, _: m.InfoCommand) -> m.Info:
        return self.storage.info()

    def _do_link(self, command: m.Link) -> m.Empty:
        if self.storage.linked:
            raise AlreadyLinked("the key is linked already: wipe it first")
        flags = m.ProfileFlag(self.storage.profile.flags)
        if flags & m.ProfileFlag.BUTTON_PAIRING and not self.button():
            raise ButtonNotPressed("linking needs the key's button pressed")
        if command.master_key == session.UNLINKED_KEY:
            raise MalformedMessage("a master key of 32 zero bytes is refused")
        self.storage.master_key = command.master_key
        return m.Empty()

    def _do_lock(self, command: m.Lock) -> m.Empty:
        _check_code(command.code)
        self.storage.lock_code = _digest(command.code)
        self.storage.code_attempts_left = CODE_ATTEMPTS
        return m.Empty()

    def _do_unlock(self, command: m.Unlock) -> m.Empty:
        s = self.storage
        if s.lock_code is None:
            if s.locked_by_pin:
                raise KeyLocked("the key locked itself after wrong PINs: the server must relock it")
            return m.Empty()
        if s.code_attempts_left <= 0:
            raise AttemptsExhausted("no code attempts are left: the server must issue a new code")
        if not hmac.compare_digest(s.lock_code, _digest(command.code)):
            s.code_attempts_left -= 1
            if s.code_attempts_left == 0:
                raise AttemptsExhausted("wrong activation code; no attempts are left")
            raise WrongCode(f"wrong activation code; {s.code_attempts_left} attempts left")
        s.lock_code, s.locked_by_pin = None, False
        s.code_attempts_left = CODE_ATTEMPTS
        # A key that locked itself over wrong PINs gets a new PIN from its user.
        s.pin = s.pin_verified_at = None
        s.pin_attempts_left = s.profile.pin_attempts
        return m.Empty()

    def _pin_fresh(self) -> bool:
        at = self.storage.pin_verified_at
        return at is not None and self.clock() - at < self.storage.profile.pin_expiry

    def _do_set_pin(self, command: m.SetPin) -> m.Empty:
        s = self.storage
        if s.pin is not None and not self._pin_fresh():
            raise PinRequired("changing the PIN needs the current one verified first")
        length = s.profile.pin_length
        if not command.pin.isdigit() or not command.pin.isascii() or len(command.pin) < length:
            raise PinPolicy(f"a PIN is at least {length} digits")
        s.pin, s.pin_verified_at = _digest(command.pin), self.clock()
        s.pin_attempts_left = s.profile.pin_attempts
        return m.Empty()

    def _do_verify_pin(self, command: m.VerifyPin) -> m.Empty:
        s = self.storage
        if s.pin is None:
            raise PinRequired("no PIN is set on this key: set one first")
        if not hmac.compare_digest(s.pin, _digest(command.pin)):
            s.pin_attempts_left -= 1
            s.pin_verified_at = None
            if s.pin_attempts_left <= 0:
                s.locked_by_pin = True
                raise AttemptsExhausted("wrong PIN; no attempts are left: the key locked itself")
            raise WrongPin(f"wrong PIN; {s.pin_attempts_left} attempts left")
        s.pin_attempts_left, s.pin_verified_at = s.profile.pin_attempts, self.clock()
        return m.Empty()

    def _do_set_profile(self, command: m.SetProfile) -> m.Empty:
        if command.flags & ~0x1FF:
            raise MalformedMessage(
                f"profile flags: only bits 0-8 are defined, got {command.flags:#x}"
            )
        if not 4 <= command.pin_length <= 16 or command.pin_attempts < 3:
            raise MalformedMessage("profile: PIN length 4-16 and at least 3 attempts")
        self.storage.profile = replace(command)
        self.storage.pin_attempts_left = min(self.storage.pin_attempts_left, command.pin_attempts)
        return m.Empty()

    def _do_list_accounts(self, command: m.ListAccounts) -> m.AccountPage:
        accounts = list(self.storage.accounts.values())[command.start :]
        page: list[m.AccountSummary] = []
        size = 0
        for account in accounts[:64]:
            encoded = len(account.summary().encode()) + 2
            if page and size + encoded > _PAGE_BYTES:
                break
            page.append(account.summary())
            size += encoded
        end = command.start + len(page)
        return m.AccountPage(tuple(page), end if end < len(self.storage.accounts) else None)

    def _do_save_account(self, command: m.SaveAccount) -> m.Empty:
        s = self.storage
        if command.id not in s.accounts and len(s.accounts) >= s.capacity:
            raise StorageFull(f"the key holds {s.capacity} accounts at most")
        if command.otp_secret is not None:
            _check_otp_secret(command.otp_secret)
        if command.primary:
            for other in [a for a in s.accounts.values() if a.primary and a.id != command.id]:
                s.accounts[other.id] = replace(other, primary=False)
        s.accounts[command.id] = StoredAccount(
            command.id,
            command.name,
            command.login,
            command.password,
            command.urls,
            command.apps,
            command.otp_secret,
            command.primary,
        )
        return m.Empty()

    def _account(self, account_id: str) -> StoredAccount:
        account = self.storage.accounts.get(account_id)
        if account is None:
            raise NoSuchAccount(f"no account {account_id!r} is stored on the key")
        return account

    def _do_delete_account(self, command: m.DeleteAccount) -> m.Empty:
        self._account(command.id)
        del self.storage.accounts[command.id]
        return m.Empty()

    def _storage_access(self) -> None:
        flags = m.ProfileFlag(self.storage.profile.flags)
        pin_flags = m.ProfileFlag.PIN_STORAGE | m.ProfileFlag.PIN_CONNECTION
        if flags & pin_flags and not self._pin_fresh():
            raise PinRequired("the profile asks for the PIN before credentials are read")
        if flags & m.ProfileFlag.BUTTON_STORAGE and not self.button():
            raise ButtonNotPressed("the profile asks for a button press to read credentials")

    def _do_read_credentials(self, command: m.ReadCredentials) -> m.Credentials:
        account = self._account(command.id)
        self._storage_access()
        return m.Credentials(account.login, account.password)

    def _do_otp(self, command: m.Otp) -> m.OtpCode:
        account = self._account(command.id)
        if account.otp_secret is None:
            raise NoOtpSecret(f"account {command.id!r} has no OTP secret")
        self._storage_access()
        return m.OtpCode(totp(account.otp_secret, command.time))

    def _do_set_primary(self, command: m.SetPrimary) -> m.Empty:
        chosen = self._account(command.id)
        s = self.storage
        for other in [a for a in s.accounts.values() if a.primary and a.id != chosen.id]:
            s.accounts[other.id] = replace(other, primary=False)
        s.accounts[chosen.id] = replace(chosen, primary=True)
        return m.Empty()

    def _do_wipe(self, _: m.Wipe) -> m.Empty:
        self.storage.wipe()
        return m.Empty()


def _check_code(code: str) -> None:
    if len(code) != 6 or not code.isdigit() or not code.isascii():
        raise MalformedMessage("an activation code is 6 digits")


def _otp_key(secret: str) -> bytes:
    try:
        return base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError):
        raise MalformedMessage("otp_secret: expected base32 text") from None


def _check_otp_secret(secret: str) -> None:
    _otp_key(secret)
    if len(secret.rstrip("=")) < 16:
        raise MalformedMessage("otp_secret: at least 16 base32 characters (80 bits)")


def totp(secret: str, at: int, *, digits: int = 6, step: int = 30) -> str:
    """RFC 6238 with SHA-1, as the services that hand out 80-bit secrets compute it."""
    digest = hmac.new(_otp_key(secret), struct.pack(">Q", at // step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack_from(">I", digest, offset)[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)

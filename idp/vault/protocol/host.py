"""The host side of a key session, sans-IO; it runs on the server, beside the master key.

The driver feeds whole messages (the gateway reassembles frames) and sends what comes back::

    host = HostSession(expected_serial=serial)
    send(host.hello());                     seen = host.on_hello_reply(receive())
    send(host.confirm(master_key=...));     info = host.on_ready(receive())
    send(host.request(cmd));                reply = host.on_reply(receive())

Every refusal of the key arrives as its typed error (:mod:`.errors`), raised here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum

from idp.vault.protocol import session
from idp.vault.protocol.codec import B, Body, decode
from idp.vault.protocol.errors import (
    KeyProtocolError,
    MalformedMessage,
    NoSession,
    NotLinked,
    SerialMismatch,
    from_code,
)
from idp.vault.protocol.messages import (
    ERROR,
    NONCE_BYTES,
    OK,
    VERSION,
    Command,
    Confirm,
    ErrorBody,
    Hello,
    HelloReply,
    Info,
    Outer,
)


@dataclass(frozen=True)
class KeySeen:
    """What the key said of itself before anyone proved anything."""

    serial: str
    linked: bool


class _Stage(Enum):
    NEW = "new"
    HELLO_SENT = "hello sent"
    REPLIED = "reply received"
    CONFIRMED = "confirm sent"
    READY = "ready"
    FAILED = "failed"


def key_error(message: bytes) -> KeyProtocolError:
    """The typed error an ERROR message (outer or sealed payload) carries."""
    body = decode(ErrorBody, message[1:])
    return from_code(body.code, body.message)


class HostSession:
    def __init__(self, *, expected_serial: str) -> None:
        self.expected_serial = expected_serial
        self._private, self._public = session.new_ephemeral()
        self._nonce = os.urandom(NONCE_BYTES)
        self._stage = _Stage.NEW
        self._hello = b""
        self._reply: HelloReply | None = None
        self._channel: session.Channel | None = None
        self._pending: type[Command] | None = None

    def _expect(self, stage: _Stage, doing: str) -> None:
        if self._stage is not stage:
            raise NoSession(
                f"{doing}: the session is at '{self._stage.value}', not '{stage.value}'"
            )

    def _fail(self, exc: Exception) -> Exception:
        self._stage = _Stage.FAILED
        return exc

    def hello(self) -> bytes:
        self._expect(_Stage.NEW, "hello")
        body = Hello(version=VERSION, nonce=self._nonce, public_key=self._public).encode()
        self._hello = bytes([Outer.HELLO]) + body
        self._stage = _Stage.HELLO_SENT
        return self._hello

    def on_hello_reply(self, message: bytes) -> KeySeen:
        self._expect(_Stage.HELLO_SENT, "hello reply")
        try:
            reply = self._parse_reply(message)
        except KeyProtocolError as exc:
            raise self._fail(exc) from None
        self._reply = reply
        self._stage = _Stage.REPLIED
        return KeySeen(reply.serial, reply.linked)

    def _parse_reply(self, message: bytes) -> HelloReply:
        if message[:1] == bytes([Outer.ERROR]):
            raise key_error(message)
        if message[:1] != bytes([Outer.HELLO_REPLY]):
            raise MalformedMessage("expected the key's HELLO_REPLY")
        reply = decode(HelloReply, message[1:])
        if reply.serial != self.expected_serial:
            raise SerialMismatch(
                f"the key advertised {self.expected_serial} and answers as {reply.serial}"
            )
        return reply

    def confirm(self, *, master_key: bytes | None) -> bytes:
        """Check the key's proof with ``master_key`` (None: the key must be unlinked)."""
        self._expect(_Stage.REPLIED, "confirm")
        reply = self._reply
        assert reply is not None
        if reply.linked and master_key is None:
            raise self._fail(NotLinked("the key is linked and no master key was given"))
        auth_key = master_key if reply.linked and master_key is not None else session.UNLINKED_KEY
        th = session.transcript(
            self._hello,
            serial=reply.serial,
            linked=reply.linked,
            nonce=reply.nonce,
            public_key=reply.public_key,
        )
        try:
            session.check_proof(auth_key, b"key", th, reply.proof)
            secret = session.shared_secret(self._private, reply.public_key)
        except KeyProtocolError as exc:
            raise self._fail(exc) from None
        self._channel = session.Channel(session.derive(secret, auth_key, th), host=True)
        self._stage = _Stage.CONFIRMED
        return bytes([Outer.CONFIRM]) + Confirm(session.proof(auth_key, b"host", th)).encode()

    def on_ready(self, message: bytes) -> Info:
        self._expect(_Stage.CONFIRMED, "ready")
        try:
            info = self._open(message, Info)
        except KeyProtocolError as exc:
            raise self._fail(exc) from None
        self._stage = _Stage.READY
        return info

    @property
    def ready(self) -> bool:
        return self._stage is _Stage.READY

    def request(self, command: Command) -> bytes:
        self._expect(_Stage.READY, "request")
        if self._pending is not None:
            raise NoSession(f"a reply to {self._pending.__name__} is still due")
        assert self._channel is not None
        self._pending = type(command)
        return self._channel.seal(bytes([command.OP]) + command.encode())

    def on_reply(self, message: bytes) -> Body:
        """The reply to the last request, decoded as that command's reply type."""
        self._expect(_Stage.READY, "reply")
        pending, self._pending = self._pending, None
        if pending is None:
            raise NoSession("a reply arrived and no request was sent")
        return self._open(message, pending.REPLY)

    def _open(self, message: bytes, reply: type[B]) -> B:
        if message[:1] == bytes([Outer.ERROR]):
            raise key_error(message)
        assert self._channel is not None
        plaintext = self._channel.open(message)
        if plaintext[:1] == bytes([ERROR]):
            raise key_error(plaintext)
        if plaintext[:1] != bytes([OK]):
            raise MalformedMessage("a reply starts with 0x00 (ok) or 0x0E (error)")
        return decode(reply, plaintext[1:])

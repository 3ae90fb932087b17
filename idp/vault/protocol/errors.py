"""Typed errors of the key protocol, each with the numeric code it has on the wire.

A key answers a command it refuses with an ERROR message carrying one of these codes; the host
raises the matching exception (:func:`from_code`). Failures found by the host itself (a frame
gap, a bad proof from the key) raise the same classes without travelling anywhere.
"""

from __future__ import annotations

from typing import ClassVar

from idp.errors import AccessDenied, Conflict, InvalidRequest, NotFound, Unauthorized


class KeyProtocolError(InvalidRequest):
    """Root of the key protocol's errors; ``code`` is the number on the wire."""

    error = "key_protocol_error"
    code: ClassVar[int] = 1


class MalformedMessage(KeyProtocolError):
    """A frame or message is not of the documented shape."""

    error = "key_malformed_message"
    code = 1


class FrameGap(MalformedMessage):
    """A continuation frame arrived with a sequence number past the next expected one."""

    error = "key_frame_gap"
    code = 2


class FrameDuplicate(MalformedMessage):
    """A frame arrived whose sequence number was already received."""

    error = "key_frame_duplicate"
    code = 3


class MessageTooLarge(KeyProtocolError):
    """A message (announced or reassembled) exceeds the protocol's cap."""

    error = "key_message_too_large"
    code = 4


class UnknownCommand(KeyProtocolError):
    error = "key_unknown_command"
    code = 5


class NoSession(KeyProtocolError):
    """A command arrived before the session was established (or after it failed)."""

    error = "key_no_session"
    code = 6


class ReplayedMessage(KeyProtocolError):
    """A sealed message's counter is not the next one: replayed, reordered or dropped."""

    error = "key_replayed_message"
    code = 7


class AuthenticationFailed(KeyProtocolError, Unauthorized):
    """A proof or a sealed message does not verify: the other side lacks the master key."""

    error = "key_authentication_failed"
    status = 401
    code = 8


class SerialMismatch(AuthenticationFailed):
    """The key answered with a serial other than the one it advertised."""

    error = "key_serial_mismatch"
    code = 9


class NotLinked(KeyProtocolError, Conflict):
    error = "key_not_linked"
    status = 409
    code = 10


class AlreadyLinked(KeyProtocolError, Conflict):
    error = "key_already_linked"
    status = 409
    code = 11


class KeyLocked(KeyProtocolError, AccessDenied):
    """The key is locked: only unlock with the activation code (and info, wipe) are served."""

    error = "key_locked"
    status = 403
    code = 12


class WrongCode(KeyProtocolError, AccessDenied):
    error = "key_wrong_code"
    status = 403
    code = 13


class WrongPin(KeyProtocolError, AccessDenied):
    error = "key_wrong_pin"
    status = 403
    code = 14


class PinRequired(KeyProtocolError, AccessDenied):
    error = "key_pin_required"
    status = 403
    code = 15


class PinPolicy(KeyProtocolError):
    """The PIN does not have the length the access profile asks for."""

    error = "key_pin_policy"
    code = 16


class ButtonNotPressed(KeyProtocolError, AccessDenied):
    error = "key_button_not_pressed"
    status = 403
    code = 17


class NoSuchAccount(KeyProtocolError, NotFound):
    error = "key_no_such_account"
    status = 404
    code = 18


class StorageFull(KeyProtocolError, Conflict):
    error = "key_storage_full"
    status = 409
    code = 19


class NoOtpSecret(KeyProtocolError, NotFound):
    error = "key_no_otp_secret"
    status = 404
    code = 20


class AttemptsExhausted(KeyLocked):
    """The last PIN or code attempt failed: the key locked itself."""

    error = "key_attempts_exhausted"
    code = 21


_BY_CODE: dict[int, type[KeyProtocolError]] = {
    cls.code: cls
    for cls in (
        MalformedMessage,
        FrameGap,
        FrameDuplicate,
        MessageTooLarge,
        UnknownCommand,
        NoSession,
        ReplayedMessage,
        AuthenticationFailed,
        SerialMismatch,
        NotLinked,
        AlreadyLinked,
        KeyLocked,
        WrongCode,
        WrongPin,
        PinRequired,
        PinPolicy,
        ButtonNotPressed,
        NoSuchAccount,
        StorageFull,
        NoOtpSecret,
        AttemptsExhausted,
    )
}


def from_code(code: int, description: str) -> KeyProtocolError:
    """The exception for an ERROR message the key sent (unknown codes stay generic)."""
    cls = _BY_CODE.get(code, KeyProtocolError)
    error = cls(f"the key refused: {description}" if description else "the key refused")
    return error


def codes() -> dict[int, type[KeyProtocolError]]:
    """Every code and its class (docs/key-protocol.md lists the same table)."""
    return dict(_BY_CODE)

"""Framing: one protocol message in as many GATT writes/notifications as the MTU needs.

Each frame is a 3-byte header and a payload::

    flags (1 byte: 0x80 FIRST, 0x40 LAST, other bits zero) | seq (2 bytes, big-endian)

A FIRST frame also carries the message's total length (2 bytes) before its payload. ``seq``
counts the frames of one message from 0. The reassembler refuses gaps, duplicates, a
continuation without a FIRST, a FIRST inside a message, lengths over :data:`MAX_MESSAGE_BYTES`
and a LAST that does not complete the announced length, each with its own error; after an
error it is empty again, ready for the next FIRST frame.
"""

from __future__ import annotations

import struct

from idp.vault.protocol.errors import FrameDuplicate, FrameGap, MalformedMessage, MessageTooLarge

FIRST = 0x80
LAST = 0x40
HEADER = 3
FIRST_HEADER = HEADER + 2
#: the largest message either side accepts (100 accounts are listed in pages below it)
MAX_MESSAGE_BYTES = 8192
#: the smallest payload room a frame needs (ATT MTU 23 → 20 bytes per write)
MIN_FRAME_BYTES = FIRST_HEADER + 1


def split(message: bytes, *, frame_size: int) -> list[bytes]:
    """The frames carrying ``message``, none longer than ``frame_size`` bytes."""
    if frame_size < MIN_FRAME_BYTES:
        raise ValueError(f"frame_size: at least {MIN_FRAME_BYTES} bytes, got {frame_size}")
    if not message:
        raise ValueError("an empty message has no frames")
    if len(message) > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"a message is at most {MAX_MESSAGE_BYTES} bytes, this one has {len(message)}"
        )
    frames: list[bytes] = []
    first_room = frame_size - FIRST_HEADER
    chunks = [message[:first_room]]
    room = frame_size - HEADER
    chunks += [message[i : i + room] for i in range(first_room, len(message), room)]
    for seq, chunk in enumerate(chunks):
        flags = (FIRST if seq == 0 else 0) | (LAST if seq == len(chunks) - 1 else 0)
        header = struct.pack(">BH", flags, seq)
        if seq == 0:
            header += struct.pack(">H", len(message))
        frames.append(header + chunk)
    return frames


class Reassembler:
    """Frames in, whole messages out; one message at a time, in order."""

    def __init__(self, *, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self.max_message = max_message
        self._parts: list[bytes] = []
        self._expected_length = 0
        self._received = 0
        self._next_seq = 0

    @property
    def in_progress(self) -> bool:
        return bool(self._parts)

    def _reset(self) -> None:
        self._parts, self._expected_length, self._received, self._next_seq = [], 0, 0, 0

    def feed(self, frame: bytes) -> bytes | None:
        """The message ``frame`` completes, or None while more frames are due."""
        try:
            return self._feed(bytes(frame))
        except MalformedMessage:
            self._reset()
            raise
        except MessageTooLarge:
            self._reset()
            raise

    def _feed(self, frame: bytes) -> bytes | None:
        if len(frame) < HEADER + 1:
            raise MalformedMessage(f"a frame has a 3-byte header and a payload, got {len(frame)}")
        flags, seq = struct.unpack_from(">BH", frame)
        if flags & ~(FIRST | LAST):
            raise MalformedMessage(f"frame flags: only 0x80 and 0x40 are defined, got {flags:#x}")
        payload = frame[HEADER:]
        if flags & FIRST:
            payload = self._start(seq, payload)
        elif not self._parts:
            raise FrameGap(f"a continuation frame (seq {seq}) arrived without its FIRST frame")
        elif seq < self._next_seq:
            raise FrameDuplicate(f"frame {seq} arrived twice (expected {self._next_seq})")
        elif seq > self._next_seq:
            raise FrameGap(f"expected frame {self._next_seq}, got {seq}: frames were lost")
        self._received += len(payload)
        if self._received > self._expected_length:
            raise MessageTooLarge(
                f"the message announced {self._expected_length} bytes, frames carry more"
            )
        self._parts.append(payload)
        self._next_seq = seq + 1
        if not flags & LAST:
            return None
        if self._received != self._expected_length:
            raise MalformedMessage(
                f"the LAST frame ends the message at {self._received} bytes, "
                f"{self._expected_length} were announced"
            )
        message = b"".join(self._parts)
        self._reset()
        return message

    def _start(self, seq: int, payload: bytes) -> bytes:
        if self._parts:
            raise FrameGap(
                f"a FIRST frame arrived while frame {self._next_seq} of a message was due"
            )
        if seq != 0:
            raise MalformedMessage(f"a FIRST frame has seq 0, got {seq}")
        if len(payload) < 3:
            raise MalformedMessage("a FIRST frame carries a 2-byte length and a payload")
        (length,) = struct.unpack_from(">H", payload)
        if length > self.max_message:
            raise MessageTooLarge(
                f"a message is at most {self.max_message} bytes, {length} announced"
            )
        if length == 0:
            raise MalformedMessage("a message announced 0 bytes")
        self._expected_length = length
        return payload[2:]

"""Framing: split and reassemble, and every way frames can go wrong (with hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idp.vault.protocol import errors, framing


@given(message=st.binary(min_size=1, max_size=framing.MAX_MESSAGE_BYTES), size=st.integers(6, 512))
@settings(max_examples=60, deadline=None)
def test_any_message_survives_any_frame_size(message, size):
    frames = framing.split(message, frame_size=size)
    assert all(len(f) <= size for f in frames)
    reassembler = framing.Reassembler()
    results = [reassembler.feed(f) for f in frames]
    assert results[-1] == message and all(r is None for r in results[:-1])
    assert not reassembler.in_progress


def frames_of(n: int) -> list[bytes]:
    return framing.split(bytes(range(256)) * n, frame_size=20)


def test_a_lost_frame_is_a_gap():
    frames = frames_of(1)
    r = framing.Reassembler()
    r.feed(frames[0])
    with pytest.raises(errors.FrameGap, match="expected frame 1, got 2"):
        r.feed(frames[2])
    # After the error the reassembler waits for a new message.
    assert not r.in_progress
    assert [r.feed(f) for f in frames][-1] == bytes(range(256))


def test_a_repeated_frame_is_a_duplicate():
    frames = frames_of(1)
    r = framing.Reassembler()
    r.feed(frames[0])
    r.feed(frames[1])
    with pytest.raises(errors.FrameDuplicate, match="frame 1 arrived twice"):
        r.feed(frames[1])


def test_a_continuation_without_its_first_frame():
    with pytest.raises(errors.FrameGap, match="without its FIRST"):
        framing.Reassembler().feed(frames_of(1)[3])


def test_a_first_frame_inside_a_message():
    frames = frames_of(1)
    r = framing.Reassembler()
    r.feed(frames[0])
    with pytest.raises(errors.FrameGap, match="FIRST frame arrived while"):
        r.feed(frames[0])


def test_an_oversized_announcement_is_refused_before_any_payload_is_kept():
    frame = bytes([framing.FIRST, 0, 0]) + (framing.MAX_MESSAGE_BYTES + 1).to_bytes(2, "big") + b"x"
    with pytest.raises(errors.MessageTooLarge, match=str(framing.MAX_MESSAGE_BYTES)):
        framing.Reassembler().feed(frame)


def test_frames_carrying_more_than_announced():
    r = framing.Reassembler()
    r.feed(bytes([framing.FIRST, 0, 0, 0, 4]) + b"ab")
    with pytest.raises(errors.MessageTooLarge, match="announced 4 bytes"):
        r.feed(bytes([0, 0, 1]) + b"cdef")


def test_a_last_frame_that_ends_the_message_early():
    with pytest.raises(errors.MalformedMessage, match="4 were announced"):
        framing.Reassembler().feed(bytes([framing.FIRST | framing.LAST, 0, 0, 0, 4]) + b"ab")


@pytest.mark.parametrize(
    "frame, match",
    [
        (b"", "3-byte header"),
        (b"\x80\x00", "3-byte header"),
        (b"\x81\x00\x00\x00\x01x", "flags"),
        (b"\x80\x00\x01\x00\x01x", "seq 0"),
        (b"\x80\x00\x00\x00", "2-byte length"),
        (b"\xc0\x00\x00\x00\x00x", "0 bytes"),
    ],
)
def test_malformed_frames(frame, match):
    with pytest.raises(errors.MalformedMessage, match=match):
        framing.Reassembler().feed(frame)


def test_split_refuses_what_it_cannot_frame():
    with pytest.raises(errors.MessageTooLarge):
        framing.split(bytes(framing.MAX_MESSAGE_BYTES + 1), frame_size=20)
    with pytest.raises(ValueError, match="frame_size"):
        framing.split(b"x", frame_size=5)


@given(st.lists(st.binary(max_size=40), max_size=30))
@settings(max_examples=300, deadline=None)
def test_fuzz_the_reassembler_raises_only_its_own_errors(frames):
    r = framing.Reassembler()
    for frame in frames:
        try:
            message = r.feed(frame)
        except (errors.MalformedMessage, errors.MessageTooLarge):
            continue
        assert message is None or 0 < len(message) <= framing.MAX_MESSAGE_BYTES

"""The command decoder and the key endpoint under hostile input (hypothesis)."""

from __future__ import annotations

import contextlib
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.vault.protocol import errors
from idp.vault.protocol import messages as m
from idp.vault.protocol.codec import decode
from idp.vault.protocol.host import key_error
from idp.vault.protocol.key import KeyEndpoint, KeyStorage
from idp.vault.protocol.session import Channel


def field(tag: int, value: bytes) -> bytes:
    return struct.pack(">BH", tag, len(value)) + value


@pytest.mark.parametrize(
    "body, match",
    [
        (field(1, b"x") + field(1, b"x"), "appears twice"),
        (field(9, b"x"), "unknown field tag 9"),
        (b"", "required field id is missing"),
        (field(1, b"\xff\xfe"), "UTF-8"),
        (field(1, b"a" * 65), "at most 64"),
        (b"\x01\x00", "cut short"),
        (b"\x01\x00\x09ab", "past the end"),
    ],
)
def test_decoder_refusals(body, match):
    with pytest.raises(errors.MalformedMessage, match=match):
        decode(m.DeleteAccount, body)


def test_integer_and_boolean_widths():
    with pytest.raises(errors.MalformedMessage, match="expected 2 bytes"):
        decode(m.ListAccounts, field(1, b"\x00"))
    with pytest.raises(errors.MalformedMessage, match="0 or 1"):
        decode(m.Info, field(4, b"\x02"))
    with pytest.raises(errors.MalformedMessage, match="item announces"):
        decode(m.SaveAccount, field(5, b"\x00\x09ab"))


@given(op=st.sampled_from(sorted(m.COMMANDS)), body=st.binary(max_size=300))
@settings(max_examples=400, deadline=None)
def test_fuzz_every_command_body(op, body):
    with contextlib.suppress(errors.MalformedMessage):
        decode(m.COMMANDS[op], body)


@given(
    st.builds(
        m.SaveAccount,
        id=st.text(max_size=64),
        name=st.text(max_size=128),
        login=st.text(max_size=100),
        password=st.text(max_size=100),
        urls=st.lists(st.text(max_size=50), max_size=8).map(tuple),
        apps=st.lists(st.text(max_size=50), max_size=8).map(tuple),
        otp_secret=st.none() | st.text(max_size=40),
        primary=st.booleans(),
    )
)
@settings(max_examples=200, deadline=None)
def test_round_trip(account):
    assert decode(m.SaveAccount, account.encode()) == account


@given(message=st.binary(max_size=200))
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzz_the_key_endpoint_outside_a_session(pair, message):
    answer = pair.key.receive(message)
    assert answer[0] in (m.Outer.ERROR, m.Outer.HELLO_REPLY)


@given(plaintext=st.binary(max_size=300))
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_fuzz_sealed_requests_inside_a_session(pair, plaintext):
    """Whatever an authenticated host sends, the key answers, sealed, and keeps its state sane."""
    host = pair.linked() if not pair.storage.linked else pair.session(pair.master_key)
    channel: Channel = host._channel  # the host's own channel, to seal arbitrary requests
    answer = pair.key.receive(channel.seal(plaintext))
    reply = channel.open(answer)
    assert reply[0] in (m.OK, m.ERROR)
    if reply[0] == m.ERROR:
        assert isinstance(key_error(reply), errors.KeyProtocolError)
    assert 0 <= len(pair.storage.accounts) <= pair.storage.capacity


def test_unknown_command():
    storage = KeyStorage(serial="ST10301234567890")
    endpoint = KeyEndpoint(storage, clock=lambda: 0.0)
    from idp.vault.protocol.host import HostSession

    host = HostSession(expected_serial=storage.serial)
    host.on_hello_reply(endpoint.receive(host.hello()))
    host.on_ready(endpoint.receive(host.confirm(master_key=None)))
    reply = host._channel.open(endpoint.receive(host._channel.seal(b"\x7f")))
    with pytest.raises(errors.UnknownCommand, match="0x7f"):
        raise key_error(reply)

"""The session: both proofs, the sealed channel's counters, and what an attacker can try."""

from __future__ import annotations

import os

import pytest

from idp.vault.protocol import errors, session
from idp.vault.protocol.host import HostSession, key_error
from idp.vault.protocol.messages import InfoCommand, Link, Outer, Wipe

SERIAL = "ST10301234567890"


def test_unlinked_key_links_then_speaks_only_with_its_master_key(pair):
    host = pair.session(None)
    assert not pair.storage.linked
    pair.call(host, Link(pair.master_key))
    assert pair.storage.master_key == pair.master_key
    # The link session ends with the link: the next one is keyed by the master key.
    with pytest.raises(errors.NoSession, match="before the session"):
        host.on_reply(pair.key.receive(host.request(InfoCommand())))
    info = pair.call(pair.session(pair.master_key), InfoCommand())
    assert info.linked and info.serial == SERIAL and info.battery == 100


def test_a_wrong_master_key_is_caught_by_the_host_before_it_proves_anything(pair):
    pair.linked()
    host = HostSession(expected_serial=SERIAL)
    host.on_hello_reply(pair.key.receive(host.hello()))
    with pytest.raises(errors.AuthenticationFailed, match="master key"):
        host.confirm(master_key=os.urandom(32))
    with pytest.raises(errors.NoSession):
        host.request(InfoCommand())


def test_a_host_without_the_master_key_cannot_forge_the_confirm(pair):
    pair.linked()
    host = HostSession(expected_serial=SERIAL)
    reply = pair.key.receive(host.hello())
    host.on_hello_reply(reply)
    # Pretend the key were unlinked: the confirm is then keyed with the wrong key.
    forged = bytes([Outer.CONFIRM]) + b"\x01\x00\x20" + bytes(32)
    answer = pair.key.receive(forged)
    assert answer[0] == Outer.ERROR
    with pytest.raises(errors.AuthenticationFailed, match="host's proof"):
        raise key_error(answer)


def test_commands_without_a_session_are_refused(pair):
    pair.linked()
    pair.key.disconnected()
    answer = pair.key.receive(bytes([Outer.SEALED]) + bytes(8) + bytes(32))
    with pytest.raises(errors.NoSession, match="before the session"):
        raise key_error(answer)


def test_a_replayed_sealed_message_is_refused_and_the_session_goes_on(pair):
    host = pair.linked()
    request = host.request(InfoCommand())
    host.on_reply(pair.key.receive(request))
    replayed = pair.key.receive(request)
    assert replayed[0] == Outer.ERROR
    with pytest.raises(errors.ReplayedMessage, match="replayed"):
        raise key_error(replayed)
    assert pair.call(host, InfoCommand()).linked


def test_a_reordered_message_is_refused(pair):
    pair.linked()
    keys = session.SessionKeys(os.urandom(32), os.urandom(32))
    sender = session.Channel(keys, host=True)
    receiver = session.Channel(keys, host=False)
    first, second = sender.seal(b"one"), sender.seal(b"two")
    with pytest.raises(errors.ReplayedMessage, match="ahead of its turn"):
        receiver.open(second)
    assert receiver.open(first) == b"one"
    assert receiver.open(second) == b"two"


def test_a_tampered_sealed_message_does_not_decrypt(pair):
    keys = session.SessionKeys(os.urandom(32), os.urandom(32))
    sender, receiver = session.Channel(keys, host=True), session.Channel(keys, host=False)
    sealed = bytearray(sender.seal(b"payload"))
    sealed[-1] ^= 1
    with pytest.raises(errors.AuthenticationFailed, match="does not decrypt"):
        receiver.open(bytes(sealed))


def test_a_sealed_reply_cannot_be_bounced_back_as_a_request():
    # Each direction has its own key: the key's own message is not a valid host message.
    keys = session.SessionKeys(os.urandom(32), os.urandom(32))
    key_side = session.Channel(keys, host=False)
    with pytest.raises(errors.AuthenticationFailed):
        key_side.open(key_side.seal(b"reflected"))


def test_a_key_claiming_another_serial_is_refused(pair):
    host = HostSession(expected_serial="ST10309999999999")
    with pytest.raises(errors.SerialMismatch, match="ST10309999999999"):
        host.on_hello_reply(pair.key.receive(host.hello()))


def test_a_linked_key_without_a_master_key_on_the_host_is_refused(pair):
    pair.linked()
    host = HostSession(expected_serial=SERIAL)
    seen = host.on_hello_reply(pair.key.receive(host.hello()))
    assert seen.linked
    with pytest.raises(errors.NotLinked):
        host.confirm(master_key=None)


def test_an_unlinked_session_serves_info_and_link_only(pair):
    host = pair.session(None)
    with pytest.raises(errors.NotLinked, match="only INFO and LINK"):
        pair.call(host, Wipe())


def test_link_twice_is_refused(pair):
    host = pair.linked()
    with pytest.raises(errors.AlreadyLinked):
        pair.call(host, Link(os.urandom(32)))


def test_linking_needs_the_button_when_the_profile_says(pair):
    pair.presses.append(False)
    host = pair.session(None)
    with pytest.raises(errors.ButtonNotPressed):
        pair.call(host, Link(pair.master_key))
    assert not pair.storage.linked


def test_wipe_returns_the_key_to_the_factory(pair):
    host = pair.linked()
    pair.call(host, Wipe())
    assert not pair.storage.linked and not pair.storage.accounts
    seen_host = HostSession(expected_serial=SERIAL)
    assert not seen_host.on_hello_reply(pair.key.receive(seen_host.hello())).linked


def test_host_steps_out_of_order_are_refused():
    host = HostSession(expected_serial=SERIAL)
    with pytest.raises(errors.NoSession, match="'new'"):
        host.confirm(master_key=None)
    host.hello()
    with pytest.raises(errors.NoSession):
        host.hello()

"""Key conversations as the link server sees them (idp.vault.relay), hostile frames included."""

from __future__ import annotations

import json
import time

import pytest

from idp.vault.model import KeyImport
from idp.vault.protocol import framing
from idp.vault.protocol.key import KeyEndpoint, KeyStorage
from idp.vault.relay import MAX_PER_WORKSTATION, KeyConversations
from idp.workstations.errors import InvalidLinkMessage, LinkMessageTooLarge
from idp.workstations.wire import b64url, unb64url
from tests.idp.vault.conftest import ADMIN, Vaults

WS = "ws-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
SERIAL = "ST10301234567890"


def command(frames: tuple[str, ...]) -> dict:
    [frame] = frames
    value = json.loads(frame)
    assert value["type"] == "command"
    return value


@pytest.fixture
def relay(vaults: Vaults) -> KeyConversations:
    vaults.service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:31", "Hideez Key 4", "4.0.1")]
    )
    return KeyConversations(vault=vaults.service)


def test_a_conversation_through_the_relay(vaults: Vaults, relay: KeyConversations):
    alice = vaults.employee("alice")
    code = vaults.service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice).activation_code
    key = KeyEndpoint(KeyStorage(serial=SERIAL), clock=time.time)
    out = command(relay.handle(WS, "key_seen", {"serial": SERIAL}))
    prompts = 0
    while out["kind"] != "key_done":
        if out["kind"] == "key_message":
            answer = key.receive(unb64url(out["body"]["data"]))
            out = command(
                relay.handle(WS, "key_message", {"serial": SERIAL, "data": b64url(answer)})
            )
        else:
            assert out["kind"] == "key_code_prompt" and out["body"]["attempts_left"] == 3
            prompts += 1
            out = command(relay.handle(WS, "key_code", {"serial": SERIAL, "code": code}))
    assert prompts == 1
    assert out["body"]["status"] == "active" and not out["body"]["refused"]
    assert relay.open_conversations(WS) == 0


def test_an_unknown_key_is_refused_with_its_error(relay: KeyConversations):
    key = KeyEndpoint(KeyStorage(serial="ST99"), clock=time.time)
    out = command(relay.handle(WS, "key_seen", {"serial": "ST99"}))
    answer = key.receive(unb64url(out["body"]["data"]))
    done = command(relay.handle(WS, "key_message", {"serial": "ST99", "data": b64url(answer)}))
    assert done["kind"] == "key_done" and done["body"]["refused"]
    assert done["body"]["error"] == "unknown_key" and "ST99" in done["body"]["error_description"]


@pytest.mark.parametrize(
    "kind, body, error, match",
    [
        ("key_seen", {"serial": "lower-case"}, InvalidLinkMessage, "serial"),
        ("key_seen", {}, InvalidLinkMessage, "serial"),
        ("key_message", {"serial": SERIAL, "data": "AA"}, InvalidLinkMessage, "no conversation"),
        ("key_code", {"serial": SERIAL, "code": "123456"}, InvalidLinkMessage, "no conversation"),
    ],
)
def test_hostile_frames_without_a_conversation(relay, kind, body, error, match):
    with pytest.raises(error, match=match):
        relay.handle(WS, kind, body)


def test_hostile_frames_inside_a_conversation(relay: KeyConversations):
    relay.handle(WS, "key_seen", {"serial": SERIAL})
    with pytest.raises(InvalidLinkMessage, match="no code was asked"):
        relay.handle(WS, "key_code", {"serial": SERIAL, "code": "123456"})
    with pytest.raises(LinkMessageTooLarge):
        big = b64url(bytes(framing.MAX_MESSAGE_BYTES + 10))
        relay.handle(WS, "key_message", {"serial": SERIAL, "data": big})
    with pytest.raises(InvalidLinkMessage, match="base64url"):
        relay.handle(WS, "key_message", {"serial": SERIAL, "data": 12})
    # garbage from the "key" ends the conversation with the protocol's error, nothing stored
    done = command(relay.handle(WS, "key_message", {"serial": SERIAL, "data": b64url(b"\x02zz")}))
    assert done["kind"] == "key_done" and done["body"]["refused"]
    assert done["body"]["error"].startswith("key_")
    assert relay.open_conversations(WS) == 0


def test_conversations_per_workstation_are_bounded_and_dropped_with_the_link(relay):
    for n in range(MAX_PER_WORKSTATION):
        relay.handle(WS, "key_seen", {"serial": f"ST{n:04d}"})
    with pytest.raises(InvalidLinkMessage, match=f"at most {MAX_PER_WORKSTATION}"):
        relay.handle(WS, "key_seen", {"serial": "ST9999"})
    relay.handle(WS, "key_gone", {"serial": "ST0000"})
    assert relay.open_conversations(WS) == MAX_PER_WORKSTATION - 1
    relay.link_lost(WS)
    assert relay.open_conversations(WS) == 0

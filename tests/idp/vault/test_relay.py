"""Key conversations as the link server sees them (idp.vault.relay), hostile frames included."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from idp.vault.model import AccountInput, KeyImport, LoginType, Requirement
from idp.vault.protocol import framing
from idp.vault.protocol.key import KeyEndpoint, KeyStorage
from idp.vault.relay import MAX_PER_WORKSTATION, KeyConversations
from idp.workstations import sealed
from idp.workstations.errors import (
    InvalidLinkMessage,
    KeyConversationBusy,
    LinkMessageTooLarge,
    SealedCredentialInvalid,
)
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
    with pytest.raises(InvalidLinkMessage, match="waits for key_message"):
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


@dataclass
class Unlocking:
    """Alice's key, Active with her primary account, and the workstation's key pair."""

    vaults: Vaults
    relay: KeyConversations
    key: KeyEndpoint
    pc: ec.EllipticCurvePrivateKey

    def through(self, first: str, *, code: str = "", pins: tuple[str, ...] = ()) -> dict:
        """Start a conversation with ``first``, answer the key's side, the code and the PINs
        until it ends; the last command."""
        answers = list(pins)
        self.key.disconnected()
        out = self.start(first)
        while True:
            kind, body = out["kind"], out["body"]
            if kind == "key_message":
                data = b64url(self.key.receive(unb64url(body["data"])))
                out = self.send("key_message", data=data)
            elif kind == "key_code_prompt":
                out = self.send("key_code", code=code)
            elif kind == "key_pin_prompt":
                out = self.send("key_pin", pin=answers.pop(0))
            else:
                return out

    def start(self, kind: str) -> dict:
        return command(
            self.relay.handle(WS, kind, {"serial": SERIAL}, recipient=self.pc.public_key())
        )

    def send(self, kind: str, **body: str) -> dict:
        return command(self.relay.handle(WS, kind, {"serial": SERIAL, **body}))


@pytest.fixture
def unlocking(vaults: Vaults, relay: KeyConversations) -> Unlocking:
    alice = vaults.employee("alice")
    service = vaults.service
    account = service.add_account(
        actor=ADMIN,
        employee_id=alice,
        data=AccountInput(
            name="Windows", login="CORP\\alice", login_type=LoginType.DOMAIN, password="pw-1"
        ),
    )
    service.set_primary(actor=ADMIN, account_id=account.id)
    code = service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice).activation_code
    key = KeyEndpoint(KeyStorage(serial=SERIAL), clock=time.time)
    made = Unlocking(vaults, relay, key, ec.generate_private_key(ec.SECP256R1()))
    out = made.through("key_seen", code=code)
    assert out["kind"] == "key_done" and out["body"]["status"] == "active"
    return made


def test_an_unlock_ends_with_the_password_sealed_to_the_workstation(unlocking: Unlocking):
    out = unlocking.through("key_unlock")
    assert out["kind"] == "key_credentials" and out["body"]["refused"] is False
    body = out["body"]
    assert (body["account"], body["employee"]) == ("CORP\\alice", "alice")
    assert "pw-1" not in json.dumps(body)
    box = sealed.Sealed.from_wire(body["sealed"])
    purpose = sealed.KEY_PASSWORD_PURPOSE
    assert sealed.open_sealed(box, key=unlocking.pc, purpose=purpose, workstation_id=WS) == b"pw-1"
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(SealedCredentialInvalid):
        sealed.open_sealed(box, key=other, purpose=purpose, workstation_id=WS)
    with pytest.raises(SealedCredentialInvalid):
        sealed.open_sealed(
            box, key=unlocking.pc, purpose=sealed.PASSWORD_PURPOSE, workstation_id=WS
        )


def test_unlock_refusals_are_key_credentials_refusals(unlocking: Unlocking):
    relay, pc = unlocking.relay, unlocking.pc.public_key()
    alarm = command(relay.handle(WS, "key_unlock", {"serial": SERIAL}, recipient=pc, alarm=True))
    assert (alarm["kind"], alarm["body"]["error"]) == ("key_credentials", "alarm_active")
    with pytest.raises(InvalidLinkMessage, match="workstation's key"):
        relay.handle(WS, "key_unlock", {"serial": SERIAL})
    unknown = command(relay.handle(WS, "key_unlock", {"serial": "ST99"}, recipient=pc))
    assert unknown["kind"] == "key_credentials" and unknown["body"]["error"] == "unknown_key"
    unlocking.start("key_unlock")  # a PIN nobody asked for, in the middle of the read
    with pytest.raises(InvalidLinkMessage, match="waits for key_message"):
        unlocking.send("key_pin", pin="1234")


def test_the_pin_prompt_through_the_relay(unlocking: Unlocking):
    service = unlocking.vaults.service
    [default] = service.list_profiles()
    strict = dataclasses.replace(default, id="", name="Pin", storage=Requirement(pin=True))
    saved = service.save_profile(actor=ADMIN, profile=strict, create=True)
    service.set_profile(actor=ADMIN, serial=SERIAL, profile_id=saved.id)
    assert unlocking.through("key_seen")["body"]["tasks_done"] == 1
    out = unlocking.start("key_unlock")
    while out["kind"] == "key_message":
        data = b64url(unlocking.key.receive(unb64url(out["body"]["data"])))
        out = unlocking.send("key_message", data=data)
    assert out["kind"] == "key_pin_prompt" and out["body"]["purpose"] == "set"
    with pytest.raises(InvalidLinkMessage, match="pin is 1-16 digits"):
        unlocking.send("key_pin", pin="12ab")
    with pytest.raises(InvalidLinkMessage, match="waits for key_pin"):
        unlocking.send("key_code", code="123456")
    out = unlocking.send("key_pin", pin="8642")
    while out["kind"] == "key_message":
        data = b64url(unlocking.key.receive(unb64url(out["body"]["data"])))
        out = unlocking.send("key_message", data=data)
    assert out["kind"] == "key_credentials" and out["body"]["refused"] is False


def test_two_frames_of_one_conversation_at_once_advance_it_once(vaults: Vaults) -> None:
    """Two link-server threads with a frame each for the same conversation: the one that came
    first advances it, the other is refused and changes nothing."""
    vaults.service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:32", "Hideez Key 4", "4.0.1")]
    )
    code = vaults.service.assign(
        actor=ADMIN, serial=SERIAL, employee_id=vaults.employee("alice")
    ).activation_code
    entered, release = threading.Event(), threading.Event()

    class SlowPlan:
        """The vault, whose connection plan waits until the test lets it go on."""

        def __getattr__(self, name: str) -> object:
            return getattr(vaults.service, name)

        def connection_plan(self, **kwargs: object) -> object:
            entered.set()
            assert release.wait(10)
            return vaults.service.connection_plan(**kwargs)  # type: ignore[arg-type]

    relay = KeyConversations(vault=SlowPlan())  # type: ignore[arg-type]
    key = KeyEndpoint(KeyStorage(serial=SERIAL), clock=time.time)
    out = command(relay.handle(WS, "key_seen", {"serial": SERIAL}))
    frame = {"serial": SERIAL, "data": b64url(key.receive(unb64url(out["body"]["data"])))}
    results: dict[str, object] = {}

    def send(name: str) -> None:
        try:
            results[name] = relay.handle(WS, "key_message", dict(frame))
        except KeyConversationBusy as exc:
            results[name] = exc

    first = threading.Thread(target=send, args=("first",))
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=send, args=("second",))
    second.start()
    second.join(10)
    release.set()
    first.join(10)

    busy = results["second"]
    assert isinstance(busy, KeyConversationBusy) and busy.status == 409
    assert "still handling the previous frame" in busy.description
    out = command(results["first"])  # type: ignore[arg-type]
    while out["kind"] != "key_done":  # the conversation goes on as if the second never came
        if out["kind"] == "key_code_prompt":
            out = command(relay.handle(WS, "key_code", {"serial": SERIAL, "code": code}))
            continue
        answer = key.receive(unb64url(out["body"]["data"]))
        out = command(relay.handle(WS, "key_message", {"serial": SERIAL, "data": b64url(answer)}))
    assert out["body"]["status"] == "active" and not out["body"]["refused"]
    assert relay.open_conversations(WS) == 0

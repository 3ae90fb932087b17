"""device_gateway.key_unlock in isolation: which readings reach the proximity monitor, and how
the server's answer to an unlock becomes a credential (or none). The radio is never started:
readings are handed to the key radio's listeners as its scanner would; the server's answers
are what ``KeyAgent.unlock`` would return (the end-to-end path is tests/e2e/keys)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from device_gateway.actuator import LogonCredential
from device_gateway.identity import Identity
from device_gateway.key_agent import KeyAgent
from device_gateway.key_unlock import KeyUnlock
from device_gateway.keys import KeyHeard, KeyLost, KeyRadio
from device_gateway.proximity_monitor import Observation
from idp.workstations import sealed

SERIAL = "ST10301234567890"


class Monitor:
    def __init__(self) -> None:
        self.fed: list[object] = []

    def feed(self, event: object) -> None:
        self.fed.append(event)


async def _no_code(serial: str, attempts_left: int, purpose: str) -> str:
    raise AssertionError("no code is asked here")


@pytest.fixture
def parts(tmp_path: Path) -> tuple[KeyAgent, KeyUnlock, Monitor]:
    agent = KeyAgent(radio=KeyRadio(), prompt=_no_code)
    unlock = KeyUnlock(agent=agent, identity=Identity.load_or_create(tmp_path / "identity"))
    monitor = Monitor()
    unlock.attach(monitor)  # type: ignore[arg-type]  # only feed() is used
    return agent, unlock, monitor


def test_only_readings_of_keys_the_server_accepted_reach_the_monitor(parts):
    agent, _, monitor = parts

    def heard(*observations: KeyHeard | KeyLost) -> None:
        for observation in observations:
            for listener in agent.radio.listeners:
                listener(observation)

    async def scenario() -> None:  # the agent answers a lost key in a task on the loop
        heard(KeyHeard(SERIAL, -45, 1.0, connected=True))
        assert monitor.fed == []  # a radio advertising the serial moves nothing
        agent.accepted.add(SERIAL)
        heard(KeyHeard(SERIAL, -45, 2.0, connected=True))
        assert monitor.fed == [Observation(SERIAL, -45, 2.0)]
        # lost: the agent forgets it (the gateway's journal callback reports the loss)
        heard(KeyLost(SERIAL, 3.0), KeyHeard(SERIAL, -45, 4.0, connected=False))
        assert monitor.fed == [Observation(SERIAL, -45, 2.0)] and SERIAL not in agent.accepted
        await asyncio.sleep(0)

    asyncio.run(scenario())


def _answer(unlock: KeyUnlock, body: dict[str, Any] | None) -> LogonCredential | None:
    async def answered(serial: str, timeout: float) -> dict[str, Any] | None:
        return body

    unlock.agent.unlock = answered  # type: ignore[method-assign]
    return asyncio.run(unlock.primary_credential(SERIAL))


def _sealed(unlock: KeyUnlock, password: bytes, *, to: ec.EllipticCurvePublicKey | None = None):
    identity = unlock.identity
    return sealed.seal(
        password,
        recipient=to or identity.key.public_key(),
        workstation_id=identity.workstation_id,
        purpose=sealed.KEY_PASSWORD_PURPOSE,
    ).to_wire()


def test_the_sealed_password_becomes_the_logon_credential(parts):
    _, unlock, _ = parts
    body = {"refused": False, "account": "CORP\\alice", "sealed": _sealed(unlock, b"pw")}
    assert _answer(unlock, body) == LogonCredential("CORP\\alice", "password", "pw")
    named = _answer(unlock, {**body, "employee": "alice"})
    assert named == LogonCredential("CORP\\alice", "password", "pw", employee="alice")


@pytest.mark.parametrize(
    "make",
    [
        lambda unlock: None,
        lambda unlock: {"refused": True, "error": "key_locked_by_pin"},
        lambda unlock: {"account": "CORP\\alice", "sealed": _sealed(unlock, b"pw")},
        lambda unlock: {"refused": False, "sealed": _sealed(unlock, b"pw")},
        lambda unlock: {"refused": False, "account": "A", "sealed": {"suite": "none"}},
        lambda unlock: {"refused": False, "account": "A", "sealed": _sealed(unlock, b"\xff")},
        lambda unlock: {
            "refused": False,
            "account": "A",
            "sealed": _sealed(
                unlock, b"pw", to=ec.generate_private_key(ec.SECP256R1()).public_key()
            ),
        },
    ],
    ids=[
        "no-answer",
        "refused",
        "refused-missing",
        "no-account",
        "bad-box",
        "not-utf8",
        "not-ours",
    ],
)
def test_anything_but_a_sealed_credential_for_this_workstation_is_no_unlock(parts, make):
    _, unlock, _ = parts
    assert _answer(unlock, make(unlock)) is None


def test_a_key_not_accepted_is_not_asked_for(parts):
    agent, _, _ = parts
    assert asyncio.run(agent.unlock(SERIAL)) is None


def test_an_unlock_in_flight_ends_when_the_link_drops_or_the_key_goes(parts):
    agent, _, _ = parts
    sent: list[tuple[str, dict[str, Any]]] = []

    async def send(kind: str, body: dict[str, Any]) -> bool:
        sent.append((kind, body))
        return True

    async def scenario() -> None:
        agent._send = send  # what start() sets, without starting the radio
        agent.accepted.add(SERIAL)
        waiting = asyncio.create_task(agent.unlock(SERIAL))
        await asyncio.sleep(0)
        assert sent == [("key_unlock", {"serial": SERIAL})]
        agent.link_down()
        assert await waiting is None
        waiting = asyncio.create_task(agent.unlock(SERIAL))
        await asyncio.sleep(0)
        for listener in agent.radio.listeners:
            listener(KeyLost(SERIAL, 1.0))
        assert await waiting is None and SERIAL not in agent.accepted
        assert await agent.unlock(SERIAL) is None  # no longer accepted: not even asked
        assert len(sent) == 3  # the two asks and the key_gone

    asyncio.run(scenario())

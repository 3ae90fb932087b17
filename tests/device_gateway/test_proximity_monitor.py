"""The gateway's proximity monitor without a server: radio events (fed one by one or as an
async stream) → the engine → the actuator and the spooled events; what happens when the key
has no primary account, the actuator fails, or the server's settings are unusable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from device_gateway.actuator import ActuatorError, LogonCredential, RecordingActuator
from device_gateway.agent import Gateway, GatewayOptions
from device_gateway.identity import Identity
from device_gateway.proximity_monitor import (
    KeyConnected,
    KeyDisconnected,
    Observation,
    ProximityMonitor,
    RadioEvent,
    RfidRead,
)
from device_gateway.spool import Spool
from idp.workstations.commands import Command, CommandKind
from idp.workstations.events import EventType, UnlockedBy
from idp.workstations.model import WorkstationInfo
from idp.workstations.proximity import ProximityPolicy

ALICE, NOBODY = "HK-ALICE-0001", "HK-NOBODY-0009"
SETTINGS = {**ProximityPolicy().to_wire(), "rfid": {"04a2b3c4": ALICE}}


class Keys:
    async def primary_credential(self, serial: str) -> LogonCredential | None:
        return LogonCredential("CORP\\alice", "password", "pw") if serial == ALICE else None


class BrokenActuator(RecordingActuator):
    def unlock(self, credential: LogonCredential) -> None:
        raise ActuatorError("the credential provider is not listening")


def _gateway(tmp_path: Path, actuator: RecordingActuator | None = None) -> Gateway:
    gateway = Gateway(
        identity=Identity.load_or_create(tmp_path / "identity"),
        spool=Spool(tmp_path / "spool"),
        actuator=actuator or RecordingActuator(),
        options=GatewayOptions(
            server_url="ws://127.0.0.1:9/",
            info=WorkstationInfo("pc", "", "", "", ""),
            proximity=True,
        ),
        credentials=Keys(),
    )
    gateway.state.approved = True
    return gateway


def _monitor(gateway: Gateway) -> ProximityMonitor:
    assert gateway.proximity is not None
    return gateway.proximity


def _spooled(gateway: Gateway) -> list[tuple[EventType, UnlockedBy | None, str | None]]:
    return [
        (e.type, e.unlocked_by, e.details.get("reason"))
        for e in gateway.spool.pending(100)
        if e.type in (EventType.LOCK, EventType.UNLOCK, EventType.KEY_DISCONNECTED)
    ]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_the_option_needs_a_credential_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="credential source"):
        Gateway(
            identity=Identity.load_or_create(tmp_path / "identity"),
            spool=Spool(tmp_path / "spool"),
            actuator=RecordingActuator(),
            options=GatewayOptions(
                "ws://x/", WorkstationInfo("pc", "", "", "", ""), proximity=True
            ),
        )


def test_a_stream_of_radio_events_unlocks_and_locks(tmp_path: Path) -> None:
    async def scenario() -> None:
        gateway = _gateway(tmp_path)
        monitor = _monitor(gateway)
        gateway._command(Command(CommandKind.SETTINGS, SETTINGS))  # as the link delivers it

        async def radio() -> AsyncIterator[RadioEvent]:
            yield KeyConnected(ALICE, 0.0)
            for i in range(3):
                yield Observation(ALICE, -45, 0.1 * i)
            yield KeyDisconnected(ALICE, 1.0)

        await monitor.consume(radio())
        await _settle()
        # The key left while its primary account was being read: the unlock is dropped, the
        # workstation stays locked (never unlocked after the lock).
        actuator = gateway.actuator
        assert isinstance(actuator, RecordingActuator)
        assert [c for c, _ in actuator.calls] == ["lock"] and actuator.locked
        assert _spooled(gateway) == [
            (EventType.KEY_DISCONNECTED, None, None),
            (EventType.LOCK, None, "connection_lost"),
        ]
        assert monitor.engine.locked

        async def back() -> AsyncIterator[RadioEvent]:
            for i in range(3):
                yield Observation(ALICE, -45, 2 + 0.1 * i)
                await asyncio.sleep(0)  # readings arrive apart: the unlock completes

        await monitor.consume(back())
        await _settle()
        assert [c for c, _ in actuator.calls] == ["lock", "unlock"] and not actuator.locked
        assert _spooled(gateway)[-1] == (EventType.UNLOCK, UnlockedBy.PROXIMITY, None)

    asyncio.run(scenario())


def test_no_primary_account_or_a_failing_actuator_leaves_it_locked(tmp_path: Path) -> None:
    async def scenario() -> None:
        gateway = _gateway(tmp_path / "a")
        monitor = _monitor(gateway)
        monitor.configure(SETTINGS)
        for i in range(3):
            monitor.feed(Observation(NOBODY, -45, 0.1 * i))
        await _settle()
        assert gateway.actuator.calls == []  # type: ignore[attr-defined]
        assert monitor.engine.locked and monitor.engine.owner is None
        broken = _gateway(tmp_path / "b", BrokenActuator())
        monitor = _monitor(broken)
        monitor.configure(SETTINGS)
        monitor.feed(RfidRead("04:a2:b3:c4", 0.0))
        await _settle()
        assert monitor.engine.locked and _spooled(broken) == []

    asyncio.run(scenario())


def test_unusable_settings_switch_proximity_off(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path)
    monitor = _monitor(gateway)
    monitor.configure(SETTINGS)
    assert monitor.engine.policy is not None
    gateway._command(Command(CommandKind.SETTINGS, {**SETTINGS, "unlock_proximity": 10}))
    assert monitor.engine.policy is None
    monitor.feed(Observation(ALICE, -30, 0.0))  # a tap: nothing, proximity is off
    assert gateway.actuator.calls == []  # type: ignore[attr-defined]


def test_the_os_session_and_commanded_locks_reach_the_engine(tmp_path: Path) -> None:
    gateway = _gateway(tmp_path)
    monitor = _monitor(gateway)
    monitor.configure(SETTINGS)
    gateway.unlocked(account="CORP\\alice", employee="alice", unlocked_by=UnlockedBy.MANUAL)
    assert not monitor.engine.locked and monitor.engine.owner is None  # no key: never by leaving
    gateway.unlocked(
        account="CORP\\alice", employee="alice", unlocked_by=UnlockedBy.MANUAL, key=ALICE
    )
    assert monitor.engine.owner == ALICE
    gateway._command(Command(CommandKind.LOCK, {"reason": "admin"}))
    assert monitor.engine.locked and monitor.engine.owner is None
    gateway._command(Command(CommandKind.ALARM, {"active": True}))
    assert monitor.engine.alarm
    gateway._command(Command(CommandKind.STATUS, {"status": "unapproved"}))
    assert monitor.engine.policy is None

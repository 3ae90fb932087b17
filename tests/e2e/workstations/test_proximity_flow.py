"""Proximity end to end: a real link server delivers the per-key settings and RFID tags, a real
gateway agent runs the proximity monitor on its event loop, the recording actuator locks and
unlocks, and the events reach the server's journal (SQLite + memory, PostgreSQL + Redis)."""

from __future__ import annotations

import asyncio
import time

from device_gateway.actuator import LogonCredential, RecordingActuator
from device_gateway.agent import Gateway, GatewayOptions
from device_gateway.identity import Identity
from device_gateway.proximity_monitor import (
    KeyConnected,
    KeyDisconnected,
    Observation,
    ProximityMonitor,
    RfidRead,
)
from device_gateway.spool import Spool
from idp.admin.proximity import ProximityAdmin
from idp.workstations.events import EventType, UnlockedBy
from idp.workstations.model import ProximitySettings, WorkstationInfo, WorkstationStatus
from idp.workstations.proximity import Calibration
from idp.workstations.proximity_store import ProximityRepository
from tests.e2e.workstations.harness import ADMIN, Site, until

ALICE, BOB = "HK-ALICE-0001", "HK-BOB-0002"
NEAR, FAR = -45, -88


class Keys:
    """The primary accounts the key protocol would read from each key."""

    async def primary_credential(self, serial: str) -> LogonCredential | None:
        account = {ALICE: "CORP\\alice", BOB: "CORP\\bob"}.get(serial)
        return None if account is None else LogonCredential(account, "password", "s3cret")


def _gateway(site: Site, url: str, *, proximity: bool = True) -> Gateway:
    directory = site.tmp / "pc-prox"
    return Gateway(
        identity=Identity.load_or_create(directory / "identity"),
        spool=Spool(directory / "spool"),
        actuator=RecordingActuator(),
        options=GatewayOptions(
            server_url=url,
            info=WorkstationInfo("pc-prox", "CORP", "Windows 11", "10.0.0.9", "1.0.0"),
            min_backoff=0.05,
            max_backoff=0.2,
            refused_retry=0.1,
            proximity=proximity,
        ),
        credentials=Keys(),
    )


def _admin(site: Site) -> ProximityAdmin:
    return ProximityAdmin(
        registry=site.registry,
        proximity=ProximityRepository(site.db),
        audit=site.audit,
        store=site.store,
        calibration=Calibration(),
    )


def _near(monitor: ProximityMonitor, serial: str, readings: int = 3, rssi: float = NEAR) -> None:
    for _ in range(readings):
        monitor.feed(Observation(serial, rssi, time.monotonic()))


def test_settings_from_the_server_drive_lock_and_unlock_through_the_actuator(site: Site) -> None:
    async def scenario() -> None:
        server = await site.instance()
        gateway = _gateway(site, server.url)
        monitor, actuator = gateway.proximity, gateway.actuator
        assert monitor is not None and isinstance(actuator, RecordingActuator)
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop))
        ws_id = gateway.identity.workstation_id
        await until(lambda: site.registry.get(ws_id) is not None, what="registration")
        # Not approved: no settings, the monitor acts on nothing.
        _near(monitor, ALICE, rssi=-30)
        await asyncio.sleep(0.05)
        assert actuator.calls == [] and monitor.engine.policy is None

        site.admin.set_status(
            actor=ADMIN, workstation_id=ws_id, status=WorkstationStatus.APPROVED, now=site.clock()
        )
        await until(gateway.connected.is_set, what="welcome")
        admin = _admin(site)
        fast = ProximitySettings(lock_proximity=30, unlock_proximity=70, lock_timeout=1)
        admin.set_key_settings(
            actor=ADMIN, workstation_id=ws_id, serial=ALICE, settings=fast, now=site.clock()
        )
        admin.assign_tag(actor=ADMIN, tag="04:A2:B3:C4", serial=BOB, now=site.clock())
        await until(
            lambda: (
                monitor.engine.policy is not None
                and ALICE in monitor.engine.policy.keys
                and "04a2b3c4" in monitor.engine.policy.rfid
            ),
            what="per-key settings and the tag pushed",
        )

        monitor.feed(KeyConnected(ALICE, time.monotonic()))
        _near(monitor, ALICE)
        await until(lambda: not actuator.locked and bool(actuator.calls), what="unlock")
        alice = LogonCredential("CORP\\alice", "password", "s3cret")
        assert actuator.calls[-1] == ("unlock", alice)
        # Bob's key walking by and away does nothing to Alice's session.
        _near(monitor, BOB, rssi=-60)
        _near(monitor, BOB, rssi=FAR)
        left = time.monotonic()
        _near(monitor, ALICE, rssi=FAR)  # Alice leaves: locked 1 s (her timeout) later
        await until(lambda: actuator.locked, timeout=3, what="proximity lock")
        assert 0.9 <= time.monotonic() - left <= 1.5
        assert len(actuator.calls) == 2

        monitor.feed(RfidRead("04a2b3c4", time.monotonic()))
        await until(lambda: not actuator.locked, what="RFID unlock")
        assert actuator.calls[-1][1] is not None and actuator.calls[-1][1].account == "CORP\\bob"
        monitor.feed(KeyDisconnected(BOB, time.monotonic()))
        assert actuator.locked  # Bob's session: his key's connection loss locks at once

        # Reset: Alice follows the workstation's 5 s again, pushed at once.
        admin.reset_key_settings(actor=ADMIN, workstation_id=ws_id, serial=ALICE, now=site.clock())
        await until(lambda: monitor.engine.policy is not None and not monitor.engine.policy.keys)
        await until(lambda: len(gateway.spool) == 0, what="every event acknowledged")
        # Unapproved: proximity stops acting at once.
        site.admin.set_status(
            actor=ADMIN, workstation_id=ws_id, status=WorkstationStatus.UNAPPROVED, now=site.clock()
        )
        await until(lambda: monitor.engine.policy is None, what="proximity off")
        calls = len(actuator.calls)
        _near(monitor, ALICE, rssi=-30)
        await asyncio.sleep(0.05)
        assert len(actuator.calls) == calls
        stop.set()
        await asyncio.wait_for(task, 10)
        await server.stop()

    asyncio.run(scenario())
    ws_id = site.registry.list().items[0].id
    events = [e.event for e in reversed(site.journal.events(workstation_id=ws_id).items)]
    moves = [
        (e.type, e.unlocked_by, e.details.get("reason"), e.details.get("key"))
        for e in events
        if e.type in (EventType.LOCK, EventType.UNLOCK)
    ]
    assert moves == [
        (EventType.UNLOCK, UnlockedBy.PROXIMITY, None, ALICE),
        (EventType.LOCK, None, "proximity", ALICE),
        (EventType.UNLOCK, UnlockedBy.RFID, None, BOB),
        (EventType.LOCK, None, "connection_lost", BOB),
    ]
    assert [e.account for e in events if e.type is EventType.UNLOCK] == ["CORP\\alice", "CORP\\bob"]
    assert EventType.KEY_CONNECTED in [e.type for e in events]


def test_the_alarm_refuses_proximity_unlocks_at_the_gateway(site: Site) -> None:
    async def scenario() -> None:
        server = await site.instance()
        gateway = _gateway(site, server.url)
        monitor, actuator = gateway.proximity, gateway.actuator
        assert monitor is not None and isinstance(actuator, RecordingActuator)
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop))
        ws_id = gateway.identity.workstation_id
        await until(lambda: site.registry.get(ws_id) is not None, what="registration")
        site.admin.set_status(
            actor=ADMIN, workstation_id=ws_id, status=WorkstationStatus.APPROVED, now=site.clock()
        )
        await until(lambda: monitor.engine.policy is not None, what="settings")
        site.admin.raise_alarm(actor=ADMIN, now=site.clock())
        await until(lambda: monitor.engine.alarm and actuator.locked, what="alarm")
        _near(monitor, ALICE, rssi=-30)  # a tap too
        await asyncio.sleep(0.1)
        assert [c for c, _ in actuator.calls] == ["lock"]
        stop.set()
        await asyncio.wait_for(task, 10)
        await server.stop()

    asyncio.run(scenario())


def test_without_the_option_the_gateway_has_no_monitor(site: Site) -> None:
    gateway = _gateway(site, "ws://127.0.0.1:9/", proximity=False)
    assert gateway.proximity is None

"""A workstation whose Hideez Key unlocks it, over the real radio path: a real link server with
the vault, a real gateway (``key_gateway``: bleak's API over the bumble backend, the key agent,
the proximity monitor, an actuator that notes when it was called) and a virtual key whose RSSI
is set by the caller. Used by tests/e2e/keys and bench/keys.py."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from device_gateway.actuator import LogonCredential, RecordingActuator
from device_gateway.agent import Gateway, GatewayOptions
from device_gateway.bleak_bumble import BumbleCentral, BumbleClient, BumbleScanner
from device_gateway.bumble_radio import Radio
from device_gateway.identity import Identity
from device_gateway.key_agent import KeyAgent
from device_gateway.key_unlock import key_gateway
from device_gateway.keys import BleBackend, KeyRadio
from device_gateway.spool import Spool
from device_gateway.virtual_key.key import VirtualKey
from flask_idp.link_server import LinkServer
from idp.admin.proximity import ProximityAdmin
from idp.vault.model import AccountInput, KeyImport, LoginType, Requirement
from idp.vault.protocol.key import KeyStorage
from idp.vault.relay import KeyConversations
from idp.workstations.link import LinkService
from idp.workstations.model import ProximitySettings, WorkstationInfo, WorkstationStatus
from idp.workstations.proximity import Calibration
from idp.workstations.proximity_store import ProximityRepository
from tests.e2e.workstations.harness import ADMIN, Site, free_port, until
from tests.idp.vault.conftest import Vaults, make_vaults

SERIAL = "ST10301234567890"
NEAR, BAND, FAR, TAP = -45, -65, -88, -30  # proximity 90, 50, 4; a tap on the dongle
#: LockTimeout for the test's key (seconds): short, so the walk takes seconds
TIMEOUT = 1
ALICE = LogonCredential("CORP\\alice", "password", "win-secret")


@dataclass
class Clock:
    """The key's wall clock (its PIN expiry), which the test may move on."""

    offset: float = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class TimedActuator(RecordingActuator):
    """The recording actuator, noting when (monotonic) each call came."""

    at: list[float] = field(default_factory=list)

    def lock(self) -> None:
        self.at.append(time.monotonic())
        super().lock()

    def unlock(self, credential: LogonCredential) -> None:
        self.at.append(time.monotonic())
        super().unlock(credential)


@dataclass
class Walk:
    vaults: Vaults
    key: VirtualKey
    gateway: Gateway
    agent: KeyAgent
    actuator: TimedActuator
    key_clock: Clock
    pins: list[str] = field(default_factory=list)
    prompts: list[tuple[str, int | None]] = field(default_factory=list)

    async def pin(self, serial: str, attempts_left: int | None, purpose: str) -> str:
        self.prompts.append((purpose, attempts_left))
        return self.pins.pop(0)

    def calls(self) -> int:
        return len(self.actuator.calls)

    async def moved(self, calls: int, what: str, timeout: float = 10.0) -> float:
        """Wait for the actuator's next call after ``calls``; when it came (monotonic)."""
        await until(lambda: self.calls() > calls, timeout=timeout, what=what)
        return self.actuator.at[calls]


@asynccontextmanager
async def walk(
    site: Site, *, profile: Requirement | None = None, timeout: int = TIMEOUT
) -> AsyncIterator[Walk]:
    """Alice's key assigned and linked at the gateway (her Windows account primary), the
    workstation approved, her key's LockTimeout set to ``timeout``; the key starts far."""
    vaults = make_vaults(site.db)
    service = vaults.service
    service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:41", "Hideez Key 4", "4.0.1")]
    )
    alice = vaults.employee("alice")
    data = AccountInput(
        name="Windows", login="CORP\\alice", login_type=LoginType.DOMAIN, password="win-secret"
    )
    primary = service.add_account(actor=ADMIN, employee_id=alice, data=data)
    service.set_primary(actor=ADMIN, account_id=primary.id)
    if profile is not None:
        [default] = service.list_profiles()
        strict = dataclasses.replace(default, id="", name="Strict", storage=profile, pin_attempts=3)
        profile_id = service.save_profile(actor=ADMIN, profile=strict, create=True).id
    code = service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice).activation_code
    if profile is not None:
        service.set_profile(actor=ADMIN, serial=SERIAL, profile_id=profile_id)
    link = LinkServer(
        LinkService(
            registry=site.registry,
            journal=site.journal,
            store=site.store,
            audit=site.audit,
            clock=site.clock,
            key_conversations=KeyConversations(vault=service),
        ),
        site.store,
    )
    port = free_port()
    server = await link.start("127.0.0.1", port)
    radio = Radio()
    key_clock = Clock()
    key = VirtualKey(radio, KeyStorage(serial=SERIAL), rssi=FAR, clock=key_clock)
    central = await BumbleCentral.on_radio(radio, "gateway")

    async def typed_code(serial: str, attempts_left: int, purpose: str) -> str:
        return code

    backend = BleBackend(BumbleScanner, BumbleClient, {"bumble": central})
    agent = KeyAgent(radio=KeyRadio(backend=backend), prompt=typed_code)
    actuator = TimedActuator()
    gateway = key_gateway(
        identity=Identity.load_or_create(site.tmp / "pc" / "identity"),
        spool=Spool(site.tmp / "pc" / "spool"),
        actuator=actuator,
        options=GatewayOptions(
            server_url=f"ws://127.0.0.1:{port}/link",
            info=WorkstationInfo("pc", "CORP", "Windows 11", "10.0.0.8", "1.0.0"),
            min_backoff=0.05,
            refused_retry=0.1,
        ),
        agent=agent,
    )
    state = Walk(vaults, key, gateway, agent, actuator, key_clock)
    agent.pin_prompt = state.pin
    stop = asyncio.Event()
    running = asyncio.create_task(gateway.run(stop))
    ws_id = gateway.identity.workstation_id
    await until(lambda: site.registry.get(ws_id) is not None, what="registration")
    site.admin.set_status(
        actor=ADMIN, workstation_id=ws_id, status=WorkstationStatus.APPROVED, now=site.clock()
    )
    ProximityAdmin(
        registry=site.registry,
        proximity=ProximityRepository(site.db),
        audit=site.audit,
        store=site.store,
        calibration=Calibration(),
    ).set_key_settings(
        actor=ADMIN,
        workstation_id=ws_id,
        serial=SERIAL,
        settings=ProximitySettings(lock_proximity=30, unlock_proximity=70, lock_timeout=timeout),
        now=site.clock(),
    )
    monitor = gateway.proximity
    assert monitor is not None
    await until(
        lambda: monitor.engine.policy is not None and SERIAL in monitor.engine.policy.keys,
        what="the key's settings pushed",
    )
    await key.start()
    await until(lambda: SERIAL in agent.accepted, what="the key linked and accepted")
    try:
        yield state
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await key.close()
        await central.close()
        await link.stop(server)
        vaults.audit.flush()

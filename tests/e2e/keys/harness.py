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
BOB = "ST10301234567891"
NEAR, BAND, FAR, TAP = -45, -65, -88, -30  # proximity 90, 50, 4; a tap on the dongle
#: LockTimeout for the test's key (seconds): short, so the walk takes seconds
TIMEOUT = 1
ALICE = LogonCredential("CORP\\alice", "password", "win-secret", employee="alice")


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
    #: Bob's key, when the walk has one
    bob: VirtualKey | None = None
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


def _holder(vaults: Vaults, serial: str, username: str, n: int) -> str:
    """``username`` holds key ``serial`` with a primary Windows account; the activation code."""
    service = vaults.service
    mac = f"AA:BB:CC:00:00:{n:02X}"
    service.import_keys(actor=ADMIN, keys=[KeyImport(serial, mac, "Hideez Key 4", "4.0.1")])
    employee = vaults.employee(username)
    data = AccountInput(
        name="Windows",
        login=f"CORP\\{username}",
        login_type=LoginType.DOMAIN,
        password="win-secret",
    )
    primary = service.add_account(actor=ADMIN, employee_id=employee, data=data)
    service.set_primary(actor=ADMIN, account_id=primary.id)
    return service.assign(actor=ADMIN, serial=serial, employee_id=employee).activation_code


def _strict(vaults: Vaults, serial: str, storage: Requirement) -> None:
    service = vaults.service
    [default] = service.list_profiles()
    strict = dataclasses.replace(default, id="", name="Strict", storage=storage, pin_attempts=3)
    saved = service.save_profile(actor=ADMIN, profile=strict, create=True)
    service.set_profile(actor=ADMIN, serial=serial, profile_id=saved.id)


async def _approved(site: Site, gateway: Gateway, serials: tuple[str, ...], timeout: int) -> None:
    """The workstation approved, each key's LockTimeout ``timeout``, the settings arrived."""
    ws_id = gateway.identity.workstation_id
    await until(lambda: site.registry.get(ws_id) is not None, what="registration")
    site.admin.set_status(
        actor=ADMIN, workstation_id=ws_id, status=WorkstationStatus.APPROVED, now=site.clock()
    )
    admin = ProximityAdmin(
        registry=site.registry,
        proximity=ProximityRepository(site.db),
        audit=site.audit,
        store=site.store,
        calibration=Calibration(),
    )
    settings = ProximitySettings(lock_proximity=30, unlock_proximity=70, lock_timeout=timeout)
    for serial in serials:
        admin.set_key_settings(
            actor=ADMIN, workstation_id=ws_id, serial=serial, settings=settings, now=site.clock()
        )
    monitor = gateway.proximity
    assert monitor is not None
    await until(
        lambda: (
            monitor.engine.policy is not None and set(serials) <= set(monitor.engine.policy.keys)
        ),
        what="the keys' settings pushed",
    )


def _link_server(site: Site, vaults: Vaults) -> LinkServer:
    service = LinkService(
        registry=site.registry,
        journal=site.journal,
        store=site.store,
        audit=site.audit,
        clock=site.clock,
        key_conversations=KeyConversations(vault=vaults.service),
    )
    return LinkServer(service, site.store)


@asynccontextmanager
async def walk(
    site: Site, *, profile: Requirement | None = None, timeout: int = TIMEOUT, bob: bool = False
) -> AsyncIterator[Walk]:
    """Alice's key assigned and linked at the gateway (her Windows account primary), the
    workstation approved, her key's LockTimeout set to ``timeout``; the key starts far. With
    ``bob``, Bob's key too (``Walk.bob``), linked and far."""
    vaults = make_vaults(site.db)
    codes = {SERIAL: _holder(vaults, SERIAL, "alice", 1)}
    if bob:
        codes[BOB] = _holder(vaults, BOB, "bob", 2)
    if profile is not None:
        _strict(vaults, SERIAL, profile)
    link = _link_server(site, vaults)
    port = free_port()
    server = await link.start("127.0.0.1", port)
    radio = Radio()
    key_clock = Clock()
    key = VirtualKey(radio, KeyStorage(serial=SERIAL), rssi=FAR, clock=key_clock)
    other = VirtualKey(radio, KeyStorage(serial=BOB), rssi=FAR) if bob else None
    central = await BumbleCentral.on_radio(radio, "gateway")

    async def typed_code(serial: str, attempts_left: int, purpose: str) -> str:
        return codes[serial]

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
    state = Walk(vaults, key, gateway, agent, actuator, key_clock, bob=other)
    agent.pin_prompt = state.pin
    stop = asyncio.Event()
    running = asyncio.create_task(gateway.run(stop))
    await _approved(site, gateway, tuple(codes), timeout)
    for virtual in (key, other):
        if virtual is not None:
            await virtual.start()
    await until(lambda: set(codes) <= agent.accepted, what="the keys linked and accepted")
    try:
        yield state
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        for virtual in (key, other):
            if virtual is not None:
                await virtual.close()
        await central.close()
        await link.stop(server)
        vaults.audit.flush()

"""The gateway's proximity monitor: radio events in, the engine's decisions carried out.

The BLE side (scanner, key connections, RFID reader) feeds :class:`RadioEvent` values, either
one by one with :meth:`ProximityMonitor.feed` (a callback, called on the gateway's event loop)
or as an async iterator with :meth:`ProximityMonitor.consume`:

- ``Observation(serial, rssi, t)``: one RSSI reading (dBm) of an authenticated key;
- ``KeyConnected(serial, t)`` / ``KeyDisconnected(serial, t)``: the key's GATT connection;
- ``RfidRead(tag, t)``: a tag UID read by the workstation's RFID reader.

``t`` is ``time.monotonic()`` seconds (the clock of asyncio's default loop). The monitor runs
:class:`~idp.workstations.proximity.ProximityEngine`, waits for the engine's next deadline on
the loop, locks through the gateway's actuator and unlocks with the key's primary account,
which a :class:`CredentialSource` (the key protocol's side) reads from the key. Each lock and
unlock is a workstation event (``lock`` with ``details.reason`` ``proximity``, ``timeout`` or
``connection_lost``; ``unlock`` with ``unlocked_by`` ``proximity``, ``rfid`` or ``dongle``),
spooled and sent over the link like every other event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from device_gateway.actuator import ActuatorError, LogonCredential
from idp.errors import IdpError
from idp.workstations.events import EventType
from idp.workstations.proximity import Decision, Lock, ProximityEngine, ProximityPolicy, Unlock

if TYPE_CHECKING:
    from device_gateway.agent import Gateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observation:
    serial: str
    rssi: float
    t: float


@dataclass(frozen=True)
class KeyConnected:
    serial: str
    t: float


@dataclass(frozen=True)
class KeyDisconnected:
    serial: str
    t: float


@dataclass(frozen=True)
class RfidRead:
    tag: str
    t: float


RadioEvent = Observation | KeyConnected | KeyDisconnected | RfidRead


class CredentialSource(Protocol):
    """Reads a key's primary account (the OS account and its password) for an unlock."""

    async def primary_credential(self, serial: str) -> LogonCredential | None: ...


class ProximityMonitor:
    def __init__(
        self,
        *,
        gateway: Gateway,
        credentials: CredentialSource,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gateway = gateway
        self.credentials = credentials
        self.clock = clock
        self.engine = ProximityEngine()
        self._wake = asyncio.Event()
        self._unlocks: set[asyncio.Task[None]] = set()
        #: counts decisions and OS locks: an unlock still reading its credential when a later
        #: one arrives (the key left meanwhile) is dropped, not carried out after the lock
        self._generation = 0

    # -- from the server (through the agent) and the OS ------------------------------------

    def configure(self, settings: dict[str, Any] | None) -> None:
        """A ``settings`` command's body; None when the workstation is not approved."""
        policy = None
        if settings is not None:
            try:
                policy = ProximityPolicy.from_wire(settings)
            except IdpError as exc:
                # Unusable settings switch proximity off rather than keep acting on old ones.
                log.error("proximity off: %s", exc.description)
        self.engine.configure(policy)
        self._wake.set()

    def set_alarm(self, active: bool) -> None:
        self.engine.set_alarm(active)

    def session_opened(self, *, by: str | None) -> None:
        self.engine.session_opened(by=by)
        self._wake.set()

    def workstation_locked(self) -> None:
        self._generation += 1
        self.engine.workstation_locked()
        self._wake.set()

    # -- the radio ------------------------------------------------------------------------------

    def feed(self, event: RadioEvent) -> None:
        decision: Decision | None
        if isinstance(event, Observation):
            decision = self.engine.observe(serial=event.serial, rssi=event.rssi, t=event.t)
        elif isinstance(event, KeyDisconnected):
            decision = self.engine.connection_lost(serial=event.serial, t=event.t)
            self.gateway.record(EventType.KEY_DISCONNECTED, details={"key": event.serial})
        elif isinstance(event, KeyConnected):
            decision = self.engine.tick(t=event.t)
            self.gateway.record(EventType.KEY_CONNECTED, details={"key": event.serial})
        else:
            decision = self.engine.rfid(tag=event.tag, t=event.t)
        self._act(decision)
        self._wake.set()

    async def consume(self, events: AsyncIterator[RadioEvent]) -> None:
        async for event in events:
            self.feed(event)

    async def run(self, stop: asyncio.Event) -> None:
        """Decide at the engine's deadlines (the key below too long, or unheard) until stop."""
        stopping = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                self._wake.clear()
                deadline = self.engine.next_deadline()
                timeout = None if deadline is None else max(0.0, deadline - self.clock())
                woken = asyncio.create_task(self._wake.wait())
                await asyncio.wait(
                    {stopping, woken}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                woken.cancel()
                self._act(self.engine.tick(t=self.clock()))
        finally:
            stopping.cancel()
            for task in list(self._unlocks):
                task.cancel()

    # -- decisions -----------------------------------------------------------------------------

    def _act(self, decision: Decision | None) -> None:
        if decision is not None:
            self._generation += 1
        if isinstance(decision, Lock):
            details = {"reason": decision.reason.value, "key": decision.serial}
            try:
                self.gateway.actuator.lock()
            except ActuatorError as exc:
                log.error("could not lock: %s", exc)
                return
            self.gateway.record(EventType.LOCK, details=details)
        elif isinstance(decision, Unlock):
            unlocking = self._unlock(decision, self._generation)
            task = asyncio.get_running_loop().create_task(unlocking)
            self._unlocks.add(task)
            task.add_done_callback(self._unlocks.discard)

    async def _unlock(self, decision: Unlock, generation: int) -> None:
        credential = await self.credentials.primary_credential(decision.serial)
        if generation != self._generation:
            log.info("unlock for %s dropped: the workstation locked meanwhile", decision.serial)
            return
        if credential is None or self.gateway.state.alarm:
            # No primary account on the key (or the alarm came meanwhile): it stays locked.
            log.info("no unlock for %s: no primary account or the alarm", decision.serial)
            self.engine.workstation_locked()
            return
        try:
            self.gateway.actuator.unlock(credential)
        except ActuatorError as exc:
            log.error("could not unlock: %s", exc)
            self.engine.workstation_locked()
            return
        self.gateway.record(
            EventType.UNLOCK,
            account=credential.account,
            employee=credential.employee,
            unlocked_by=decision.by,
            details={"key": decision.serial},
        )

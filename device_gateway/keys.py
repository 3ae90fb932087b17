"""The gateway's Bluetooth side, on bleak's BleakScanner and BleakClient only.

:class:`KeyRadio` scans for the vault service, reports every advertisement it hears as a
:class:`KeyHeard` (serial, RSSI, time) and, when a connection it opened drops, a
:class:`KeyLost`; both come out of :meth:`KeyRadio.observations` (an async iterator) and the
callbacks in ``listeners`` (``on_observation`` is the first) — the proximity monitor's
input. :class:`KeyLink` is one connected key: whole protocol messages in and out, framed
to the connection's MTU.

Production passes no :class:`BleBackend` (bleak picks BlueZ, WinRT or CoreBluetooth); the
simulator and the tests pass the bumble one (:mod:`device_gateway.bleak_bumble`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from idp.vault.protocol import framing, gatt
from idp.vault.protocol.errors import MalformedMessage, MessageTooLarge

#: how long a key has to answer one message before the link is considered dead
REPLY_TIMEOUT = 10.0


@dataclass(frozen=True)
class BleBackend:
    """A bleak backend and the keyword arguments bleak hands on to it."""

    scanner: type[BaseBleakScanner]
    client: type[BaseBleakClient]
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KeyHeard:
    serial: str
    rssi: int
    at: float
    connected: bool


@dataclass(frozen=True)
class KeyLost:
    serial: str
    at: float


Observation = KeyHeard | KeyLost


class KeyGone(Exception):
    """The key disconnected or stopped answering; the link is closed."""


class KeyLink:
    """One connected key: send a message, receive the next one; frames stay below this."""

    def __init__(self, serial: str, client: BleakClient) -> None:
        self.serial = serial
        self.client = client
        self._messages: asyncio.Queue[bytes | Exception] = asyncio.Queue()
        self._reassembler = framing.Reassembler()

    def _on_notify(self, _: Any, data: bytearray) -> None:
        try:
            message = self._reassembler.feed(bytes(data))
        except (MalformedMessage, MessageTooLarge) as exc:
            self._messages.put_nowait(exc)
            return
        if message is not None:
            self._messages.put_nowait(message)

    def _lost(self) -> None:
        self._messages.put_nowait(KeyGone(f"{self.serial} disconnected"))

    async def start(self) -> None:
        await self.client.start_notify(gatt.NOTIFY_UUID, self._on_notify)

    async def send(self, message: bytes) -> None:
        frame_size = max(self.client.mtu_size - 3, framing.MIN_FRAME_BYTES)
        try:
            for frame in framing.split(message, frame_size=frame_size):
                await self.client.write_gatt_char(gatt.WRITE_UUID, frame, response=True)
        except BleakError as exc:
            raise KeyGone(f"{self.serial}: {exc}") from exc

    async def receive(self, timeout: float = REPLY_TIMEOUT) -> bytes:
        """The next whole message; a framing error is raised as its typed protocol error."""
        try:
            item = await asyncio.wait_for(self._messages.get(), timeout)
        except TimeoutError:
            raise KeyGone(f"{self.serial} did not answer within {timeout} s") from None
        if isinstance(item, Exception):
            raise item
        return item

    async def exchange(self, message: bytes, timeout: float = REPLY_TIMEOUT) -> bytes:
        await self.send(message)
        return await self.receive(timeout)

    async def close(self) -> None:
        with contextlib.suppress(BleakError):
            await self.client.disconnect()


class KeyRadio:
    """Discovery and connections for every key in range of this gateway."""

    def __init__(
        self,
        *,
        backend: BleBackend | None = None,
        on_observation: Callable[[Observation], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.listeners: list[Callable[[Observation], None]] = (
            [on_observation] if on_observation is not None else []
        )
        self.clock = clock
        self.devices: dict[str, BLEDevice] = {}
        self.links: dict[str, KeyLink] = {}
        self._queue: asyncio.Queue[Observation] = asyncio.Queue(maxsize=10_000)
        self._seen = asyncio.Condition()
        self._scanner: BleakScanner | None = None
        # one LE connection attempt at a time: controllers refuse a second pending one
        self._connecting = asyncio.Lock()

    def _backend_args(self, which: str) -> dict[str, Any]:
        if self.backend is None:
            return {}
        return {"backend": getattr(self.backend, which), **self.backend.options}

    def _observe(self, observation: Observation) -> None:
        for listener in self.listeners:
            listener(observation)
        with contextlib.suppress(asyncio.QueueFull):
            # A consumer that stopped reading loses old readings, never the radio.
            self._queue.put_nowait(observation)

    async def _detected(self, device: BLEDevice, adv: AdvertisementData) -> None:
        serial = gatt.serial_from_name(adv.local_name)
        if serial is None:
            return
        self.devices[serial] = device
        self._observe(KeyHeard(serial, adv.rssi, self.clock(), serial in self.links))
        async with self._seen:
            self._seen.notify_all()

    async def start(self) -> None:
        self._scanner = BleakScanner(
            self._detected, [gatt.SERVICE_UUID], **self._backend_args("scanner")
        )
        await self._scanner.start()

    async def stop(self) -> None:
        for link in list(self.links.values()):
            await link.close()
        self.links.clear()
        if self._scanner is not None:
            await self._scanner.stop()
            self._scanner = None

    async def observations(self) -> AsyncIterator[Observation]:
        while True:
            yield await self._queue.get()

    async def wait_for(self, serial: str, timeout: float = 10.0) -> BLEDevice:
        """The device advertising ``serial``, once it has been heard."""
        async with self._seen:
            await asyncio.wait_for(self._seen.wait_for(lambda: serial in self.devices), timeout)
        return self.devices[serial]

    async def connect(self, serial: str, timeout: float = 10.0) -> KeyLink:
        device = self.devices.get(serial) or await self.wait_for(serial, timeout)
        link: KeyLink | None = None

        def disconnected(_: BleakClient) -> None:
            self.links.pop(serial, None)
            self._observe(KeyLost(serial, self.clock()))
            if link is not None:
                link._lost()

        client = BleakClient(device, disconnected, timeout=timeout, **self._backend_args("client"))
        async with self._connecting:
            await client.connect()
        link = KeyLink(serial, client)
        await link.start()
        self.links[serial] = link
        return link

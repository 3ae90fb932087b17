"""One virtual key on a :class:`~device_gateway.bumble_radio.Radio`.

It advertises its serial and the vault service every 20 ms (so a scan + connect + write/notify
round trip takes tens of milliseconds, not seconds), keeps advertising while connected (the
gateway's proximity readings come from those advertisements), serves the protocol's key side
(:class:`~idp.vault.protocol.key.KeyEndpoint`) on the write/notify characteristics, and has a
settable RSSI and button. Its storage is a :class:`~idp.vault.protocol.key.KeyStorage`: PIN
tries, locks, wipe and accounts behave as on a real key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from bumble import hci
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device
from bumble.gatt import Characteristic, CharacteristicValue, Service

from device_gateway.bumble_radio import Radio
from idp.vault.protocol import framing, gatt
from idp.vault.protocol.errors import MalformedMessage, MessageTooLarge
from idp.vault.protocol.key import KeyEndpoint, KeyStorage, error_message

log = logging.getLogger(__name__)
#: the advertising interval (ms); bumble's default of ~1 s would make every step take ~1 s.
#: Every advertisement costs the gateway a callback: many keys at once want a longer one.
ADVERTISING_INTERVAL = 20


class VirtualKey:
    def __init__(
        self,
        radio: Radio,
        storage: KeyStorage,
        *,
        clock: Callable[[], float] = time.time,
        rssi: int = -50,
        advertising_interval: float = ADVERTISING_INTERVAL,
    ) -> None:
        self.radio = radio
        self.advertising_interval = advertising_interval
        self.storage = storage
        #: what the user does when the key asks for a press (tests set it to False)
        self.press_button = True
        self.button_presses = 0
        self.endpoint = KeyEndpoint(storage, clock=clock, button=self._button)
        self.device: Device = radio.device(f"key-{storage.serial}")
        self.address = self.device.random_address
        radio.set_rssi(self.address, rssi)
        self._notify = Characteristic(
            UUID(gatt.NOTIFY_UUID), Characteristic.Properties.NOTIFY, Characteristic.READABLE, b""
        )
        self._write = Characteristic(
            UUID(gatt.WRITE_UUID),
            Characteristic.Properties.WRITE,
            Characteristic.WRITEABLE,
            CharacteristicValue(write=self._on_write),
        )
        self.device.add_service(Service(UUID(gatt.SERVICE_UUID), [self._write, self._notify]))
        self.device.on("connection", self._on_connection)
        self._reassemblers: dict[int, framing.Reassembler] = {}
        self._outgoing: asyncio.Queue[tuple[Connection, bytes]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self.connections = 0

    @property
    def rssi(self) -> int:
        return self.radio.rssi(self.address)

    @rssi.setter
    def rssi(self, value: int) -> None:
        self.radio.set_rssi(self.address, value)

    def _button(self) -> bool:
        self.button_presses += 1
        return self.press_button

    def _advertising_data(self) -> bytes:
        """Flags and the service UUID: 21 of the 31 bytes a legacy advertisement holds."""
        service = bytes(UUID(gatt.SERVICE_UUID))
        return bytes(
            AdvertisingData(
                [
                    (AdvertisingData.FLAGS, bytes([0x06])),
                    (AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, service),
                ]
            )
        )

    def _scan_response(self) -> bytes:
        """The name (``HK-`` and the serial) travels in the scan response."""
        name = gatt.advertised_name(self.storage.serial).encode()
        return bytes(AdvertisingData([(AdvertisingData.COMPLETE_LOCAL_NAME, name)]))

    async def start(self) -> None:
        """Power on (the first time) and advertise: the key comes into range."""
        if self._sender is None:
            await self.device.power_on()
            self._sender = asyncio.create_task(self._send_loop())
        await self._advertise()

    async def _advertise(self) -> None:
        await self.device.start_advertising(
            advertising_data=self._advertising_data(),
            scan_response_data=self._scan_response(),
            advertising_interval_min=self.advertising_interval,
            advertising_interval_max=self.advertising_interval,
            auto_restart=True,
        )

    async def stop(self) -> None:
        """The key goes out of range: it stops advertising and drops its connections (its
        storage stays; :meth:`start` brings it back)."""
        with contextlib.suppress(hci.HCI_Error):
            await self.device.stop_advertising()
        for connection in list(self.device.connections.values()):
            with contextlib.suppress(hci.HCI_Error, TimeoutError):
                await connection.disconnect()

    async def close(self) -> None:
        """Out of range for good: :meth:`stop`, and the key's sender ends."""
        await self.stop()
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None

    def _on_connection(self, connection: Connection) -> None:
        self.connections += 1
        self._reassemblers[connection.handle] = framing.Reassembler()
        self.endpoint.disconnected()

        def on_disconnection(_: int) -> None:
            self._reassemblers.pop(connection.handle, None)
            self.endpoint.disconnected()

        connection.on("disconnection", on_disconnection)
        # Legacy advertising stops on a connection; a key keeps beaconing for proximity.
        asyncio.get_running_loop().create_task(self._readvertise())

    async def _readvertise(self) -> None:
        with contextlib.suppress(hci.HCI_Error):
            await self._advertise()

    def _on_write(self, connection: Connection, value: Any) -> None:
        reassembler = self._reassemblers.setdefault(connection.handle, framing.Reassembler())
        try:
            message = reassembler.feed(bytes(value))
        except (MalformedMessage, MessageTooLarge) as exc:
            self._outgoing.put_nowait((connection, error_message(exc)))
            return
        if message is not None:
            self._outgoing.put_nowait((connection, self.endpoint.receive(message)))

    async def _send_loop(self) -> None:
        while True:
            connection, message = await self._outgoing.get()
            for frame in framing.split(message, frame_size=connection.att_mtu - 3):
                try:
                    await self.device.notify_subscriber(connection, self._notify, frame)
                except (hci.HCI_Error, ConnectionError) as exc:
                    log.info("virtual key %s: notify failed: %s", self.storage.serial, exc)
                    break

"""A bleak backend on bumble: bleak's own BleakScanner/BleakClient drive a bumble central.

Pass the classes as bleak's ``backend=`` and the central as the extra keyword ``bumble=``::

    central = await BumbleCentral.on_radio(radio, "gateway")      # or .over_hci("tcp-client:…")
    BleakScanner(callback, [SERVICE_UUID], backend=BumbleScanner, bumble=central)
    BleakClient(device, backend=BumbleClient, bumble=central)

So the gateway's code is the production path down to bleak's API; only the radio is simulated.
Pairing is not simulated (the key protocol authenticates with the master key, not a bond).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError
from bumble import hci
from bumble.core import AdvertisingData
from bumble.device import Advertisement, Connection, Device, Peer
from bumble.gatt import Characteristic
from bumble.transport import open_transport

from device_gateway.bumble_radio import Radio

_UUID_LISTS = (
    AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
    AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
)
_PROPERTIES = {
    Characteristic.Properties.BROADCAST: "broadcast",
    Characteristic.Properties.READ: "read",
    Characteristic.Properties.WRITE_WITHOUT_RESPONSE: "write-without-response",
    Characteristic.Properties.WRITE: "write",
    Characteristic.Properties.NOTIFY: "notify",
    Characteristic.Properties.INDICATE: "indicate",
}


class BumbleCentral:
    """One bumble device in the central role, shared by the scanners and clients using it."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self._listeners: dict[object, Callable[[Advertisement], None]] = {}
        self._scanning = False
        device.on("advertisement", self._on_advertisement)

    @classmethod
    async def on_radio(cls, radio: Radio, name: str) -> BumbleCentral:
        device = radio.device(name)
        await device.power_on()
        return cls(device)

    @classmethod
    async def over_hci(cls, spec: str, name: str = "gateway") -> BumbleCentral:
        """A central whose controller is reached over a bumble transport (``tcp-client:h:p``)."""
        transport = await open_transport(spec)
        device = Device.with_hci(
            name, hci.Address("F0:F0:F0:F0:F0:F0"), transport.source, transport.sink
        )
        await device.power_on()
        return cls(device)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._listeners.values()):
            listener(advertisement)

    async def listen(self, token: object, listener: Callable[[Advertisement], None]) -> None:
        self._listeners[token] = listener
        if not self._scanning:
            self._scanning = True
            await self.device.start_scanning(filter_duplicates=False)

    async def unlisten(self, token: object) -> None:
        self._listeners.pop(token, None)
        if self._scanning and not self._listeners:
            self._scanning = False
            await self.device.stop_scanning()

    async def close(self) -> None:
        self._listeners.clear()
        if self._scanning:
            self._scanning = False
            await self.device.stop_scanning()
        for connection in list(self.device.connections.values()):
            with contextlib.suppress(hci.HCI_Error, asyncio.TimeoutError):
                await connection.disconnect()


def _advertisement_data(advertisement: Advertisement) -> AdvertisementData:
    data = advertisement.data
    name = data.get(AdvertisingData.COMPLETE_LOCAL_NAME) or data.get(
        AdvertisingData.SHORTENED_LOCAL_NAME
    )
    uuids: list[str] = []
    for kind in _UUID_LISTS:
        uuids += [str(u).lower() for u in (data.get(kind) or [])]  # type: ignore[union-attr]
    manufacturer: dict[int, bytes] = {}
    raw_manufacturer = data.get(AdvertisingData.MANUFACTURER_SPECIFIC_DATA)
    if isinstance(raw_manufacturer, tuple):
        manufacturer[int(raw_manufacturer[0])] = bytes(raw_manufacturer[1])
    tx_power = advertisement.tx_power
    return AdvertisementData(
        local_name=str(name) if name is not None else None,
        manufacturer_data=manufacturer,
        service_data={},
        service_uuids=uuids,
        tx_power=None if tx_power == Advertisement.TX_POWER_NOT_AVAILABLE else tx_power,
        rssi=advertisement.rssi,
        platform_data=(advertisement,),
    )


class BumbleScanner(BaseBleakScanner):
    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        *,
        bumble: BumbleCentral,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._central = bumble
        self._token = object()

    async def start(self) -> None:
        self.seen_devices = {}
        await self._central.listen(self._token, self._on_advertisement)

    async def stop(self) -> None:
        await self._central.unlisten(self._token)

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        adv = _advertisement_data(advertisement)
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        address = str(advertisement.address).split("/")[0]
        device = self.create_or_update_device(
            address, address, adv.local_name, advertisement.address, adv
        )
        self.call_detection_callbacks(device, adv)


class BumbleClient(BaseBleakClient):
    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None,
        timeout: float,
        bumble: BumbleCentral,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        self._central = bumble
        self._peer_address: hci.Address = (
            address_or_ble_device.details
            if isinstance(address_or_ble_device, BLEDevice)
            and isinstance(address_or_ble_device.details, hci.Address)
            else hci.Address(self.address)
        )
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    @property
    def name(self) -> str:
        return self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection is not None else 23

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        try:
            connection = await self._central.device.connect(
                self._peer_address, timeout=self._timeout
            )
        except (TimeoutError, hci.HCI_Error) as exc:
            raise BleakError(f"could not connect to {self.address}: {exc}") from exc
        self._connection = connection
        connection.on("disconnection", self._on_disconnection)
        self._peer = Peer(connection)
        await self._peer.discover_services()
        await self._peer.discover_characteristics()
        self.services = await self._collect(self._peer)

    async def _collect(self, peer: Peer) -> BleakGATTServiceCollection:
        collection = BleakGATTServiceCollection()
        for proxy in peer.services:
            service = BleakGATTService(proxy, proxy.handle, str(proxy.uuid).lower())
            collection.add_service(service)
            for char in proxy.characteristics:
                props = [name for flag, name in _PROPERTIES.items() if char.properties & flag]
                characteristic = BleakGATTCharacteristic(
                    char,
                    char.handle,
                    str(char.uuid).lower(),
                    props,  # type: ignore[arg-type]
                    lambda: self.mtu_size - 3,
                    service,
                )
                collection.add_characteristic(characteristic)
                for desc in await peer.discover_descriptors(char):
                    collection.add_descriptor(
                        BleakGATTDescriptor(
                            desc, desc.handle, str(desc.type).lower(), characteristic
                        )
                    )
        return collection

    def _on_disconnection(self, reason: int) -> None:
        self._connection = self._peer = None
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    def _require(self) -> Peer:
        if self._peer is None:
            raise BleakError(f"not connected to {self.address}")
        return self._peer

    async def disconnect(self) -> None:
        connection = self._connection
        if connection is None:
            return
        # A disconnect we asked for is not "unsolicited": bleak's callback is not called.
        connection.remove_listener("disconnection", self._on_disconnection)
        self._connection = self._peer = None
        with contextlib.suppress(hci.HCI_Error, asyncio.TimeoutError):
            await connection.disconnect()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise BleakError("the bumble backend does not simulate bonding")

    async def unpair(self) -> None:
        raise BleakError("the bumble backend does not simulate bonding")

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._require().read_value(characteristic.obj))

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        return bytearray(await self._require().read_value(descriptor.obj))

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        await self._require().write_value(characteristic.obj, bytes(data), with_response=response)

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        await self._require().write_value(descriptor.obj, bytes(data), with_response=True)

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        def subscriber(value: bytes) -> None:
            callback(bytearray(value))

        self._subscribers[characteristic.handle] = subscriber
        await self._require().subscribe(characteristic.obj, subscriber)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await self._require().unsubscribe(characteristic.obj, subscriber)

    async def read_rssi(self) -> int:
        """The connection's RSSI by HCI Read RSSI (beyond bleak's API: bumble only)."""
        if self._connection is None:
            raise BleakError(f"not connected to {self.address}")
        response = await self._central.device.host.send_sync_command(
            hci.HCI_Read_RSSI_Command(handle=self._connection.handle)
        )
        return int(response.rssi)

"""bleak's own API over the bumble backend, against virtual keys on a simulated radio."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from bleak import BleakClient, BleakScanner

from device_gateway.bleak_bumble import BumbleCentral, BumbleClient, BumbleScanner
from device_gateway.bumble_radio import Radio
from device_gateway.keys import BleBackend, KeyGone, KeyHeard, KeyLost, KeyRadio
from device_gateway.virtual_key.key import VirtualKey
from idp.vault.protocol import errors, gatt
from idp.vault.protocol import messages as m
from idp.vault.protocol.host import HostSession
from idp.vault.protocol.key import KeyStorage

SERIAL = "ST10301234567890"


async def world(*serials: str) -> tuple[Radio, BumbleCentral, list[VirtualKey]]:
    radio = Radio()
    keys = [VirtualKey(radio, KeyStorage(serial=s)) for s in serials]
    for key in keys:
        await key.start()
    return radio, await BumbleCentral.on_radio(radio, "gateway"), keys


async def session(link, master_key: bytes | None) -> HostSession:
    host = HostSession(expected_serial=link.serial)
    host.on_hello_reply(await link.exchange(host.hello()))
    host.on_ready(await link.exchange(host.confirm(master_key=master_key)))
    return host


async def call(link, host: HostSession, command):
    return host.on_reply(await link.exchange(host.request(command)))


def test_bleak_scanner_and_client_on_the_bumble_backend():
    async def scenario():
        _, central, [key] = await world(SERIAL)
        started = time.perf_counter()
        device = await BleakScanner.find_device_by_filter(
            # the name arrives with the scan response, the service UUID with both
            lambda d, adv: gatt.SERVICE_UUID in adv.service_uuids and adv.local_name is not None,
            timeout=5,
            backend=BumbleScanner,
            bumble=central,
        )
        assert device is not None and device.name == gatt.advertised_name(SERIAL)
        async with BleakClient(device, backend=BumbleClient, bumble=central) as client:
            assert client.is_connected
            service = client.services.get_service(gatt.SERVICE_UUID)
            assert service is not None
            write = client.services.get_characteristic(gatt.WRITE_UUID)
            assert "write" in write.properties
            assert "notify" in client.services.get_characteristic(gatt.NOTIFY_UUID).properties
            received: asyncio.Queue[bytearray] = asyncio.Queue()
            await client.start_notify(gatt.NOTIFY_UUID, lambda _, data: received.put_nowait(data))
            # A frame the key cannot use is answered with a protocol ERROR, not silence.
            await client.write_gatt_char(gatt.WRITE_UUID, b"\x81\x00\x00\x00\x01x", response=True)
            answer = await asyncio.wait_for(received.get(), 2)
            assert answer[5] == m.Outer.ERROR
            await client.stop_notify(gatt.NOTIFY_UUID)
        assert time.perf_counter() - started < 2  # 20 ms advertising: tens of milliseconds
        await key.close()
        await central.close()

    asyncio.run(scenario())


def test_scan_connect_session_link_and_accounts_through_the_key_radio():
    async def scenario():
        _, central, [key] = await world(SERIAL)
        heard: list = []
        keys = KeyRadio(
            backend=BleBackend(BumbleScanner, BumbleClient, {"bumble": central}),
            on_observation=heard.append,
        )
        await keys.start()
        link = await keys.connect(SERIAL)
        host = await session(link, None)
        master_key = os.urandom(32)
        await call(link, host, m.Link(master_key))
        host = await session(link, master_key)
        for n in range(30):  # long enough to take several frames each way
            await call(link, host, m.SaveAccount(f"a{n}", f"Svc {n}", "alice", "p" * 100))
        page = await call(link, host, m.ListAccounts())
        assert len(page.accounts) + (page.next or 0) >= 30
        info = await call(link, host, m.InfoCommand())
        assert info.linked and info.accounts == 30 and key.storage.master_key == master_key
        assert (await call(link, host, m.ReadCredentials("a7"))).password == "p" * 100
        assert await link.client._backend.read_rssi() == -50
        key.rssi = -71
        assert await link.client._backend.read_rssi() == -71
        # Advertisements keep coming while connected: proximity readings of connected keys.
        before = len(heard)
        await asyncio.sleep(0.2)
        readings = [o for o in heard[before:] if isinstance(o, KeyHeard)]
        assert readings and all(o.connected and o.serial == SERIAL for o in readings)
        assert readings[-1].rssi == -71
        # The key leaves: the connection loss is an observation, the link fails fast.
        await key.stop()
        with pytest.raises(KeyGone):
            await link.exchange(host.request(m.InfoCommand()), timeout=2)
        await asyncio.sleep(0.05)
        assert any(isinstance(o, KeyLost) and o.serial == SERIAL for o in heard)
        assert SERIAL not in keys.links
        await keys.stop()
        await key.close()
        await central.close()

    asyncio.run(scenario())


def test_a_key_with_a_wrong_master_key_or_another_serial_is_refused_over_the_air():
    async def scenario():
        _, central, [key] = await world(SERIAL)
        key.storage.master_key = os.urandom(32)
        keys = KeyRadio(backend=BleBackend(BumbleScanner, BumbleClient, {"bumble": central}))
        await keys.start()
        link = await keys.connect(SERIAL)
        host = HostSession(expected_serial=SERIAL)
        host.on_hello_reply(await link.exchange(host.hello()))
        with pytest.raises(errors.AuthenticationFailed):
            host.confirm(master_key=os.urandom(32))
        impostor = HostSession(expected_serial="ST10309999999999")
        with pytest.raises(errors.SerialMismatch):
            impostor.on_hello_reply(await link.exchange(impostor.hello()))
        await keys.stop()
        await key.close()
        await central.close()

    asyncio.run(scenario())


def test_several_keys_and_their_rssi_in_the_observation_stream():
    serials = [f"ST1030123456789{i}" for i in range(3)]

    async def scenario():
        _, central, vkeys = await world(*serials)
        for n, key in enumerate(vkeys):
            key.rssi = -40 - 10 * n
        keys = KeyRadio(backend=BleBackend(BumbleScanner, BumbleClient, {"bumble": central}))
        await keys.start()
        latest: dict[str, int] = {}
        stream = keys.observations()
        while len(latest) < 3:
            o = await asyncio.wait_for(anext(stream), 2)
            assert isinstance(o, KeyHeard)
            latest[o.serial] = o.rssi
        assert latest == {s: -40 - 10 * n for n, s in enumerate(serials)}
        links = [await keys.connect(s) for s in serials]
        for link in links:
            host = await session(link, None)
            assert (await call(link, host, m.InfoCommand())).serial == link.serial
        await keys.stop()
        for key in vkeys:
            await key.close()
        await central.close()

    asyncio.run(scenario())

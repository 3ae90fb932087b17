import asyncio, time, json
from pathlib import Path
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.asyncio.client import connect
from idp.store.ephemeral import MemoryStore
from idp.store.sql import Database
from idp.workstations.model import WorkstationStatus, public_key_b64, workstation_id_for
from tests.e2e.workstations.harness import Site
from tests.flask_idp.test_link_server import INFO, _signed


@pytest.fixture
def site(sqlite_db: Database, tmp_path: Path) -> Site:
    return Site(sqlite_db, MemoryStore(), tmp_path)


def test_scratch(site: Site) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    register = _signed(key, "register", {**INFO.to_wire(), "public_key": public_key_b64(key.public_key())})
    async def scenario():
        inst = await site.instance()
        async with connect(inst.url) as ws:
            await ws.send(register)
            try:
                print(await asyncio.wait_for(ws.recv(), 5))
            except Exception as e:
                print("reg", e)
        site.registry.set_status(workstation_id_for(key.public_key()), WorkstationStatus.APPROVED, by="root", now=site.clock())
        r, w = await asyncio.open_connection("127.0.0.1", inst.port)
        w.write(b"GET /link HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await r.readuntil(b"\r\n\r\n")
        hello = _signed(key, "hello", INFO.to_wire()).encode()
        assert len(hello) < 126 * 0 + 65536
        import struct
        frame = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(hello)) + b"\x00\x00\x00\x00" + hello
        w.write(frame); await w.drain()
        print("welcome bytes", len(await r.read(3000)))
        w.write(bytes([0x81, 0x80 | 100]) + b"\x00\x00\x00\x00" + b"12345"); await w.drain()
        t0 = time.monotonic()
        try:
            while True:
                d = await asyncio.wait_for(r.read(1000), 120)
                if not d: break
                print("got", d[:20], time.monotonic() - t0)
        except TimeoutError:
            print("not closed in 120s")
        print("closed after", time.monotonic() - t0)
        await inst.stop()
    asyncio.run(scenario())

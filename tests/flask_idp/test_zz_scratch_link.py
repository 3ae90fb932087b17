import asyncio, time, json
from pathlib import Path
import pytest
from websockets.asyncio.client import connect
from idp.store.ephemeral import MemoryStore
from idp.store.sql import Database
from tests.e2e.workstations.harness import Site


@pytest.fixture
def site(sqlite_db: Database, tmp_path: Path) -> Site:
    return Site(sqlite_db, MemoryStore(), tmp_path)


async def closed_after(reader, limit=60):
    t = time.monotonic()
    try:
        while True:
            data = await asyncio.wait_for(reader.read(1000), limit)
            if not data:
                return time.monotonic() - t
    except TimeoutError:
        return None


def test_scratch(site: Site) -> None:
    async def scenario():
        inst = await site.instance()
        port = inst.port
        # a: silent tcp
        r1, w1 = await asyncio.open_connection("127.0.0.1", port)
        # b: handshake then silent
        ws = await connect(inst.url)
        # c: mid-frame stall before first message
        r3, w3 = await asyncio.open_connection("127.0.0.1", port)
        w3.write(b"GET /link HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        await w3.drain()
        head = await r3.readuntil(b"\r\n\r\n")
        w3.write(bytes([0x81, 0x80 | 100]) + b"\x00\x00\x00\x00" + b"12345")
        await w3.drain()
        # partial http request
        r4, w4 = await asyncio.open_connection("127.0.0.1", port)
        w4.write(b"GET /link HTTP/1.1\r\nHost: x\r\n")
        await w4.drain()
        t0 = time.monotonic()
        async with connect(inst.url) as other:
            await other.send("not json")
            print("other answered", await other.recv(), time.monotonic() - t0)
        res = await asyncio.gather(closed_after(r1), closed_after(r3), closed_after(r4),
                                   asyncio.wait_for(ws.wait_closed(), 60))
        print("closed after", res, time.monotonic() - t0, ws.close_code)
        await inst.stop()
    asyncio.run(scenario())

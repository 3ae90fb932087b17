"""The link server as a peer sees it (a raw websockets client): refusals are an error frame
and a close code saying why, never a crash; nothing is stored from a refused frame."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from idp.store.ephemeral import MemoryStore
from idp.store.sql import Database
from idp.workstations.events import EventType, new_event
from idp.workstations.model import (
    WorkstationInfo,
    WorkstationStatus,
    public_key_b64,
    workstation_id_for,
)
from idp.workstations.wire import sign_frame
from tests.e2e.workstations.harness import Site

INFO = WorkstationInfo("pc-raw", "CORP", "Linux", "10.0.0.9", "1.0")


async def _exchange(
    url: str, *frames: str | bytes, last: str = ""
) -> tuple[list[dict[str, object]], int | None]:
    """Send ``frames``; the frames that came back (until one of type ``last``, or the server
    closes) and the close code (None: still open)."""
    received: list[dict[str, object]] = []
    async with connect(url, max_size=None) as ws:
        try:
            for frame in frames:
                await ws.send(frame)
            while True:
                received.append(json.loads(await asyncio.wait_for(ws.recv(), 20)))
                if received[-1]["type"] == last:
                    return received, None
        except ConnectionClosed:
            pass
        except TimeoutError:
            return received, None
    return received, ws.close_code


def _signed(key: ec.EllipticCurvePrivateKey, type: str, body: dict[str, object]) -> str:
    return sign_frame(
        key=key,
        type=type,
        body=body,
        ts=int(time.time()),
        workstation_id=workstation_id_for(key.public_key()),
    )


@pytest.fixture
def site(sqlite_db: Database, tmp_path: Path) -> Site:
    return Site(sqlite_db, MemoryStore(), tmp_path)


def test_refusals_through_the_socket(site: Site) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    register = _signed(
        key, "register", {**INFO.to_wire(), "public_key": public_key_b64(key.public_key())}
    )

    async def scenario() -> None:
        instance = await site.instance()
        url = instance.url
        got, code = await _exchange(url, "this is not json")
        assert code == 4400 and got[0]["error"] == "invalid_link_message"
        got, code = await _exchange(url, _signed(key, "hello", INFO.to_wire()))
        assert code == 4401 and got[0]["error"] == "unknown_workstation"
        got, code = await _exchange(url, register)
        assert code == 4403 and "an admin must approve it" in str(got[0]["error_description"])
        got, code = await _exchange(url, register)  # the same signed frame again
        assert code == 4409 and got[0]["error"] == "replayed_request"
        ws_id = workstation_id_for(key.public_key())
        site.registry.set_status(ws_id, WorkstationStatus.APPROVED, by="root", now=site.clock())
        # Approved: an oversized frame is cut by the socket layer (1009), nothing stored.
        huge = {"events": [new_event(EventType.LOCK, at=site.clock()).to_wire()] * 3000}
        got, code = await _exchange(
            url, _signed(key, "hello", INFO.to_wire()), _signed(key, "events", huge)
        )
        assert code == 1009 and "ack" not in [f["type"] for f in got]
        # A malformed batch on an open connection is answered; the connection stays.
        bad = {"events": [{"id": "x", "type": "lock", "at": "now"}]}
        good = {"events": [new_event(EventType.LOCK, at=site.clock()).to_wire()]}
        got, code = await _exchange(
            url,
            _signed(key, "hello", INFO.to_wire()),
            _signed(key, "events", bad),
            _signed(key, "events", good),
            last="ack",
        )
        kinds = [f["type"] for f in got]
        assert kinds[0] == "welcome" and "error" in kinds and kinds[-1] == "ack" and code is None
        await instance.stop()

    asyncio.run(scenario())
    assert site.journal.events().total == 1


_UPGRADE = (
    b"GET /link HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
#: a masked text frame that announces 100 bytes and carries 5
_HALF_FRAME = bytes([0x81, 0x80 | 100]) + b"\x00\x00\x00\x00" + b"12345"


_WRITERS: dict[int, asyncio.StreamWriter] = {}


async def _raw(port: int, *sends: bytes) -> asyncio.StreamReader:
    """A peer on a bare socket: it sends ``sends`` (reading the handshake's answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    _WRITERS[id(reader)] = writer
    for data in sends:
        await _raw_on(reader, data)
        if data == _UPGRADE:
            await reader.readuntil(b"\r\n\r\n")
    return reader


async def _raw_on(reader: asyncio.StreamReader, data: bytes) -> asyncio.StreamReader:
    writer = _WRITERS[id(reader)]
    writer.write(data)
    await writer.drain()
    return reader


async def _dropped_within(reader: asyncio.StreamReader, seconds: float) -> bool:
    try:
        while await asyncio.wait_for(reader.read(4096), seconds):
            pass
    except TimeoutError:
        return False
    return True


def test_silent_and_stalled_peers_are_dropped_and_block_nobody(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flask_idp import link_server

    # The production timeouts are 10-20 s; a second each shows the same behaviour sooner.
    for name in ("OPEN_TIMEOUT", "FIRST_FRAME_TIMEOUT", "PING_INTERVAL", "PING_TIMEOUT"):
        monkeypatch.setattr(link_server, name, 1.0)
    monkeypatch.setattr(link_server, "CLOSE_TIMEOUT", 1.0)
    key = ec.generate_private_key(ec.SECP256R1())
    ws_id = workstation_id_for(key.public_key())
    site.registry.register(
        workstation_id=ws_id, public_key=public_key_b64(key.public_key()), info=INFO,
        now=site.clock(),
    )  # fmt: skip
    site.registry.set_status(ws_id, WorkstationStatus.APPROVED, by="root", now=site.clock())

    async def scenario() -> None:
        instance = await site.instance()
        port = instance.port
        stalled = [
            await _raw(port),  # connects, sends nothing
            await _raw(port, b"GET /link HTTP/1.1\r\n"),  # half a handshake
            await _raw(port, _UPGRADE),  # a handshake, then silence
            await _raw(port, _UPGRADE, _HALF_FRAME),  # stalls in its first frame
        ]
        # Welcomed, then stalled mid-frame: the keepalive ping goes unanswered, it is dropped.
        hello = _signed(key, "hello", INFO.to_wire()).encode()
        framed = bytes([0x81, 0x80 | 126]) + struct.pack("!H", len(hello)) + b"\0" * 4 + hello
        welcomed = await _raw(port, _UPGRADE, framed)
        assert b"welcome" in await asyncio.wait_for(welcomed.read(4096), 10)
        stalled.append(await _raw_on(welcomed, _HALF_FRAME))
        # Meanwhile another peer is answered at once.
        got, code = await _exchange(instance.url, "not json")
        assert code == 4400 and got[0]["error"] == "invalid_link_message"
        assert [await _dropped_within(r, 10) for r in stalled] == [True] * 5
        await instance.stop()

    asyncio.run(scenario())

"""Workstation link figures: events ingested per second, and connections one server holds.

The link server is `hideez-idp link serve` as users run it, one process pinned to CPU 0, on
the demo set-up (SQLite + the in-process store) and, when they answer, on PostgreSQL + Redis.
The load comes from this process, pinned to CPU 1.

  1. events ingested per second through the link: 8 workstations each send signed batches of
     100 events and wait for the acknowledgement (signature verified, timestamp and nonce
     checked, events stored with their sessions, acknowledged); beside it the baseline, the
     same batches stored by `EventJournal.ingest` directly (8 threads, as the server runs them)
     on the same database. No "of limit": the link's cost is the database's, which the
     baseline shows (one ES256 verification per 100 events is ~0.1% of it);
  2. simultaneous connected workstations held by one server process: N real gateways
     (`device_gateway`, recording actuators) register, are approved and stay connected; the
     server's resident memory before and after gives the memory per connection.

  3. the time from the phone's approval to the workstation's unlock (bench/pc_login.py: the
     Flask IdP, a link server, a gateway and the reference app in this process).
Run: .venv/bin/python bench/workstations.py [seconds] [connections]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from bench.pc_login import approval_to_unlock, describe  # noqa: E402
from device_gateway.simulator import simulated_gateway  # noqa: E402
from flask_idp.demo import prepare  # noqa: E402
from idp.config.loader import load_config  # noqa: E402
from idp.store.sql import open_database  # noqa: E402
from idp.store.sql.database import migrate  # noqa: E402
from idp.workstations.events import EventType, new_event  # noqa: E402
from idp.workstations.journal import EventJournal  # noqa: E402
from idp.workstations.model import (  # noqa: E402
    WorkstationInfo,
    WorkstationStatus,
    public_key_b64,
    workstation_id_for,
)
from idp.workstations.registry import WorkstationRepository  # noqa: E402
from idp.workstations.wire import MAX_FRAME_BYTES, sign_frame  # noqa: E402

SERVER_CPU, CLIENT_CPU = {0}, {1}
PG_ADMIN = os.environ.get(
    "BENCH_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
BATCH = 100
SENDERS = 8
INFO = WorkstationInfo("bench", "BENCH", "bench", "127.0.0.1", "bench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def start_server(config: Path, port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["taskset", "-c", ",".join(map(str, SERVER_CPU)), sys.executable, "-m",
         "flask_idp.cli", "link", "serve", "--config", str(config), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("the link server did not start")


def approved_keys(registry: WorkstationRepository, count: int) -> list[ec.EllipticCurvePrivateKey]:
    keys = [ec.generate_private_key(ec.SECP256R1()) for _ in range(count)]
    now = dt.datetime.now(dt.UTC)
    for key in keys:
        ws_id = workstation_id_for(key.public_key())
        registry.register(workstation_id=ws_id, public_key=public_key_b64(key.public_key()),
                          info=INFO, now=now)  # fmt: skip
        registry.set_status(ws_id, WorkstationStatus.APPROVED, by="bench", now=now)
    return keys


def batch_body() -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    return {"events": [new_event(EventType.KEY_CONNECTED, at=now).to_wire() for _ in range(BATCH)]}


async def sender(url: str, key: ec.EllipticCurvePrivateKey, until: float) -> int:
    ws_id = workstation_id_for(key.public_key())
    stored = 0
    async with connect(url, max_size=MAX_FRAME_BYTES) as ws:
        hello = sign_frame(key=key, type="hello", workstation_id=ws_id, body=INFO.to_wire(),
                           ts=int(time.time()))  # fmt: skip
        await ws.send(hello)
        for _ in range(3):  # welcome, settings, alarm (off: no lock follows)
            await asyncio.wait_for(ws.recv(), 5)
        while time.monotonic() < until:
            frame = sign_frame(key=key, type="events", workstation_id=ws_id, body=batch_body(),
                               ts=int(time.time()))  # fmt: skip
            await ws.send(frame)
            while '"type":"ack"' not in str(await ws.recv()):
                pass
            stored += BATCH
    return stored


def link_rate(url: str, keys: list[ec.EllipticCurvePrivateKey], seconds: float) -> float:
    async def run() -> float:
        begin = time.monotonic()
        counts = await asyncio.gather(*(sender(url, k, begin + seconds) for k in keys))
        return sum(counts) / (time.monotonic() - begin)

    return asyncio.run(run())


def baseline_rate(database_url: str, seconds: float) -> float:
    """The same batches stored by the journal directly, by as many threads as the link server
    runs them in, for approved workstations of their own, on the same database."""
    db = open_database(database_url)
    ids = [workstation_id_for(k.public_key()) for k in approved_keys(WorkstationRepository(db),
                                                                      SENDERS)]  # fmt: skip
    journal = EventJournal(db)
    begin = time.monotonic()

    def ingest(n: int) -> int:
        ws_id, stored = ids[n], 0
        while time.monotonic() - begin < seconds:
            now = dt.datetime.now(dt.UTC)
            events = [new_event(EventType.KEY_CONNECTED, at=now) for _ in range(BATCH)]
            journal.ingest(ws_id, events, now=now)
            stored += BATCH
        return stored

    with ThreadPoolExecutor(SENDERS) as pool:
        total = sum(pool.map(ingest, range(SENDERS)))
    db.dispose()
    return total / (time.monotonic() - begin)


async def hold_connections(url: str, directory: Path, count: int, db_url: str, pid: int
                           ) -> tuple[int, float]:  # fmt: skip
    gateways = [simulated_gateway(directory, f"c{i:05d}", url) for i in range(count)]
    registry = WorkstationRepository(open_database(db_url))
    now = dt.datetime.now(dt.UTC)
    for gateway in gateways:
        gateway.identity.registered = True  # straight to hello: registered and approved below
        registry.register(workstation_id=gateway.identity.workstation_id, info=INFO, now=now,
                          public_key=gateway.identity.public_key)  # fmt: skip
        registry.set_status(gateway.identity.workstation_id, WorkstationStatus.APPROVED,
                            by="bench", now=now)  # fmt: skip
    before = rss_kib(pid)
    stop = asyncio.Event()
    runs = [asyncio.create_task(g.run(stop)) for g in gateways]
    deadline = time.monotonic() + 120
    while sum(g.connected.is_set() for g in gateways) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # the spooled start-up events are acknowledged
    connected = sum(g.connected.is_set() for g in gateways)
    after = rss_kib(pid)
    stop.set()
    await asyncio.gather(*runs)
    return connected, (after - before) / max(connected, 1)


@contextmanager
def storages(tmp: Path) -> Iterator[list[tuple[str, Path]]]:
    """The demo set-up (SQLite + the in-process store) and, when the servers answer, the same
    on a throwaway PostgreSQL database with Redis (keys under a prefix removed afterwards)."""
    sqlite = prepare(tmp / "sqlite", port=free_port(), sp_port=free_port())
    found = [("SQLite + memory", sqlite)]
    name, prefix = f"bench_ws_{secrets.token_hex(4)}", f"bench-ws-{secrets.token_hex(4)}:"
    admin = None
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=2)
        redis.Redis.from_url(REDIS).ping()
    except (psycopg.Error, redis.RedisError):
        print("(PostgreSQL or Redis not reachable: SQLite only)")
    else:
        admin.execute(f'CREATE DATABASE "{name}"')
        pg = prepare(tmp / "pg", port=free_port(), sp_port=free_port())
        text = pg.read_text().replace("ephemeral_url: memory://",
                                      f"ephemeral_url: '{REDIS}?prefix={prefix}'")  # fmt: skip
        text = "\n".join(
            f"database_url: postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            if line.startswith("database_url:") else line for line in text.splitlines()
        )  # fmt: skip
        pg.write_text(text + "\n")
        found.append(("PostgreSQL + Redis", pg))
    try:
        yield found
    finally:
        if admin is not None:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            client = redis.Redis.from_url(REDIS)
            keys = list(client.scan_iter(match=f"{prefix}*"))
            if keys:
                client.delete(*keys)
            admin.close()


def ingestion(config: Path, seconds: float) -> tuple[float, float]:
    """Events/s through a link server process, and the baseline (the better of a run before
    and one after: this machine is shared, and one moment of someone else's load must not
    set the baseline low)."""
    db_url = load_config(config).database_url
    db = open_database(db_url)
    migrate(db.engine)
    keys = approved_keys(WorkstationRepository(db), SENDERS)
    os.sched_setaffinity(0, SERVER_CPU)
    baseline = baseline_rate(db_url, seconds)
    os.sched_setaffinity(0, CLIENT_CPU)
    port = free_port()
    server = start_server(config, port)
    try:
        rate = link_rate(f"ws://127.0.0.1:{port}/", keys, seconds)
    finally:
        server.terminate()
        server.wait(10)
    os.sched_setaffinity(0, SERVER_CPU)
    baseline = max(baseline, baseline_rate(db_url, seconds))
    os.sched_setaffinity(0, CLIENT_CPU)
    db.dispose()
    return rate, baseline


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    os.sched_setaffinity(0, CLIENT_CPU)
    with tempfile.TemporaryDirectory() as tmp, storages(Path(tmp)) as found:
        for label, config in found:
            rate, baseline = ingestion(config, seconds)
            print(f"events ingested through the link, {label}: {rate:,.0f}/s (signed batches "
                  f"of {BATCH}, {SENDERS} workstations)")  # fmt: skip
            print(f"  baseline, EventJournal.ingest directly ({SENDERS} threads): "
                  f"{baseline:,.0f}/s  ratio {rate / baseline:.1f}x")  # fmt: skip
        label, config = found[-1]
        port = free_port()
        server = start_server(config, port)
        try:
            held, per_connection = asyncio.run(
                hold_connections(f"ws://127.0.0.1:{port}/", Path(tmp) / "gw", connections,
                                 load_config(config).database_url, server.pid)
            )  # fmt: skip
        finally:
            server.terminate()
            server.wait(10)
        print(f"connected workstations held by one link server ({label}): {held} of "
              f"{connections}, {per_connection:.1f} KiB resident memory per "
              "connection")  # fmt: skip
        times = approval_to_unlock(config)
        print(f"time from the phone's approval to the unlock ({label}): {describe(times)}")


if __name__ == "__main__":
    main()

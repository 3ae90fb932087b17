"""The link server as a peer sees it (a raw websockets client): refusals are an error frame
and a close code saying why, never a crash; nothing is stored from a refused frame."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from flask_idp.link_server import LinkMetrics, LinkServer
from idp.factors.authenticator import push, sender
from idp.metrics import LinkCollector
from idp.store.ephemeral import MemoryStore
from idp.store.errors import StoreUnavailable
from idp.store.sql import Database
from idp.vault.store import VaultStore
from idp.workstations.events import EventType, new_event
from idp.workstations.model import (
    WorkstationInfo,
    WorkstationStatus,
    public_key_b64,
    workstation_id_for,
)
from idp.workstations.wire import sign_frame
from tests.e2e.workstations.harness import ADMIN, Site, free_port, until
from tests.idp.vault.conftest import ADMIN as VAULT_ADMIN
from tests.idp.vault.conftest import KEYS as VAULT_KEYS
from tests.idp.vault.conftest import make_vaults

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


# -- GET /metrics on the link server's port ----------------------------------------------------


def _gauges(text: str) -> dict[str, float]:
    return {
        name: float(value)
        for name, _, value in (line.partition(" ") for line in text.splitlines())
        if name.startswith("hideez_idp_")
    }


def _with_metrics(site: Site, *, allowed: tuple[str, ...] = ("127.0.0.0/8",)) -> LinkServer:
    server: LinkServer

    collector = LinkCollector(
        store=site.store,
        vault_tasks=VaultStore(site.db).pending_tasks,
        connected=lambda: len(server.connections),
        clock=site.clock,
    )
    server = LinkServer(site.service(), site.store, metrics=LinkMetrics(collector, allowed))
    return server


def test_metrics_count_pushes_vault_tasks_and_connected_workstations(site: Site) -> None:
    now = dt.datetime.now(dt.UTC)
    challenges = [
        push.create_challenge(site.store, employee_id=f"emp-{n}", device_id="dev", ip="10.0.0.1",
                              relying_party="rp", user_agent="ua", location=None, browser="b",
                              now=now, ttl=120)[0]
        for n in range(3)
    ]  # fmt: skip
    push.record_answer(site.store, challenges[0], device_id="dev", approve=False, number=None,
                       reason=None, user_verified=False, now=now)  # fmt: skip
    earlier = now - dt.timedelta(seconds=130)  # expired by now
    push.create_challenge(site.store, employee_id="emp-old", device_id="dev", ip="10.0.0.1",
                          relying_party="rp", user_agent="ua", location=None, browser="b",
                          now=earlier, ttl=120)  # fmt: skip
    for n in range(4):
        site.store.queue_push(sender.QUEUE, str(n).encode(), ttl=60)
    vaults = make_vaults(site.db)
    vaults.service.import_keys(actor=VAULT_ADMIN, keys=VAULT_KEYS)
    vaults.service.assign(actor=VAULT_ADMIN, serial=VAULT_KEYS[0].serial,
                          employee_id=vaults.employee("carol"))  # fmt: skip
    queued = VaultStore(site.db).pending_tasks()
    assert queued > 0

    async def scenario() -> None:
        link = _with_metrics(site)
        port = free_port()
        running = await link.start("127.0.0.1", port)
        agent = site.agent("pc-metrics", f"ws://127.0.0.1:{port}/link")
        try:
            ws_id = agent.gateway.identity.workstation_id
            await until(lambda: site.registry.get(ws_id) is not None, what="registration")
            site.admin.set_status(actor=ADMIN, workstation_id=ws_id,
                                  status=WorkstationStatus.APPROVED, now=site.clock())  # fmt: skip
            await until(agent.gateway.connected.is_set, what="the workstation connected")
            url = f"http://127.0.0.1:{port}/metrics"
            got = await asyncio.to_thread(requests.get, url, timeout=10)
            assert got.status_code == 200
            assert got.headers["Content-Type"].startswith("text/plain; version=")
            assert _gauges(got.text) == {
                "hideez_idp_push_outstanding": 2.0,  # answered and expired ones are not
                "hideez_idp_push_queue_depth": 4.0,
                "hideez_idp_vault_tasks_pending": float(queued),
                "hideez_idp_workstations_connected": 1.0,
            }
            assert push.consume(site.store, challenges[1])
            site.store.queue_pop(sender.QUEUE, timeout=0)
            await agent.shutdown()
            await until(lambda: not link.connections, what="the workstation gone")
            again = _gauges((await asyncio.to_thread(requests.get, url, timeout=10)).text)
            assert again["hideez_idp_push_outstanding"] == 1.0
            assert again["hideez_idp_push_queue_depth"] == 3.0
            assert again["hideez_idp_workstations_connected"] == 0.0
        finally:
            if not agent.task.done():
                await agent.shutdown()
            await link.stop(running)

    asyncio.run(scenario())
    vaults.audit.flush()


def test_metrics_refuse_other_networks_and_survive_a_store_outage(site: Site) -> None:
    class DownStore(MemoryStore):
        def deadline_count(self, key: str, *, now: float) -> int:
            raise StoreUnavailable("Redis did not answer", store="short_lived")

    site.store = DownStore()

    async def scenario() -> None:
        for allowed, expected in ((("10.0.0.0/8",), 403), (("127.0.0.0/8",), 200)):
            link = _with_metrics(site, allowed=allowed)
            port = free_port()
            running = await link.start("127.0.0.1", port)
            try:
                url = f"http://127.0.0.1:{port}/metrics"
                got = await asyncio.to_thread(requests.get, url, timeout=10)
            finally:
                await link.stop(running)
            assert got.status_code == expected
            if expected == 200:  # the gauge whose store is down is left out, the rest served
                assert set(_gauges(got.text)) == {
                    "hideez_idp_push_queue_depth",
                    "hideez_idp_vault_tasks_pending",
                    "hideez_idp_workstations_connected",
                }
            else:
                assert "hideez_idp" not in got.text

    asyncio.run(scenario())

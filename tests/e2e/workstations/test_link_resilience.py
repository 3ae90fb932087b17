"""The link under trouble: dropped mid-stream, a server restart with the alarm on, and two
server instances on one Redis/PostgreSQL (real servers, real gateways)."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from idp.store.ephemeral import RedisStore
from idp.store.sql import Database
from idp.workstations.events import EventType, UnlockedBy
from idp.workstations.model import WorkstationStatus
from tests.conftest import REDIS_URL
from tests.e2e.workstations.harness import ADMIN, Agent, Site, until


async def _approved(site: Site, agent: Agent) -> str:
    ws_id = agent.gateway.identity.workstation_id
    await until(lambda: site.registry.get(ws_id) is not None, what="registration")
    site.admin.set_status(
        actor=ADMIN,
        workstation_id=ws_id,
        status=WorkstationStatus.APPROVED,
        now=site.clock(),
    )
    await until(agent.gateway.connected.is_set, what="welcome")
    return ws_id


def test_link_drop_mid_stream_loses_nothing_and_duplicates_nothing(site: Site) -> None:

    async def scenario() -> tuple[str, set[str]]:
        server = await site.instance()
        agent = site.agent("pc-drop", server.url, batch_size=7)
        ws_id = await _approved(site, agent)
        await until(lambda: len(agent.gateway.spool) == 0)
        recorded = set()
        for n in range(120):
            event = agent.gateway.record(EventType.KEY_CONNECTED, details={"n": str(n)})
            recorded.add(event.id)
        # Drop the server while the batches are in flight, record more while it is away.
        await until(lambda: len(agent.gateway.spool) < 110, what="the first acks")
        await server.stop()
        for _ in range(120, 150):
            recorded.add(agent.gateway.record(EventType.KEY_DISCONNECTED).id)
        restarted = await site.instance(server.port)
        await until(lambda: agent.gateway.state.connections >= 2, what="reconnection")
        await until(lambda: len(agent.gateway.spool) == 0, timeout=20, what="resend")
        await agent.shutdown()
        await restarted.stop()
        return ws_id, recorded

    ws_id, recorded = asyncio.run(scenario())
    stored = site.journal.events(workstation_id=ws_id, limit=500).items
    ids = [e.event.id for e in stored]
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert recorded <= set(ids), "an event was lost"


def test_server_restart_gateways_reconnect_and_the_alarm_is_still_on(site: Site) -> None:

    async def scenario() -> None:
        server = await site.instance()
        first = site.agent("pc-a", server.url)
        await _approved(site, first)
        site.admin.raise_alarm(
            actor=ADMIN,
            now=site.clock(),
        )
        await until(lambda: first.gateway.state.alarm and first.actuator.locked, what="alarm")
        await server.stop()
        restarted = await site.instance(server.port)  # a new process: state from the database
        await until(lambda: first.gateway.state.connections >= 2, what="reconnection")
        first.actuator.locked = False
        # A workstation that connects later is locked too.
        later = site.agent("pc-b", restarted.url)
        await _approved(site, later)
        await until(lambda: later.actuator.locked and later.gateway.state.alarm, what="locked")
        # New unlocks are refused while the alarm is on.
        assert not later.gateway.unlocked(
            account="CORP\\bob", employee=None, unlocked_by=UnlockedBy.MANUAL
        )
        site.admin.lift_alarm(
            actor=dataclasses.replace(ADMIN, auth_time=site.clock(), auth_method="pwd"),
            now=site.clock(),
        )
        await until(lambda: not later.gateway.state.alarm, what="alarm lifted")
        assert later.gateway.unlocked(
            account="CORP\\bob", employee=None, unlocked_by=UnlockedBy.MANUAL
        )
        await until(lambda: len(later.gateway.spool) == 0)
        for agent in (first, later):
            await agent.shutdown()
        await restarted.stop()

    asyncio.run(scenario())
    kinds = {e.event.type for e in site.journal.events(limit=500).items}
    assert EventType.UNLOCK_REFUSED in kinds
    assert site.registry.alarm().lifted_by == "root"


@pytest.mark.redis
def test_command_issued_on_one_instance_reaches_a_workstation_on_the_other(
    db: Database, redis_store: RedisStore, tmp_path: Path
) -> None:
    # Each instance has its own Redis client, as separate processes would.
    other = RedisStore.from_url(REDIS_URL, prefix=redis_store.prefix)
    site_a = Site(db, redis_store, tmp_path / "a")
    site_b = Site(db, other, tmp_path / "b")

    async def scenario() -> None:
        instance_a, instance_b = await site_a.instance(), await site_b.instance()
        on_a = site_a.agent("pc-on-a", instance_a.url)
        on_b = site_b.agent("pc-on-b", instance_b.url)
        await _approved(site_a, on_a)
        ws_b = await _approved(site_a, on_b)
        assert ws_b in instance_b.link.connections and ws_b not in instance_a.link.connections
        # Issued through instance A's store client; only B holds the connection.
        site_a.admin_via(redis_store).lock_workstation(
            actor=ADMIN,
            workstation_id=ws_b,
            now=site_a.clock(),
        )
        await until(lambda: on_b.actuator.locked, what="the lock routed to instance B")
        await asyncio.sleep(0.2)
        assert not on_a.actuator.locked, "a targeted lock reached another workstation"
        for agent in (on_a, on_b):
            await agent.shutdown()
        await instance_a.stop()
        await instance_b.stop()

    try:
        asyncio.run(scenario())
    finally:
        other.close()

"""Real link servers (``flask_idp.link_server`` over websockets on loopback) and real
``device_gateway`` agents in one asyncio loop, over the ``db``/``ephemeral`` fixtures."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.server import Server

from device_gateway.actuator import RecordingActuator
from device_gateway.agent import Gateway, GatewayOptions
from device_gateway.identity import Identity
from device_gateway.spool import Spool
from flask_idp.link_server import LinkServer
from idp.admin.access import Actor, Role
from idp.admin.workstations import WorkstationAdmin
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql import AuditRepository, Database
from idp.workstations.journal import EventJournal
from idp.workstations.link import LinkService
from idp.workstations.model import WorkstationInfo
from idp.workstations.registry import WorkstationRepository
from idp.workstations.summaries import Summaries

ADMIN = Actor("admin:root", Role.ADMIN)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Instance:
    """One link server instance (its own LinkService, like its own process)."""

    link: LinkServer
    server: Server
    port: int

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link"

    async def stop(self) -> None:
        await self.link.stop(self.server)


@dataclass
class Agent:
    gateway: Gateway
    actuator: RecordingActuator
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 10)


@dataclass
class Site:
    db: Database
    store: EphemeralStore
    tmp: Path
    clock: Callable[[], dt.datetime] = utcnow
    audit: AuditRepository = field(init=False)
    registry: WorkstationRepository = field(init=False)
    journal: EventJournal = field(init=False)
    summaries: Summaries = field(init=False)

    def __post_init__(self) -> None:
        self.audit = AuditRepository(self.db)
        self.registry = WorkstationRepository(self.db)
        self.journal = EventJournal(self.db)
        self.summaries = Summaries(self.db)

    @property
    def admin(self) -> WorkstationAdmin:
        return WorkstationAdmin(self.registry, self.audit, self.store)

    def admin_via(self, store: EphemeralStore) -> WorkstationAdmin:
        """Admin actions published through another store client (another instance)."""
        return WorkstationAdmin(self.registry, self.audit, store)

    def service(self) -> LinkService:
        return LinkService(
            registry=self.registry,
            journal=self.journal,
            store=self.store,
            audit=self.audit,
            clock=self.clock,
        )

    async def instance(self, port: int | None = None) -> Instance:
        link = LinkServer(self.service(), self.store)
        port = port or free_port()
        server = await link.start("127.0.0.1", port)
        return Instance(link, server, port)

    def agent(
        self, name: str, url: str, *, tls: ssl.SSLContext | None = None, batch_size: int = 100
    ) -> Agent:
        directory = self.tmp / name
        gateway = Gateway(
            identity=Identity.load_or_create(directory / "identity"),
            spool=Spool(directory / "spool"),
            actuator=RecordingActuator(),
            options=GatewayOptions(
                server_url=url,
                info=WorkstationInfo(name, "CORP", "Windows 11 23H2", "10.0.0.7", "1.0.0"),
                min_backoff=0.05,
                max_backoff=0.2,
                refused_retry=0.1,
                tls=tls,
                batch_size=batch_size,
            ),
        )
        assert isinstance(gateway.actuator, RecordingActuator)
        stop = asyncio.Event()
        task = asyncio.create_task(gateway.run(stop))
        return Agent(gateway, gateway.actuator, stop, task)


async def until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Wait until ``condition()`` holds (polling every 20 ms)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await asyncio.sleep(0.02)


async def until_async(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)

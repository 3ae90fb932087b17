"""Many simulated gateways in one process (``hideez-idp workstation-sim``), for demos and load.

Each is the real :class:`~device_gateway.agent.Gateway` with a recording actuator; it unlocks
and locks in turn every ``interval`` seconds, as an employee walking up and away would.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from pathlib import Path

from device_gateway.actuator import RecordingActuator
from device_gateway.agent import Gateway, GatewayOptions
from device_gateway.identity import Identity
from device_gateway.spool import Spool
from idp.workstations.events import EventType, UnlockedBy
from idp.workstations.model import WorkstationInfo


@dataclass(frozen=True)
class SimulationReport:
    gateways: int
    connected: int
    events_recorded: int
    events_unacknowledged: int


def simulated_gateway(directory: Path, name: str, server_url: str) -> Gateway:
    return Gateway(
        identity=Identity.load_or_create(directory / name / "identity"),
        spool=Spool(directory / name / "spool"),
        actuator=RecordingActuator(),
        options=GatewayOptions(
            server_url=server_url,
            info=WorkstationInfo(name, "SIM", "simulated", "127.0.0.1", "sim-1"),
            min_backoff=0.2,
            max_backoff=5.0,
        ),
    )


async def _walk(gateway: Gateway, interval: float, stop: asyncio.Event) -> int:
    recorded = 0
    for n in itertools.count():
        if n % 2 == 0:
            gateway.unlocked(
                account=f"SIM\\user-{gateway.options.info.name}",
                employee=None,
                unlocked_by=UnlockedBy.PROXIMITY,
            )
        else:
            gateway.record(EventType.LOCK, details={"reason": "proximity"})
        recorded += 1
        try:
            await asyncio.wait_for(stop.wait(), interval)
            return recorded
        except TimeoutError:
            continue
    return recorded  # pragma: no cover - the loop only ends by returning


async def simulate(
    *, server_url: str, directory: Path, count: int, interval: float, duration: float
) -> SimulationReport:
    gateways = [simulated_gateway(directory, f"sim-{i:04d}", server_url) for i in range(count)]
    stop = asyncio.Event()
    runs = [asyncio.create_task(g.run(stop)) for g in gateways]
    walks = [asyncio.create_task(_walk(g, interval, stop)) for g in gateways]
    await asyncio.sleep(duration)
    connected = sum(g.connected.is_set() for g in gateways)
    stop.set()
    recorded = sum(await asyncio.gather(*walks))
    await asyncio.gather(*runs)
    return SimulationReport(count, connected, recorded, sum(len(g.spool) for g in gateways))

"""The time from the phone's approval to the workstation's unlock (PC login by phone).

Everything real and in this one process: the Flask IdP (werkzeug, threaded) on the demo
set-up, a link server, a gateway with a recording actuator, and the reference authenticator.
Each round the gateway asks for a lock-screen QR; the clock starts when the app sends the
signed pc-login request (the moment the person approved) and stops when the actuator is
asked to unlock: device signature, QR redemption, the logon check, sealing the password,
the command over the short-lived store's channel and the link, opening it on the gateway.
The app's enrolment is written directly (it is not what is measured).

Run alone: .venv/bin/python bench/pc_login.py [config] [rounds]; bench/workstations.py runs it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from authenticator import Authenticator  # noqa: E402
from authenticator.pc import PcClient  # noqa: E402
from authenticator.state import Enrolment, State, StateDir  # noqa: E402
from device_gateway.actuator import RecordingActuator  # noqa: E402
from device_gateway.agent import Gateway, GatewayOptions  # noqa: E402
from device_gateway.identity import Identity  # noqa: E402
from device_gateway.spool import Spool  # noqa: E402
from flask_idp.app import create_app  # noqa: E402
from flask_idp.demo import prepare  # noqa: E402
from flask_idp.link_server import LinkServer  # noqa: E402
from idp.config.loader import load_config  # noqa: E402
from idp.directory.model import Employee  # noqa: E402
from idp.factors.authenticator.model import Device, DeviceStatus  # noqa: E402
from idp.runtime import Runtime, build_runtime  # noqa: E402
from idp.workstations.model import WorkstationInfo, WorkstationStatus  # noqa: E402
from idp.workstations.services import build_workstations  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _phone(rt: Runtime, base_url: str, directory: Path) -> PcClient:
    """An employee and their enrolled app, written straight into the stores."""
    username = f"bench{secrets.token_hex(3)}"
    employee = Employee(
        id=secrets.token_hex(8),
        username=username,
        email=f"{username}@x.example",
        first_name="Bench",
        last_name=username,
    )
    rt.employees.add(employee, now=rt.now())
    key = ec.generate_private_key(ec.SECP256R1())
    device_id = secrets.token_urlsafe(18)
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    rt.authenticator.devices.replace_for_employee(
        Device(
            device_id=device_id,
            employee_id=employee.id,
            public_key=public,
            display_name="bench",
            platform="other",
            status=DeviceStatus.ACTIVE,
            created_at=rt.now(),
        )
    )
    state = StateDir(directory)
    state.save_key(key)
    state.save(State(enrolment=Enrolment(base_url, device_id, username, "bench")))
    return PcClient(Authenticator(directory))


async def _rounds(rt: Runtime, base_url: str, tmp: Path, rounds: int) -> list[float]:
    parts = build_workstations(rt)
    link = LinkServer(parts.link, rt.ephemeral)
    port = _free_port()
    running = await link.start("127.0.0.1", port)
    actuator = RecordingActuator()
    gateway = Gateway(
        identity=Identity.load_or_create(tmp / "gw" / "identity"),
        spool=Spool(tmp / "gw" / "spool"),
        actuator=actuator,
        options=GatewayOptions(
            server_url=f"ws://127.0.0.1:{port}/",
            refused_retry=0.1,
            min_backoff=0.05,
            info=WorkstationInfo("bench-pc", "BENCH", "bench", "127.0.0.1", "bench"),
        ),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(gateway.run(stop))
    ws_id = gateway.identity.workstation_id
    while parts.registry.get(ws_id) is None:
        await asyncio.sleep(0.02)
    parts.registry.set_status(ws_id, WorkstationStatus.APPROVED, by="bench", now=rt.now())
    await asyncio.wait_for(gateway.connected.wait(), 10)
    pc = _phone(rt, base_url, tmp / "phone")
    times = []
    for _ in range(rounds):
        gateway.state.qr_payload = None
        await gateway.request_qr()
        while gateway.state.qr_payload is None:
            await asyncio.sleep(0.001)
        before = len(actuator.calls)
        started = time.perf_counter()
        await asyncio.to_thread(
            pc.login, gateway.state.qr_payload, account="BENCH\\b", password="bench-password"
        )
        while len(actuator.calls) == before:
            await asyncio.sleep(0.0005)
        times.append(time.perf_counter() - started)
    stop.set()
    await asyncio.wait_for(task, 10)
    await link.stop(running)
    return times


def approval_to_unlock(config: Path, rounds: int = 50) -> list[float]:
    """Seconds from the app's signed request to the actuator's unlock, per round."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    rt = build_runtime(load_config(config))
    base_url = rt.config.base_url.rstrip("/")
    port = int(base_url.rsplit(":", 1)[1])
    server = make_server("127.0.0.1", port, create_app(rt), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return asyncio.run(_rounds(rt, base_url, Path(tmp), rounds))
    finally:
        server.shutdown()
        thread.join(5)
        rt.close()


def describe(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return (
        f"median {statistics.median(ordered) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms "
        f"over {len(ordered)} logins"
    )


def main() -> None:
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    with tempfile.TemporaryDirectory() as tmp:
        config = (
            Path(sys.argv[1])
            if len(sys.argv) > 1 and sys.argv[1] != "-"
            else prepare(Path(tmp) / "demo", port=_free_port(), sp_port=_free_port())
        )
        times = approval_to_unlock(config, rounds)
        print(f"time from the phone's approval to the unlock: {describe(times)}")


if __name__ == "__main__":
    main()

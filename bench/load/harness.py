"""One assembled run: the deployment, N instances, the proxy in its own process in front of
them, and the virtual users enrolled through it. Used by ``run`` and by
tests/e2e/test_load_faults.py (there on the test suite's PostgreSQL and Redis)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.load.cluster import (
    ROOT,
    Instance,
    PrivatePostgres,
    PrivateRedis,
    free_port,
    instance_configs,
    stop_all,
    wait_until,
)
from bench.load.deploy import Deployment, configure, enrol_user, relying, seeded_runtime
from bench.load.signins import Relying, User
from idp.runtime import Runtime


@dataclass
class Harness:
    deployment: Deployment
    runtime: Runtime
    instances: list[Instance]
    proxy: subprocess.Popen[bytes]
    proxy_port: int
    users: list[User]
    rp: Relying
    redis: PrivateRedis | None = None
    postgres: PrivatePostgres | None = None

    def proxy_stats(self) -> dict[str, Any]:
        answer = httpx.get(f"http://127.0.0.1:{self.proxy_port}/__proxy/stats", timeout=10)
        stats: dict[str, Any] = answer.json()
        return stats

    def backend_stats(self, instance: Instance) -> dict[str, int]:
        name = f"127.0.0.1:{instance.port}"
        found: dict[str, int] = next(b for b in self.proxy_stats()["backends"] if b["name"] == name)
        return found

    def proxy_sees_ready(self, instance: Instance) -> bool:
        return bool(self.backend_stats(instance)["ready"])

    def all_ready(self) -> bool:
        running = [i for i in self.instances if i.process is not None]
        return all(i.ready() and self.proxy_sees_ready(i) for i in running)


def pin(pid: int, cpus: set[int]) -> None:
    """Every thread of process ``pid`` onto ``cpus`` (sched_setaffinity is per thread)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), cpus)


def start_proxy(port: int, backends_at: list[int], cpus: set[int]) -> subprocess.Popen[bytes]:
    backends = [arg for p in backends_at for arg in ("--backend", f"127.0.0.1:{p}")]
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.load.proxy", "--listen", str(port), *backends,
         "--cpus", ",".join(map(str, sorted(cpus)))],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )  # fmt: skip

    def answers() -> bool:
        try:
            httpx.get(f"http://127.0.0.1:{port}/__proxy/stats", timeout=1)
        except httpx.HTTPError:
            return False
        return True

    wait_until(answers, seconds=30, what="the proxy listening")
    return process


@contextlib.contextmanager
def harness(
    work: Path,
    *,
    database_url: str,
    store_url: str,
    instance_cpus: list[set[int]],
    proxy_cpus: set[int],
    users: int,
    start: int | None = None,
    saml_requests: int = 0,
    unready_delay: float = 1.0,
) -> Iterator[Harness]:
    """Configure, seed, start ``start`` (default: all) of the instances and the proxy, enrol
    ``users`` virtual users; everything is stopped afterwards. The instances answer ``/readyz``
    ``draining`` for ``unready_delay`` seconds after SIGTERM (the proxy polls every 0.1 s)."""
    public_port = free_port()
    deployment = configure(work, public_port=public_port, database_url=database_url,
                           store_url=store_url)  # fmt: skip
    names = [f"u{index:03d}" for index in range(users)]
    runtime = seeded_runtime(deployment, names)
    ports = [free_port() for _ in instance_cpus]
    instances = [Instance(config, port, cpus, work / f"instance-{i}.log", unready_delay)
                 for i, (config, port, cpus) in
                 enumerate(zip(instance_configs(deployment.config, ports), ports, instance_cpus,
                               strict=True))]  # fmt: skip
    proxy = None
    try:
        for instance in instances[:start]:
            instance.start()
        proxy = start_proxy(public_port, ports, proxy_cpus)
        for instance in instances[:start]:
            instance.wait_ready()
        wait_until(lambda: all(_sees(public_port, i) for i in instances[:start]), seconds=10,
                   what="the proxy seeing the instances ready")  # fmt: skip
        phones = work / "phones"
        people = [enrol_user(deployment, runtime, name, phones) for name in names]
        rp = relying(deployment, saml_requests=saml_requests)
        yield Harness(deployment, runtime, instances, proxy, public_port, people, rp)
    finally:
        stop_all(instances)
        if proxy is not None:
            proxy.terminate()
            proxy.wait()
        runtime.close()


def _sees(proxy_port: int, instance: Instance) -> bool:
    stats = httpx.get(f"http://127.0.0.1:{proxy_port}/__proxy/stats", timeout=5).json()
    name = f"127.0.0.1:{instance.port}"
    return any(b["name"] == name and b["ready"] for b in stats["backends"])


async def close_browsers(users: list[User]) -> None:
    for user in users:
        await user.browser.aclose()

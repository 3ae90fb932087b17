"""Throwaway Redis deployments of our own, on free loopback ports: a three-master Redis
Cluster, and a master + replica watched by one Sentinel — real redis-server processes, so the
store's Sentinel and Cluster URLs are tested against what operators run."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis

REDIS_SERVER = "redis-server"


def free_port() -> int:
    # Cluster nodes also listen on port + 10000 (the cluster bus).
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port < 55000:
            return port


def _start(directory: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(directory), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def _wait_ping(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            redis.Redis(port=port, socket_connect_timeout=0.5).ping()
            return
        except redis.RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        if process.poll() is None:
            process.kill()


@contextlib.contextmanager
def redis_cluster(directory: Path, *, masters: int = 3) -> Iterator[list[int]]:
    ports = [free_port() for _ in range(masters)]
    processes = []
    try:
        for port in ports:
            node_dir = directory / str(port)
            node_dir.mkdir(parents=True)
            processes.append(_start(node_dir, port, "--cluster-enabled", "yes",
                                    "--cluster-config-file", "nodes.conf"))  # fmt: skip
        for port in ports:
            _wait_ping(port)
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{p}" for p in ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while not all(redis.Redis(port=p).execute_command("CLUSTER INFO")["cluster_state"] == "ok"
                      for p in ports):  # fmt: skip
            assert time.monotonic() < deadline, "the cluster did not become ok"
            time.sleep(0.1)
        yield ports
    finally:
        _stop(processes)


@dataclass
class SentinelSet:
    master_port: int
    replica_port: int
    sentinel_port: int
    service: str = "hideez"
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"redis+sentinel://127.0.0.1:{self.sentinel_port}/{self.service}"

    def kill_master(self) -> None:
        self.processes["master"].kill()
        self.processes["master"].wait(timeout=10)

    def master_now(self) -> int:
        _host, port = redis.Redis(port=self.sentinel_port).execute_command(
            "SENTINEL", "get-master-addr-by-name", self.service
        )
        return int(port)


@contextlib.contextmanager
def redis_sentinel(directory: Path) -> Iterator[SentinelSet]:
    found = SentinelSet(free_port(), free_port(), free_port())
    try:
        found.processes["master"] = _start(directory, found.master_port)
        _wait_ping(found.master_port)
        found.processes["replica"] = _start(
            directory, found.replica_port, "--replicaof", "127.0.0.1", str(found.master_port)
        )
        _wait_ping(found.replica_port)
        conf = directory / "sentinel.conf"
        conf.write_text(
            f"port {found.sentinel_port}\nbind 127.0.0.1\ndir {directory}\n"
            f"sentinel monitor {found.service} 127.0.0.1 {found.master_port} 1\n"
            f"sentinel down-after-milliseconds {found.service} 500\n"
            f"sentinel failover-timeout {found.service} 3000\n"
        )
        found.processes["sentinel"] = subprocess.Popen(
            [REDIS_SERVER, str(conf), "--sentinel"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        _wait_ping(found.sentinel_port)
        deadline = time.monotonic() + 20
        while (
            redis.Redis(port=found.replica_port).info("replication").get("master_link_status")
            != "up"
        ):
            assert time.monotonic() < deadline, "the replica did not attach"
            time.sleep(0.1)
        yield found
    finally:
        _stop(list(found.processes.values()))

"""A cluster the harness can break: N ``hideez-idp serve`` processes on one configuration,
each on its own port and pinned to its CPUs, on a *private* Redis and PostgreSQL (started on
free ports in a temporary directory, never the shared 6379/5432), so that scenarios may kill,
stop and restart any of them.

Redis saves its data when stopped (``--save``), so a restart keeps sessions; PostgreSQL runs
with ``fsync=off`` (a benchmark database on a shared machine, nothing to keep).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
#: initdb and postgres refuse to run as root; they then run as this user
PG_USER = "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {seconds:g} s")
        time.sleep(0.05)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class PrivateRedis:
    """redis-server on a free port; ``stop`` saves its data, which ``start`` loads again."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory), "--save", "3600 1", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: _answers(self.port), seconds=20, what="redis-server listening")

    def stop(self) -> None:
        _stop(self.process)


def _as_postgres() -> Callable[[], None] | None:
    if os.geteuid() != 0:
        return None
    user = pwd.getpwnam(PG_USER)

    def drop() -> None:
        os.setgid(user.pw_gid)
        os.setuid(user.pw_uid)

    return drop


@dataclass
class PrivatePostgres:
    """initdb into ``directory`` and run postgres on a free port (as ``postgres`` under root)."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        if not PG_BIN:
            raise RuntimeError("no PostgreSQL server programs under /usr/lib/postgresql/*/bin")
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            user = pwd.getpwnam(PG_USER)
            os.chown(self.directory, user.pw_uid, user.pw_gid)
        done = subprocess.run(
            [str(PG_BIN[-1] / "initdb"), "-D", str(self.directory / "data"), "-U", "postgres",
             "-A", "trust", "--no-sync", "-E", "UTF8"],
            capture_output=True, preexec_fn=_as_postgres(), timeout=120,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.decode(errors='replace')[-400:]}")

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(PG_BIN[-1] / "postgres"), "-D", str(self.directory / "data"),
             "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
             "-c", f"unix_socket_directories={self.directory}", "-c", "fsync=off",
             "-c", "full_page_writes=off", "-c", "max_connections=200"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_as_postgres(),
        )  # fmt: skip
        wait_until(lambda: _answers(self.port), seconds=30, what="postgres listening")

    def stop(self) -> None:
        _stop(self.process, signal.SIGINT)  # "fast" shutdown: sessions are disconnected


@dataclass
class Instance:
    """One ``hideez-idp serve`` process on ``config``, pinned to ``cpus``."""

    config: Path
    port: int
    cpus: set[int]
    log: Path
    unready_delay: float = 1.0
    grace: float = 20.0
    threads: int = 8
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cpus = self.cpus
        command = [sys.executable, "-m", "flask_idp.cli", "serve", "--config", str(self.config),
                   "--threads", str(self.threads), "--grace", str(self.grace),
                   "--unready-delay", str(self.unready_delay)]  # fmt: skip
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                preexec_fn=lambda: os.sched_setaffinity(0, cpus),
            )  # fmt: skip

    def ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    def wait_ready(self, seconds: float = 120) -> None:
        wait_until(self.ready, seconds=seconds, what=f"instance on port {self.port} ready")

    def replace(self) -> subprocess.Popen[bytes]:
        """A rolling restart's step: SIGTERM, and start the new process as soon as the old one
        has closed its listening socket (while it drains); the old process, still exiting."""
        old = self.process
        assert old is not None
        old.terminate()
        wait_until(
            lambda: not _answers(self.port) or old.poll() is not None,
            seconds=self.unready_delay + 30,
            what="the old instance closing its socket",
        )
        self.start()
        return old

    def stop(self) -> None:
        """SIGTERM, and wait until the drain is over."""
        _stop(self.process)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return process_cpu_seconds(self.process.pid)


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat's fields after the command name (the first is the state)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a live process, its live children (PostgreSQL's backends) and the children
    it has reaped."""
    fields = _stat(pid)
    total = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(_stat(int(entry.name))[1]) == pid:
                    total += process_cpu_seconds(int(entry.name))
    return total


def stop_all(instances: list[Instance]) -> None:
    """SIGTERM every running instance at once, then wait for each to finish its drain."""
    running = [i.process for i in instances if i.process is not None and i.process.poll() is None]
    for process in running:
        process.terminate()
    for process in running:
        _stop(process)


def instance_configs(config: Path, ports: list[int]) -> list[Path]:
    """One copy of ``config`` per port, beside it (relative paths keep working), differing
    only in ``listen.port``."""
    text = config.read_text()
    marker = "listen: {host: 127.0.0.1, port: "
    assert marker in text, f"{config} has no {marker!r} line"
    start = text.index(marker) + len(marker)
    end = text.index("}", start)
    out = []
    for index, port in enumerate(ports):
        path = config.with_name(f"instance-{index}.yaml")
        path.write_text(text[:start] + str(port) + text[end:])
        out.append(path)
    return out


@contextlib.contextmanager
def private_stores(directory: Path) -> Iterator[tuple[PrivateRedis, PrivatePostgres]]:
    """A private Redis and PostgreSQL under ``directory``, removed afterwards."""
    redis_server = PrivateRedis(directory / "redis")
    # its own top directory: postgres (the user) must reach it, and mkdtemp's are 0700
    postgres = PrivatePostgres(Path(tempfile.mkdtemp(prefix="load-pg-")))
    try:
        redis_server.start()
        postgres.init()
        postgres.start()
        yield redis_server, postgres
    finally:
        redis_server.stop()
        postgres.stop()
        shutil.rmtree(directory, ignore_errors=True)
        shutil.rmtree(postgres.directory, ignore_errors=True)

"""A real IdP server (and the demo SP) on loopback for end-to-end tests.

Every server runs on one of two storage set-ups (``STORAGES``): SQLite with the in-process
short-lived store, or PostgreSQL with Redis (the real servers of ``tests/conftest.py``; each
IdP gets its own throwaway database and its own Redis namespace, removed when it stops).
``MARIADB_REDIS`` (MariaDB with Redis) is there for the tests that ask for it by name.
"""

from __future__ import annotations

import dataclasses
import secrets
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from werkzeug.serving import BaseWSGIServer, make_server

from flask_idp.app import create_app
from flask_idp.commands import enrolment_link
from flask_idp.demo import prepare, seed
from idp.config.loader import load_config
from idp.directory.model import Employee
from idp.runtime import Runtime, build_runtime
from idp.session_records import RecordVersion
from tests.conftest import (
    REDIS_URL,
    throwaway_mariadb_database,
    throwaway_pg_database,
    unavailable,
)

#: The demo's policy asks for user verification (and claims REFEDS MFA); soft-webauthn never
#: sets UV, so servers for its flows drop both (``uv_required=False``).
WITHOUT_UV = {
    "    user_verification: true\n"
    "    authn_context_class_ref: https://refeds.org/profile/mfa\n"
    "    acr: https://refeds.org/profile/mfa\n": "    user_verification: false\n",
    "webauthn:\n": "webauthn:\n  user_verification: preferred\n",
}

SQLITE_MEMORY = "sqlite+memory"
POSTGRES_REDIS = "postgresql+redis"
STORAGES = (SQLITE_MEMORY, POSTGRES_REDIS)
MARIADB_REDIS = "mariadb+redis"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RunningServer:
    base_url: str
    port: int
    directory: Path
    config_path: Path
    runtime: Runtime
    sp_port: int
    sp_url: str
    uv_required: bool = True

    def url(self, path: str) -> str:
        return self.base_url + path

    def employee(self, username: str) -> Employee:
        employee = self.runtime.employees.get_by_username(username)
        assert employee is not None, username
        return employee

    def enrolment_link(self, username: str) -> str:
        return enrolment_link(self.runtime, username)


@contextmanager
def throwaway_redis_namespace(prefix: str = "idp-e2e") -> Iterator[str]:
    """A Redis URL with a random key prefix; every key under it is deleted afterwards."""
    namespace = f"{prefix}-{secrets.token_hex(4)}:"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable("Redis", exc)
    try:
        yield f"{REDIS_URL}?prefix={namespace}"
    finally:
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@contextmanager
def storage_urls(storage: str) -> Iterator[tuple[str | None, str | None]]:
    """(database URL, short-lived store URL) for ``storage``; ``None`` keeps the demo's own
    SQLite file and ``memory://``."""
    assert storage in (*STORAGES, MARIADB_REDIS), storage
    if storage == SQLITE_MEMORY:
        yield None, None
        return
    throwaway = throwaway_mariadb_database if storage == MARIADB_REDIS else throwaway_pg_database
    with throwaway("idp_e2e") as database_url, throwaway_redis_namespace() as url:
        yield database_url, url


class _Thread(threading.Thread):
    def __init__(self, server: BaseWSGIServer) -> None:
        super().__init__(daemon=True)
        self.server = server

    def run(self) -> None:
        self.server.serve_forever(poll_interval=0.05)


@contextmanager
def run_idp(
    directory: Path,
    *,
    storage: str = SQLITE_MEMORY,
    uv_required: bool = True,
    extra_config: str = "",
    database_url: str | None = None,
    ephemeral_url: str | None = None,
    with_sp: bool = True,
    replace: dict[str, str] | None = None,
) -> Iterator[RunningServer]:
    """Prepare a demo-like directory, start the IdP (and the python3-saml demo SP) in threads.

    ``storage`` picks the set-up; an explicit ``database_url`` / ``ephemeral_url`` wins.
    ``uv_required=False`` applies ``WITHOUT_UV`` (for soft-webauthn)."""
    if not uv_required:
        replace = {**WITHOUT_UV, **(replace or {})}
    with (
        storage_urls(storage) as (default_db, default_ephemeral),
        _serve(
            directory,
            extra_config=extra_config,
            database_url=database_url or default_db,
            ephemeral_url=ephemeral_url or default_ephemeral,
            with_sp=with_sp,
            replace=replace,
        ) as server,
    ):
        server.uv_required = uv_required
        yield server


@contextmanager
def _serve(
    directory: Path,
    *,
    extra_config: str,
    database_url: str | None,
    ephemeral_url: str | None,
    with_sp: bool,
    replace: dict[str, str] | None,
) -> Iterator[RunningServer]:
    port, sp_port = free_port(), free_port()
    config_path = prepare(directory, port=port, sp_port=sp_port)
    text = config_path.read_text()
    if database_url:
        text = text.replace(f"sqlite:///{directory.resolve()}/idp.sqlite3", database_url)
    if ephemeral_url:
        text = text.replace("ephemeral_url: memory://", f"ephemeral_url: '{ephemeral_url}'")
    for old, new in (replace or {}).items():
        assert old in text, f"{old!r} is not in the generated config"
        text = text.replace(old, new)
    config_path.write_text(text + extra_config)
    runtime = build_runtime(load_config(config_path))
    try:
        seed(runtime)
    except BaseException:
        runtime.close()
        raise
    servers = [make_server("127.0.0.1", port, create_app(runtime), threaded=True)]
    if with_sp:
        from demo_sp.app import create_app as create_sp

        servers.append(
            make_server("127.0.0.1", sp_port, create_sp(directory.resolve() / "sp"), threaded=True)
        )
    threads = [_Thread(s) for s in servers]
    for t in threads:
        t.start()
    try:
        yield RunningServer(
            base_url=f"http://localhost:{port}",
            port=port,
            directory=directory,
            config_path=config_path,
            runtime=runtime,
            sp_port=sp_port,
            sp_url=f"http://localhost:{sp_port}",
        )
    finally:
        for s in servers:
            s.shutdown()
        for t in threads:
            t.join(timeout=5)
        runtime.close()


@contextmanager
def second_instance(
    server: RunningServer, *, record_version: RecordVersion | None = None
) -> Iterator[int]:
    """Another IdP process-equivalent on the same config (same base URL, database and
    short-lived store), listening on its own port: what a load balancer would send to.
    ``record_version`` overrides ``session.record_version`` (an instance mid-upgrade)."""
    config = load_config(server.config_path)
    if record_version is not None:
        session = dataclasses.replace(config.session, record_version=record_version)
        config = dataclasses.replace(config, session=session)
    runtime = build_runtime(config)
    port = free_port()
    wsgi = make_server("127.0.0.1", port, create_app(runtime), threaded=True)
    thread = _Thread(wsgi)
    thread.start()
    try:
        yield port
    finally:
        wsgi.shutdown()
        thread.join(timeout=5)
        runtime.close()

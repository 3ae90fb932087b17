"""Shared fixtures: the relational database (SQLite and PostgreSQL) and the short-lived store
(memory and Redis), each parametrized so one test runs against both.

PostgreSQL (127.0.0.1:5432, user postgres) and Redis (127.0.0.1:6379) are real servers. When
one cannot be reached the tests that need it are skipped with the reason, unless ``CI`` is
set: in CI a missing server is a failure.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

import pytest
import redis
from sqlalchemy import text

from idp.keys import SigningKey, generate_self_signed
from idp.store.ephemeral import EphemeralStore, MemoryStore, RedisStore
from idp.store.sql import Database, migrate, open_database
from tests.samba_dc import SambaDC, SambaUnavailable, golden_copy, running_dc

PG_ADMIN_DSN = os.environ.get(
    "TEST_PG_ADMIN_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
PG_URL_TEMPLATE = os.environ.get(
    "TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

_TABLES = (
    "employee_groups, passkey_credentials, enrolment_links, employee_passwords, employees, "
    "departments, companies, positions, groups, audit_events, secret_keys"
    ", workstations, workstation_events, workstation_sessions"
    ", workstation_key_proximity, rfid_tags"
)


def unavailable(what: str, exc: BaseException) -> NoReturn:
    """Skip outside CI, fail in CI: a CI run must not pass by skipping its real servers."""
    reason = f"{what} is not reachable ({exc.__class__.__name__}: {exc})"
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI is set, so this is a failure")
    pytest.skip(reason)


# -- relational database ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (cheaper than migrating every time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    db = open_database(f"sqlite:///{path}")
    migrate(db.engine)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    return path


@pytest.fixture
def sqlite_db(_sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "idp.db"
    shutil.copyfile(_sqlite_template, path)
    db = open_database(f"sqlite:///{path}")
    yield db
    db.dispose()


@contextmanager
def throwaway_pg_database(prefix: str = "idp_test") -> Iterator[str]:
    """Create an empty PostgreSQL database; yield its URL; drop it (even if still in use)."""
    import psycopg

    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        unavailable("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_URL_TEMPLATE.format(database=name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A throwaway database for this test session, dropped at the end."""
    with throwaway_pg_database() as url:
        yield url


@pytest.fixture(scope="session")
def _pg_database(pg_url: str) -> Iterator[Database]:
    db = open_database(pg_url)
    migrate(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def pg_db(_pg_database: Database) -> Database:
    """The session's PostgreSQL database, emptied before each test."""
    with _pg_database.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {_TABLES} CASCADE"))
        conn.execute(
            text("UPDATE audit_chain_head SET last_seq = 0, last_hash = :h"), {"h": "0" * 64}
        )
        conn.execute(text("UPDATE workstation_alarm SET active = false"))
    return _pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Database:
    name = "sqlite_db" if request.param == "sqlite" else "pg_db"
    database: Database = request.getfixturevalue(name)
    return database


# -- short-lived store ------------------------------------------------------------------------


class FakeClock:
    """Seconds for :class:`MemoryStore`, moved by hand."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def memory_store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


@pytest.fixture(scope="session")
def _redis_prefix() -> Iterator[str]:
    """A random namespace for this run; every key under it is deleted at the end."""
    prefix = f"idp-test-{secrets.token_hex(4)}:"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        unavailable("Redis", exc)
    yield prefix
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def redis_store(_redis_prefix: str) -> Iterator[RedisStore]:
    # A sub-namespace per test keeps tests independent without flushing anything.
    store = RedisStore.from_url(REDIS_URL, prefix=f"{_redis_prefix}{secrets.token_hex(4)}:")
    yield store
    store.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def ephemeral(request: pytest.FixtureRequest) -> EphemeralStore:
    name = "memory_store" if request.param == "memory" else "redis_store"
    store: EphemeralStore = request.getfixturevalue(name)
    return store


# -- signing keys -----------------------------------------------------------------------------


class KeyMaker:
    """Keys and self-signed certificates made once per test session, by name, in one folder
    (``<name>.key`` / ``<name>.crt``); RSA generation is slow enough to share."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._made: dict[str, SigningKey] = {}

    def __call__(self, name: str, *, kind: str = "rsa") -> SigningKey:
        if name not in self._made:
            self._made[name] = generate_self_signed(
                self.directory / f"{name}.key",
                self.directory / f"{name}.crt",
                common_name=name,
                kind=kind,
            )
        return self._made[name]


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="session")
def test_keys(key_dir: Path) -> KeyMaker:
    return KeyMaker(key_dir)


# -- Samba AD DC ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def samba(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SambaDC]:
    """One real Samba AD DC for the session, on a copy of the cached golden domain."""
    try:
        golden = golden_copy()
        with running_dc(tmp_path_factory.mktemp("samba"), golden=golden) as dc:
            yield dc
    except SambaUnavailable as exc:
        unavailable("the Samba AD DC", exc)

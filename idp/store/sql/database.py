"""Opening the relational database and running its migrations.

``open_database(url)`` gives a :class:`Database` (engine + transactions). SQLite (the embedded
default) runs with foreign keys on, WAL and a busy timeout, and write transactions start with
``BEGIN IMMEDIATE`` so that two writers queue instead of failing half-way. ``migrate(engine)``
brings the schema to the newest Alembic revision shipped in ``migrations/``; it is idempotent
and the application calls it at start.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from idp.store.errors import InvalidStoreUrl, StoreUnavailable

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
#: seconds to wait for PostgreSQL to accept a connection
CONNECT_TIMEOUT = 5
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Any constant distinguishes our migration lock from other advisory locks in the database.
_PG_MIGRATION_LOCK = 0x48494445


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        write = connection.get_execution_options().get("idp_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Database:
    """An engine and the transactions repositories run in (one per repository method)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, *, write: bool = False) -> Iterator[Session]:
        """A session in one transaction, committed on success and rolled back on error.

        ``write=True`` takes SQLite's write lock at the start (``BEGIN IMMEDIATE``); on
        PostgreSQL the repositories lock the rows they need.
        """
        with (
            self.connection(write=write) as connection,
            Session(bind=connection, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def connection(self, *, write: bool = False) -> Iterator[Connection]:
        """A Core connection in one transaction (no ORM unit of work), committed on success:
        for the hottest writes, such as the audit appends of every sign-in."""
        try:
            with self.engine.connect() as connection:
                connection.execution_options(idp_write=write)
                with connection.begin():
                    yield connection
        except OperationalError as exc:
            # The driver's text names hosts, ports and SQL: it goes to the log, not the client.
            log.error("database unavailable: %s", exc.orig)
            raise StoreUnavailable(
                f"the database is unavailable ({type(exc.orig).__name__}); try again shortly"
            ) from exc

    def ping(self) -> None:
        with self.transaction() as session:
            session.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(url: str, *, echo: bool = False) -> Database:
    """Open ``sqlite:///path``, ``sqlite://`` (in memory) or ``postgresql+psycopg://…``."""
    if url.startswith("sqlite"):
        in_memory = url in ("sqlite://", "sqlite:///:memory:")
        kwargs: dict[str, Any] = {"echo": echo}
        if in_memory:
            # One shared connection, or every checkout would see a new empty database.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif url.startswith("sqlite:///"):
            # SQLite creates the file but not its directory (var/ on a fresh checkout). If that
            # fails, opening the database reports it.
            directory = Path(url[len("sqlite:///") :].split("?", 1)[0]).parent
            with contextlib.suppress(OSError):
                directory.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine, in_memory=in_memory)
        return Database(engine)
    if url.startswith("postgresql"):
        if url.startswith(("postgresql://", "postgresql+psycopg://")):
            url = url.replace("postgresql://", "postgresql+psycopg://", 1)
        else:
            raise InvalidStoreUrl(f"use the psycopg driver (postgresql+psycopg://), got {url!r}")
        # A server that accepts but never answers must not hold a request (or the readiness
        # check) forever; a URL's own connect_timeout wins.
        connect_args = {} if "connect_timeout=" in url else {"connect_timeout": CONNECT_TIMEOUT}
        engine = create_engine(url, echo=echo, pool_pre_ping=True, connect_args=connect_args)
        return Database(engine)
    raise InvalidStoreUrl(
        f"unsupported database URL {url.split(':', 1)[0]!r}: expected sqlite:// or postgresql://"
    )


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate(engine: Engine, *, revision: str = "head") -> None:
    """Upgrade the schema to ``revision``; running it again changes nothing."""
    config = alembic_config()
    try:
        connection_context = engine.connect()
    except OperationalError as exc:
        log.error("database unavailable: %s", exc.orig)
        raise StoreUnavailable(
            f"cannot open the database ({type(exc.orig).__name__}): check database_url, that "
            "the server is up and that the directory of a SQLite file exists"
        ) from exc
    with connection_context as connection:
        if engine.dialect.name == "postgresql":
            # Two instances starting together must not both create the tables.
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            connection.commit()
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
        finally:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                connection.commit()

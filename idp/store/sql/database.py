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
# GET_LOCK names are server-wide (at most 64 characters): the digest of the database's name
# keeps two IdPs on one server apart.
_MYSQL_MIGRATION_LOCK = "CONCAT('hideez-idp-migrate:', MD5(DATABASE()))"
MYSQL_MIGRATION_LOCK_WAIT = 300


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
    """Open ``sqlite:///path``, ``sqlite://`` (in memory), ``postgresql+psycopg://…`` or
    ``mysql+pymysql://…`` (MariaDB or MySQL)."""
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
    if url.startswith(("mysql", "mariadb")):
        return Database(_mysql_engine(url, echo=echo))
    raise InvalidStoreUrl(
        f"unsupported database URL {url.split(':', 1)[0]!r}: expected sqlite://, postgresql:// "
        "or mysql://"
    )


def _mysql_engine(url: str, *, echo: bool) -> Engine:
    """MariaDB or MySQL through PyMySQL (pure Python); ``mysql://`` and ``mariadb://`` mean
    the same. The ``mysql`` dialect serves both servers, where ``mariadb`` would refuse MySQL."""
    scheme, rest = url.split("://", 1)
    if scheme not in ("mysql", "mariadb", "mysql+pymysql", "mariadb+pymysql"):
        raise InvalidStoreUrl(f"use the PyMySQL driver (mysql+pymysql://), got {scheme!r}://")
    url = f"mysql+pymysql://{rest}"
    connect_args: dict[str, Any] = {"charset": "utf8mb4"}
    if "connect_timeout=" not in url:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    # The server drops idle connections after wait_timeout (8 h by default): recycle before,
    # and ping on checkout so a restarted server costs no request. Every read sees the latest
    # committed data (READ COMMITTED, like PostgreSQL), not the snapshot of its first read.
    return create_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_recycle=3600,
        isolation_level="READ COMMITTED",
        connect_args=connect_args,
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
    with connection_context as connection, _migration_lock(connection):
        if engine.dialect.name == "mysql":
            _binary_collation(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """Two instances starting together must not both create the tables (SQLite: its write
    lock already serialises them)."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
    elif dialect == "mysql":
        got = connection.execute(
            text(f"SELECT GET_LOCK({_MYSQL_MIGRATION_LOCK}, :wait)"),
            {"wait": MYSQL_MIGRATION_LOCK_WAIT},
        ).scalar()
        if got != 1:
            raise StoreUnavailable(
                "another instance has been migrating the database for over "
                f"{MYSQL_MIGRATION_LOCK_WAIT} s; try again when it has finished"
            )
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()  # a failed upgrade's transaction, or the unlock would fail too
        if dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
        elif dialect == "mysql":
            connection.execute(text(f"SELECT RELEASE_LOCK({_MYSQL_MIGRATION_LOCK})"))
        connection.commit()


def _binary_collation(connection: Connection) -> None:
    """Make the tables the migrations create compare text byte for byte, as SQLite and
    PostgreSQL do: MySQL's default collations ignore case (and MariaDB's trailing spaces), so
    ``Alice`` and ``alice`` would be one credential id, token hash or group name. Case-
    insensitive look-ups use the explicit lower-cased columns on all three databases."""
    mariadb = getattr(connection.dialect, "is_mariadb", False)
    collation = "utf8mb4_nopad_bin" if mariadb else "utf8mb4_0900_bin"
    current = connection.exec_driver_sql(
        "SELECT default_collation_name FROM information_schema.schemata "
        "WHERE schema_name = DATABASE()"
    ).scalar()
    if current != collation:  # only once: a user without ALTER can run a migrated database
        connection.exec_driver_sql(f"ALTER DATABASE CHARACTER SET utf8mb4 COLLATE {collation}")
    connection.commit()

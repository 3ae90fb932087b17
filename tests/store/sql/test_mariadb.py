"""What MariaDB does differently, held to what SQLite and PostgreSQL do: URL forms, microsecond
UTC times, byte-exact text comparison and uniqueness, the migration lock."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from idp.config.loader import load_config
from idp.config.reader import ConfigError
from idp.errors import Conflict
from idp.store.errors import InvalidStoreUrl, StoreUnavailable
from idp.store.sql import Database, EmployeeRepository, OrganisationRepository, migrate
from idp.store.sql.database import open_database
from idp.store.sql.models import EnrolmentLinkRow
from tests.conftest import throwaway_mariadb_database
from tests.store.sql.helpers import NOW, employee


@pytest.mark.parametrize(
    "url", ["mysql://root@127.0.0.1/x", "mariadb://root@127.0.0.1/x", "mysql+pymysql://h/x"]
)
def test_mysql_and_mariadb_urls_mean_pymysql(url: str) -> None:
    db = open_database(url)
    assert db.engine.url.drivername == "mysql+pymysql"
    assert db.dialect == "mysql"
    db.dispose()


@pytest.mark.parametrize("url", ["mysql+mysqldb://h/x", "mariadb+mariadbconnector://h/x"])
def test_other_mysql_drivers_are_refused(url: str) -> None:
    with pytest.raises(InvalidStoreUrl, match="PyMySQL"):
        open_database(url)


def test_unreachable_mariadb_is_store_unavailable_without_driver_text() -> None:
    db = open_database("mysql://root@127.0.0.1:1/nowhere?connect_timeout=1")
    try:
        with pytest.raises(StoreUnavailable) as err:
            db.ping()
    finally:
        db.dispose()
    assert err.value.status == 503 and "127.0.0.1" not in err.value.description


def test_config_takes_a_mysql_url_and_refuses_a_literal_password(tmp_path: Path) -> None:
    from tests.idp.config.test_loader import BASE, ENV, write

    ok = BASE.replace("sqlite:///idp.sqlite3", "mysql+pymysql://idp@db.example.com/idp")
    assert load_config(write(tmp_path, ok), env=ENV).database_url.startswith("mysql+pymysql://")
    bad = BASE.replace("sqlite:///idp.sqlite3", "mariadb://idp:secret@db/idp")
    with pytest.raises(ConfigError, match="password must come from"):
        load_config(write(tmp_path, bad), env=ENV)
    secret = BASE.replace("sqlite:///idp.sqlite3", "{env: DB_URL}")
    config = load_config(write(tmp_path, secret), env={**ENV, "DB_URL": "mysql://i:s@db/idp"})
    assert config.database_url == "mysql://i:s@db/idp"


@pytest.mark.mariadb
def test_times_keep_microseconds_and_come_back_aware_utc(mariadb_db: Database) -> None:
    EmployeeRepository(mariadb_db).add(employee(1), now=NOW)
    zone = dt.timezone(dt.timedelta(hours=5, minutes=30))
    created = EmployeeRepository(mariadb_db).get("emp-1")
    assert created is not None and created.created_at == NOW
    assert created.created_at.tzinfo is dt.UTC and created.created_at.microsecond == 123456
    with mariadb_db.transaction(write=True) as s:
        s.add(
            EnrolmentLinkRow(
                token_hash="t" * 64,
                employee_id="emp-1",
                created_by="cli",
                created_at=NOW.astimezone(zone),
                expires_at=NOW + dt.timedelta(microseconds=1),
            )
        )
    with mariadb_db.transaction() as s:
        row = s.execute(select(EnrolmentLinkRow)).scalar_one()
        later = s.scalar(
            select(EnrolmentLinkRow.token_hash).where(EnrolmentLinkRow.expires_at > NOW)
        )
    assert row.created_at == NOW and row.created_at.utcoffset() == dt.timedelta(0)
    assert later == "t" * 64  # one microsecond later is later, as stored


@pytest.mark.mariadb
def test_text_compares_byte_for_byte_like_the_other_databases(mariadb_db: Database) -> None:
    from idp.directory.model import Group

    org = OrganisationRepository(mariadb_db)
    org.add_group(Group(id="g1", name="Admins"))
    org.add_group(Group(id="g2", name="admins"))  # case differs: two groups, as on PostgreSQL
    org.add_group(Group(id="g3", name="admins "))  # so does a trailing space (NO PAD)
    with pytest.raises(Conflict):
        org.add_group(Group(id="g4", name="Admins"))
    with mariadb_db.engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM `groups` WHERE name = 'ADMINS'")).all()
    assert found == []


@pytest.mark.mariadb
def test_usernames_stay_unique_regardless_of_case(mariadb_db: Database) -> None:
    repo = EmployeeRepository(mariadb_db)
    repo.add(employee(1, username="Alice", email="alice@example.com"), now=NOW)
    with pytest.raises(Conflict):
        repo.add(employee(2, username="ALICE", email="other@example.com"), now=NOW)
    found = repo.get_by_username("aLiCe")
    assert found is not None and found.username == "Alice"


@pytest.mark.mariadb
def test_tables_are_utf8mb4_binary_and_credential_ids_ascii(mariadb_db: Database) -> None:
    with mariadb_db.engine.connect() as conn:
        collations = set(
            conn.execute(
                text(
                    "SELECT table_collation FROM information_schema.tables "
                    "WHERE table_schema = DATABASE() AND table_name <> 'alembic_version'"
                )
            ).scalars()
        )
        credential = conn.execute(
            text(
                "SELECT character_set_name, collation_name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = 'passkey_credentials' "
                "AND column_name = 'credential_id'"
            )
        ).one()
    assert collations == {"utf8mb4_nopad_bin"}
    assert tuple(credential) == ("ascii", "ascii_bin")


@pytest.mark.mariadb
def test_concurrent_migrations_of_a_new_database_serialise_on_get_lock() -> None:
    with throwaway_mariadb_database("idp_lock") as url:
        databases = [open_database(url) for _ in range(3)]
        errors: list[BaseException] = []

        def run(db: Database) -> None:
            try:
                migrate(db.engine)
            except BaseException as exc:  # reported below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(db,)) for db in databases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert "employees" in inspect(databases[0].engine).get_table_names()
        with databases[0].engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM audit_chain_head")).scalar() == 1
        for db in databases:
            db.dispose()

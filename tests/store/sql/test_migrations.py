"""The shipped Alembic migrations produce exactly the models' schema, on both engines."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

import idp.store.sql.protocol_tables  # noqa: F401 - the whole schema, protocols' tables too
from idp.admin.access import Role
from idp.admin.credential_store import AdminCredentialRepository
from idp.admin.records import AdminUser
from idp.admin.signin import matching_record, new_recovery_codes, recovery_digest
from idp.store.sql import Database, migrate
from idp.store.sql.database import alembic_config, open_database
from idp.store.sql.models import AuditChainHeadRow, Base
from idp.store.sql.repositories.admins import AdminRepository
from idp.store.sql.repositories.employees import EmployeeRepository
from tests.store.sql.helpers import NOW, employee


def test_migrated_schema_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_migrate_is_idempotent(db: Database) -> None:
    before = sorted(inspect(db.engine).get_table_names())
    migrate(db.engine)
    migrate(db.engine)
    assert sorted(inspect(db.engine).get_table_names()) == before
    with db.engine.connect() as conn:
        version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        heads = conn.execute(select(AuditChainHeadRow)).all()
    from alembic.script import ScriptDirectory

    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert len(heads) == 1  # the chain head is inserted once, not per run


def test_every_model_table_exists(db: Database) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert {"employees", "audit_events", "oidc_grants", "oidc_refresh_tokens"} <= tables
    assert set(Base.metadata.tables) <= tables


def test_sqlite_pragmas(sqlite_db: Database) -> None:
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_0012_turns_stored_recovery_digests_into_argon2_records(tmp_path: Path) -> None:
    """An admin's codes from before 0012 (SHA-256 digests) still sign in after it; nothing
    that a fast hash could be guessed from is left in the row."""
    db = open_database(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(db.engine, revision="0011")
    EmployeeRepository(db).add(employee(1), now=NOW)
    AdminRepository(db).add(AdminUser("adm-1", "emp-1", Role.ADMIN, NOW, "cli"))
    codes = new_recovery_codes()[:3]
    legacy = [recovery_digest("adm-1", c) for c in codes]
    credentials = AdminCredentialRepository(db)
    credentials.set_totp("adm-1", sealed=b"sealed", codes=legacy, now=NOW)
    migrate(db.engine)
    stored = credentials.get("adm-1")
    assert stored is not None and len(stored.recovery_codes) == 3
    assert not set(legacy) & {r.partition("$")[2] for r in stored.recovery_codes}
    assert all("$argon2id$" in r for r in stored.recovery_codes)
    for code in codes:
        assert matching_record("adm-1", code, stored.recovery_codes) is not None
    assert matching_record("adm-1", "zzzzzzzz", stored.recovery_codes) is None
    db.dispose()

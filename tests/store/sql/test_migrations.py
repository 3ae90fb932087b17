"""The shipped Alembic migrations produce exactly the models' schema, on both engines."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

import idp.store.sql.protocol_tables  # noqa: F401 - the whole schema, protocols' tables too
from idp.store.sql import Database, migrate
from idp.store.sql.database import alembic_config
from idp.store.sql.models import AuditChainHeadRow, Base


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

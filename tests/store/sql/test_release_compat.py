"""Migrations are safe to run while the previous release still serves (expand/contract).

``releases/previous.json`` is the schema of the previous release, as its code knows it: its
Alembic head revision and, per table, the columns with their kind, nullability, primary key
and foreign key. During a rolling upgrade the new release migrates the database while
instances of the previous one still serve, so after upgrading to head:

- every table and column the previous release knows is still there, no nullable column of it
  became NOT NULL (*contract* — dropping or renaming — waits for the release after);
- every column added since is nullable or has a server default (*expand*), so the previous
  release's INSERTs, which do not name it, still work;
- and they do: a row written the way the previous release writes it (naming exactly its
  columns) into every one of its tables is stored and read back unchanged, on SQLite,
  PostgreSQL and MariaDB.

The fixture is checked against the migration chain itself (upgraded to its revision, the
database has exactly those columns). When a release is cut, write the new snapshot with
``python -m tests.store.sql.test_release_compat`` (docs/operations.md, "Upgrades").
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    TypeDecorator,
    inspect,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeEngine

import idp.store.sql.protocol_tables  # noqa: F401 - every table on the metadata
from idp.store.sql import migrate, open_database
from idp.store.sql.database import alembic_config
from idp.store.sql.models import Base
from idp.store.sql.transfer import SEEDED
from tests.conftest import throwaway_mariadb_database, throwaway_pg_database

SNAPSHOT = Path(__file__).with_name("releases") / "previous.json"
NOW = dt.datetime(2026, 12, 1, 9, 30, 15, 250000)
_KINDS: dict[str, type[TypeEngine[Any]]] = {
    "bool": Boolean, "int": BigInteger, "float": Float, "datetime": DateTime, "date": Date,
    "bytes": LargeBinary, "json": JSON, "str": String,
}  # fmt: skip


def _kind(sql_type: TypeEngine[Any]) -> str:
    if isinstance(sql_type, TypeDecorator):
        sql_type = sql_type.impl_instance
    for kind, base in (("bool", Boolean), ("int", Integer), ("float", Float),
                       ("float", Numeric), ("datetime", DateTime), ("date", Date),
                       ("bytes", LargeBinary), ("json", JSON), ("str", String)):  # fmt: skip
        if isinstance(sql_type, base):
            return kind
    raise TypeError(f"no kind for column type {sql_type!r}: add it to _kind")


def snapshot_of_models() -> dict[str, Any]:
    """The current models' schema, in the fixture's form."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    tables: dict[str, Any] = {}
    for table in Base.metadata.sorted_tables:
        columns = {}
        for column in table.columns:
            targets = [f"{f.column.table.name}.{f.column.name}" for f in column.foreign_keys]
            fk = targets[0] if targets else None
            columns[column.name] = {
                "kind": _kind(column.type),
                "length": getattr(column.type, "length", None),
                "nullable": bool(column.nullable),
                "primary_key": column.primary_key,
                "references": fk,
            }
        tables[table.name] = {"columns": columns}
    return {"revision": head, "tables": tables}


def previous() -> dict[str, Any]:
    release: dict[str, Any] = json.loads(SNAPSHOT.read_text())
    return release


# -- databases migrated to the previous release, then to head ---------------------------------


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres),
            pytest.param("mariadb", marks=pytest.mark.mariadb)],
)  # fmt: skip
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'idp.db'}"
    elif request.param == "postgresql":
        with throwaway_pg_database("idp_release") as url:
            yield url
    else:
        with throwaway_mariadb_database("idp_release") as url:
            yield url


def _columns(engine: Engine) -> dict[str, dict[str, bool]]:
    found = inspect(engine)
    return {
        table: {c["name"]: bool(c["nullable"]) for c in found.get_columns(table)}
        for table in found.get_table_names()
        if table != "alembic_version"
    }


def _value(table: str, name: str, spec: dict[str, Any], written: dict[str, Any]) -> Any:
    if spec["references"] is not None:
        return written.get(spec["references"])
    values = {"bool": True, "int": 7, "float": 0.5, "datetime": NOW, "date": NOW.date(),
              "bytes": b"\x00previous\xff", "json": {"previous": [1, "two"]},
              "str": f"{table}.{name}"[: spec["length"] or None]}  # fmt: skip
    return values[spec["kind"]]


def _type(column: dict[str, Any]) -> TypeEngine[Any]:
    if column["kind"] == "str":
        return String(column["length"])
    return _KINDS[column["kind"]]()


def _old_table(metadata: MetaData, name: str, spec: dict[str, Any]) -> Table:
    """The table as the previous release's code declares it: its columns only."""
    columns = [
        Column(column, _type(c), primary_key=c["primary_key"], nullable=c["nullable"])
        for column, c in spec["columns"].items()
    ]
    return Table(name, metadata, *columns)


def _parents_first(tables: dict[str, Any]) -> list[str]:
    order: list[str] = []
    while len(order) < len(tables):
        ready = [
            name
            for name, spec in sorted(tables.items())
            if name not in order
            and all(
                c["references"] is None or c["references"].split(".")[0] in (*order, name)
                for c in spec["columns"].values()
            )
        ]
        assert ready, f"a foreign-key cycle among {sorted(set(tables) - set(order))}"
        order.extend(ready)
    return order


def _write_as_previous_release(engine: Engine) -> dict[str, dict[str, Any]]:
    """One row per table of the previous release, naming exactly its columns, parents first."""
    tables, metadata = previous()["tables"], MetaData()
    written: dict[str, Any] = {}
    rows: dict[str, dict[str, Any]] = {}
    with engine.begin() as conn:
        for name in SEEDED:  # rows the migrations insert (one of each, with fixed keys)
            seeded = conn.execute(select(_old_table(metadata, name, tables[name]))).mappings()
            written.update({f"{name}.{k}": v for k, v in seeded.one().items()})
        for name in _parents_first(tables):
            if name in SEEDED:
                continue
            table = _old_table(metadata, name, tables[name])
            row = {c: _value(name, c, s, written) for c, s in tables[name]["columns"].items()}
            conn.execute(table.insert().values(row))
            written.update({f"{name}.{column}": value for column, value in row.items()})
            rows[name] = row
    return rows


def test_the_fixture_is_the_schema_of_its_revision(fresh_url: str) -> None:
    release = previous()
    db = open_database(fresh_url)
    try:
        migrate(db.engine, revision=release["revision"])
        expected = {
            table: {column: c["nullable"] for column, c in spec["columns"].items()}
            for table, spec in release["tables"].items()
        }
        assert _columns(db.engine) == expected
    finally:
        db.dispose()


def test_the_previous_release_reads_and_writes_after_the_upgrade(fresh_url: str) -> None:
    release = previous()
    db = open_database(fresh_url)
    try:
        migrate(db.engine, revision=release["revision"])
        migrate(db.engine)  # the new release starts while the previous one serves
        now = _columns(db.engine)
        for table, spec in release["tables"].items():
            assert table in now, f"{table}: dropped while the previous release uses it"
            for column, c in spec["columns"].items():
                assert column in now[table], f"{table}.{column}: dropped or renamed too early"
                if c["nullable"]:
                    assert now[table][column], f"{table}.{column}: became NOT NULL"
        rows = _write_as_previous_release(db.engine)
        metadata = MetaData()
        with db.engine.connect() as conn:
            for name, row in rows.items():
                table = _old_table(metadata, name, release["tables"][name])
                (read,) = conn.execute(select(table)).mappings().all()
                assert dict(read) == row, name
    finally:
        db.dispose()


def test_columns_added_since_the_previous_release_are_optional() -> None:
    """Checked on the models too, so the failure names the column before any database runs."""
    old, new = previous()["tables"], snapshot_of_models()["tables"]
    for table, spec in new.items():
        known = old.get(table, {"columns": None})["columns"]
        if known is None:
            continue  # a new table: the previous release never writes it
        for column, c in spec["columns"].items():
            added = column not in known
            assert not added or c["nullable"], (
                f"{table}.{column} is new and NOT NULL: the previous release's INSERTs do not "
                "name it; add it nullable (or with a server default) now, tighten it a release "
                "later (docs/operations.md, Upgrades)"
            )


if __name__ == "__main__":  # python -m tests.store.sql.test_release_compat: cut a release
    release = snapshot_of_models()
    SNAPSHOT.write_text(json.dumps(release, indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT} at revision {release['revision']}")
    sys.exit(0)

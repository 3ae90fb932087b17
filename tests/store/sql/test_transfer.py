"""Export/import between databases: every table's rows arrive as stored, SQLite → PostgreSQL →
MariaDB, and a truncated, corrupt, foreign or tampered file is refused with the target left
empty."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, LargeBinary, func, select, update
from sqlalchemy.types import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Integer,
    String,
    Text,
    TypeDecorator,
)

from idp.audit import AuditKind, Outcome
from idp.store.errors import StoreUnavailable
from idp.store.sql import (
    AuditRepository,
    Database,
    EmployeeRepository,
    PasskeyRepository,
    open_database,
)
from idp.store.sql.models import AuditEventRow
from idp.store.sql.repositories.audit import entry
from idp.store.sql.transfer import (
    SEEDED,
    AuditChainBroken,
    ExportMalformed,
    ExportVersionMismatch,
    RowRefused,
    TargetNotEmpty,
    TransferReport,
    export_database,
    import_database,
    tables,
)
from idp.workstations.tables import WorkstationAlarmRow
from tests.store.sql.helpers import NOW, employee, passkey

LATER = NOW + dt.timedelta(minutes=5, microseconds=1)


def _value(table: str, column: Column[Any], parents: dict[str, Any]) -> Any:
    for fk in column.foreign_keys:
        return parents[f"{fk.column.table.name}.{fk.column.name}"]
    kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    if isinstance(kind, LargeBinary):
        return bytes(range(256))
    if isinstance(kind, DateTime):
        return NOW
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, BigInteger):
        return 2**40 + 1
    if isinstance(kind, Integer):
        return 7
    if isinstance(kind, JSON):
        return {"schlüssel": "wert 😀", "n": "1"}
    if isinstance(kind, Text):
        return "Zoë wrote 😀 " * 300
    assert isinstance(kind, String) and kind.length
    return f"{table}.{column.name}"[: kind.length]


def fill(db: Database) -> None:
    """One row in every table (parents first, foreign keys honoured), plus real repository
    writes: employees with a passkey, and an audit chain of events."""
    parents: dict[str, Any] = {}
    with db.engine.begin() as conn:
        for table in tables():
            if table.name in SEEDED:  # the migrations' row stands in (e.g. a key's profile)
                seeded = conn.execute(table.select()).mappings().first()
                parents.update({f"{table.name}.{k}": v for k, v in (seeded or {}).items()})
                continue
            if table.name == "audit_events":  # appended below, chained
                continue
            row = {c.name: _value(table.name, c, parents) for c in table.columns}
            parents.update({f"{table.name}.{name}": value for name, value in row.items()})
            conn.execute(table.insert(), [row])
        conn.execute(update(WorkstationAlarmRow).values(active=True, raised_at=LATER))
    EmployeeRepository(db).add(employee(2, first_name="Zoë", last_name="Ångström"), now=LATER)
    PasskeyRepository(db).add(passkey("Cred-A_b-9" * 50, "emp-2", created_at=LATER))
    PasskeyRepository(db).add(passkey("cred-a_b-9" * 50, "emp-2", created_at=LATER))
    audit = AuditRepository(db)
    for n in range(5):
        audit.append(
            entry(
                kind=AuditKind.LOGIN_SUCCESS,
                at=LATER + dt.timedelta(microseconds=n),
                actor="emp-2",
                outcome=Outcome.FAILURE if n % 2 else Outcome.SUCCESS,
                employee_id="emp-2",
                relying_party="https://sp.example.com/ü",
                reason=f"réason {n} 😀",
                details={"ip": "192.0.2.1", "name": "Zoë"},
            )
        )


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table as the repositories would read it."""
    with db.engine.connect() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in tables()
        }


def export(db: Database) -> tuple[bytes, TransferReport]:
    out = io.BytesIO()
    report = export_database(database=db, out=out, now=NOW)
    return out.getvalue(), report


def load(db: Database, data: bytes) -> TransferReport:
    return import_database(database=db, source=io.BytesIO(data))


def row_count(db: Database) -> int:
    with db.engine.connect() as conn:
        total = 0
        for table in tables():
            if table.name not in SEEDED:
                total += conn.scalar(select(func.count()).select_from(table)) or 0
        return total


@pytest.mark.postgres
@pytest.mark.mariadb
def test_sqlite_to_postgresql_to_mariadb_keeps_every_row_and_the_chain(
    sqlite_db: Database, pg_db: Database, mariadb_db: Database
) -> None:
    from tests.conftest import empty_database

    empty_database(pg_db)  # pg_db truncates the core tables only
    fill(sqlite_db)
    original = snapshot(sqlite_db)
    data, exported = export(sqlite_db)
    assert exported.audit_last_seq == 5 and dict(exported.rows)["passkey_credentials"] == 3

    assert load(pg_db, data) == exported
    assert snapshot(pg_db) == original
    again, _ = export(pg_db)
    assert load(mariadb_db, again) == exported
    assert snapshot(mariadb_db) == original
    for db in (pg_db, mariadb_db):
        assert AuditRepository(db).verify().ok
        zoe = EmployeeRepository(db).get("emp-2")
        assert zoe is not None and zoe.first_name == "Zoë"
        # credential ids that differ only in case stay two credentials
        assert len(PasskeyRepository(db).list_for_employee("emp-2")) == 2
    with mariadb_db.engine.connect() as conn:
        at = conn.scalar(select(AuditEventRow.at).where(AuditEventRow.seq == 5))
    assert at == LATER + dt.timedelta(microseconds=4) and at.tzinfo is dt.UTC


@pytest.fixture(scope="module")
def exported(_sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One export of a filled SQLite database, shared by the tests that take it apart."""
    path = tmp_path_factory.mktemp("source") / "source.db"
    shutil.copyfile(_sqlite_template, path)
    db = open_database(f"sqlite:///{path}")
    fill(db)
    data, _ = export(db)
    db.dispose()
    return data


@pytest.fixture
def target(_sqlite_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "target.db"
    shutil.copyfile(_sqlite_template, path)
    db = open_database(f"sqlite:///{path}")
    yield db
    db.dispose()


def lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True)


def resealed(parts: list[bytes]) -> bytes:
    """``parts`` with a trailer recomputed, as a forger who knows the format would write it."""
    body = b"".join(parts[:-1])
    trailer = json.loads(parts[-1])
    trailer["sha256"] = hashlib.sha256(body).hexdigest()
    return body + json.dumps(trailer, separators=(",", ":")).encode() + b"\n"


def test_an_export_loads_into_sqlite_too(exported: bytes, target: Database) -> None:
    report = load(target, exported)
    assert report.audit_last_seq == 5
    assert AuditRepository(target).verify().ok


def test_a_non_empty_target_is_refused(exported: bytes, target: Database) -> None:
    EmployeeRepository(target).add(employee(9), now=NOW)
    with pytest.raises(TargetNotEmpty, match="employees has 1 rows") as err:
        load(target, exported)
    assert err.value.status == 409
    assert row_count(target) == 1


def test_a_target_with_audit_events_only_is_refused(exported: bytes, target: Database) -> None:
    AuditRepository(target).append(entry(kind=AuditKind.LOGIN_SUCCESS, at=NOW, actor=None))
    with pytest.raises(TargetNotEmpty):
        load(target, exported)


@pytest.mark.parametrize("cut", [-1, -30, 0.5])
def test_a_truncated_file_is_refused_and_nothing_stays(
    exported: bytes, target: Database, cut: float
) -> None:
    end = int(len(exported) * cut) if isinstance(cut, float) else len(exported) + int(cut)
    with pytest.raises(ExportMalformed, match="the file ends") as err:
        load(target, exported[:end])
    assert err.value.status == 400
    assert row_count(target) == 0


def test_a_missing_trailer_is_refused(exported: bytes, target: Database) -> None:
    with pytest.raises(ExportMalformed, match="the file ends where a table or the end"):
        load(target, b"".join(lines(exported)[:-1]))
    assert row_count(target) == 0


def test_a_changed_value_is_caught_by_the_trailer(exported: bytes, target: Database) -> None:
    corrupt = exported.replace(b"Zo\xc3\xab", b"Zoe", 1)
    assert corrupt != exported
    with pytest.raises(ExportMalformed, match="trailer does not match"):
        load(target, corrupt)
    assert row_count(target) == 0


def test_garbage_and_data_after_the_end_are_refused(exported: bytes, target: Database) -> None:
    parts = lines(exported)
    parts[3] = b"\xff\xfe not json\n"
    with pytest.raises(ExportMalformed, match="line 4: not JSON"):
        load(target, b"".join(parts))
    with pytest.raises(ExportMalformed, match="data after the end"):
        load(target, exported + b"{}\n")
    with pytest.raises(ExportMalformed, match="not an IdP export"):
        load(target, b'{"hello": "world"}\n')
    assert row_count(target) == 0


def test_wrong_format_version_or_schema_is_refused(exported: bytes, target: Database) -> None:
    parts = lines(exported)
    header = json.loads(parts[0])
    for change, expected in (({"version": 2}, "format version 1, got 2"),
                             ({"schema": "0006"}, "schema revision '0006'")):  # fmt: skip
        parts[0] = json.dumps({**header, **change}).encode() + b"\n"
        with pytest.raises(ExportVersionMismatch, match=expected):
            load(target, resealed(parts))
    assert row_count(target) == 0


def _audit_line(parts: list[bytes], seq: int) -> int:
    start = parts.index(next(p for p in parts if b'"table":"audit_events"' in p))
    for index in range(start + 1, len(parts)):
        if json.loads(parts[index])[0] == seq:
            return index
    raise AssertionError(seq)


def test_a_tampered_audit_event_is_refused_with_its_seq(exported: bytes, target: Database) -> None:
    parts = lines(exported)
    index = _audit_line(parts, 2)
    row = json.loads(parts[index])
    assert row[4] == "failure"
    row[4] = "success"  # the outcome of a failed sign-in, rewritten
    parts[index] = json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    with pytest.raises(AuditChainBroken, match="at seq 2: seq 2 content does not match") as err:
        load(target, resealed(parts))
    assert err.value.status == 400
    assert row_count(target) == 0


def test_a_removed_audit_event_is_refused_with_its_seq(exported: bytes, target: Database) -> None:
    parts = lines(exported)
    del parts[_audit_line(parts, 5)]
    end = next(i for i, p in enumerate(parts) if p.startswith(b'{"end":"audit_events"'))
    parts[end] = b'{"end":"audit_events","rows":4}\n'
    trailer = json.loads(parts[-1])
    parts[-1] = json.dumps({**trailer, "rows": trailer["rows"] - 1}).encode() + b"\n"
    with pytest.raises(AuditChainBroken, match="at seq 5: chain ends at seq 4, head says 5"):
        load(target, resealed(parts))


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        (1, 5, "expected a string for username"),
        (7, "yes", "expected bool for enabled"),
        (18, "2025-04-01T08:30:15", "created_at has no UTC offset"),
        (18, "yesterday", "created_at is not an ISO 8601 time"),
        (1, None, "expected a value for username, got null"),
        (1, "x" * 256, "username is longer than 255 characters"),
    ],
)
def test_hostile_values_are_refused_naming_line_and_column(
    exported: bytes, target: Database, column: int, value: Any, expected: str
) -> None:
    parts = lines(exported)
    start = next(i for i, p in enumerate(parts) if b'"table":"employees"' in p)
    columns = json.loads(parts[start])["columns"]
    assert columns[1] == "username" and columns[7] == "enabled" and columns[18] == "created_at"
    row = json.loads(parts[start + 1])
    row[column] = value
    parts[start + 1] = json.dumps(row).encode() + b"\n"
    with pytest.raises(ExportMalformed, match=f"line {start + 2}: {expected}"):
        load(target, resealed(parts))
    assert row_count(target) == 0


def test_a_row_the_database_refuses_is_named(exported: bytes, target: Database) -> None:
    parts = lines(exported)
    start = next(i for i, p in enumerate(parts) if b'"table":"passkey_credentials"' in p)
    row = json.loads(parts[start + 1])
    row[1] = "no-such-employee"
    parts[start + 1] = json.dumps(row).encode() + b"\n"
    with pytest.raises(RowRefused, match="a row of passkey_credentials") as err:
        load(target, resealed(parts))
    assert "no-such-employee" not in err.value.description
    assert row_count(target) == 0


def test_binary_values_are_base64_and_times_carry_utc(exported: bytes) -> None:
    parts = [json.loads(p) for p in lines(exported)]
    start = next(
        i for i, p in enumerate(parts) if isinstance(p, dict) and p.get("table") == "secret_keys"
    )
    header, row = parts[start], parts[start + 1]
    values = dict(zip(header["columns"], row, strict=True))
    assert base64.b64decode(values["wrapped"]) == bytes(range(256))
    assert values["created_at"] == "2025-04-01T08:30:15.123456+00:00"


def test_an_unreachable_source_exports_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from flask_idp.cli import main
    from flask_idp.demo import prepare

    db = open_database("mysql://root@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(StoreUnavailable, match="nothing was exported"):
        export(db)
    db.dispose()
    config = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    text = config.read_text()
    sqlite_url = next(w for w in text.split() if w.startswith("sqlite:///"))
    config.write_text(text.replace(sqlite_url, "mysql://root@127.0.0.1:1/none?connect_timeout=1"))
    file = tmp_path / "idp.export"
    assert main(["export", "--to", str(file), "--config", str(config)]) == 2
    assert "database is unavailable" in capsys.readouterr().err
    assert not file.exists()  # no partial file that could be mistaken for an export

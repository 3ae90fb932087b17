"""Moving a whole IdP database to another one (SQLite, PostgreSQL or MariaDB), one way.

:func:`export_database` writes every table of the schema as JSON lines (format in
docs/storage.md); :func:`import_database` loads such a file into an empty, migrated database of
the same schema revision. Both stream: rows are read and written in batches, never the whole
database at once. Values are copied as stored, so encrypted fields stay encrypted under the
same wrapped data keys (``secret_keys``) and the audit chain keeps its hashes.

The import runs in one transaction and commits only when the file's trailer (row counts and
a SHA-256 of every line before it) matches and the audit chain, read back from the target as
stored, verifies against its head: a truncated, corrupt or tampered file leaves the target
as empty as it was.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from alembic.migration import MigrationContext
from sqlalchemy import Column, Connection, LargeBinary, Table, func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.types import JSON, Boolean, DateTime, Integer, String, TypeDecorator, TypeEngine

import idp.store.sql.protocol_tables  # noqa: F401 - every feature's tables on the metadata
from idp.audit import AuditEvent, ChainReport, verify_chain
from idp.errors import Conflict, InvalidRequest
from idp.store.errors import StoreUnavailable
from idp.store.sql.database import Database
from idp.store.sql.models import AuditChainHeadRow, AuditEventRow, Base

log = logging.getLogger(__name__)
FORMAT = "hideez-idp-export"
VERSION = 1
BATCH = 500
#: the longest line an import reads (a row with the largest TEXT and BLOB values fits easily)
MAX_LINE_BYTES = 16 * 1024 * 1024
# Tables whose rows the migrations insert: an empty database has them, and the import
# replaces them with the exported rows.
SEEDED = ("audit_chain_head", "workstation_alarm", "vault_profiles")


class ExportMalformed(InvalidRequest):
    """The file is not a complete, intact export (truncated, corrupt, or not one at all)."""

    error = "export_malformed"


class ExportVersionMismatch(InvalidRequest):
    """The file's format version or schema revision is not the one this database has."""

    error = "export_version_mismatch"


class TargetNotEmpty(Conflict):
    """The import refuses to mix an export into a database that already holds data."""

    error = "target_not_empty"


class RowRefused(InvalidRequest):
    """The target database refused a row of the file (too long, duplicate, missing parent)."""

    error = "row_refused"


class AuditChainBroken(InvalidRequest):
    """The audit events of the file do not form an intact chain up to its head."""

    error = "audit_chain_broken"


@dataclass(frozen=True)
class TransferReport:
    """What an export wrote or an import loaded: rows per table, and the audit chain's end."""

    schema: str
    rows: tuple[tuple[str, int], ...]
    audit_last_seq: int

    @property
    def total_rows(self) -> int:
        return sum(count for _, count in self.rows)


def tables() -> list[Table]:
    """Every table of the schema, parents before children (the order rows are loaded in)."""
    return list(Base.metadata.sorted_tables)


def schema_revision(connection: Connection) -> str:
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is None:
        raise ExportVersionMismatch("the database has no schema yet: run the migrations first")
    return revision


# -- values ----------------------------------------------------------------------------------


def _kind(column: Column[Any]) -> TypeEngine[Any]:
    """The column's type as stored (``UtcDateTime`` is a ``DateTime``)."""
    kind = column.type
    return kind.impl_instance if isinstance(kind, TypeDecorator) else kind


def _encode(column: Column[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(_kind(column), LargeBinary):
        return base64.b64encode(value).decode("ascii")
    if isinstance(_kind(column), DateTime):
        assert isinstance(value, dt.datetime) and value.tzinfo is not None
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")
    return value


def _decode(column: Column[Any], value: Any, where: str) -> Any:
    """The stored value of ``column`` from its JSON form, type-checked (hostile files too)."""
    kind = _kind(column)
    if value is None:
        if not column.nullable:
            raise ExportMalformed(f"{where}: expected a value for {column.name}, got null")
        return None
    if isinstance(kind, JSON):
        return value
    if isinstance(kind, Boolean | Integer):
        expected: type = bool if isinstance(kind, Boolean) else int
        if type(value) is not expected:
            raise ExportMalformed(
                f"{where}: expected {expected.__name__} for {column.name}, "
                f"got {type(value).__name__}"
            )
        return value
    if not isinstance(value, str):
        raise ExportMalformed(
            f"{where}: expected a string for {column.name}, got {type(value).__name__}"
        )
    return _decode_text(column, value, where)


def _decode_text(column: Column[Any], value: str, where: str) -> Any:
    kind = _kind(column)
    if isinstance(kind, LargeBinary):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            raise ExportMalformed(f"{where}: {column.name} is not base64") from None
    if isinstance(kind, DateTime):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ExportMalformed(f"{where}: {column.name} is not an ISO 8601 time") from None
        if moment.tzinfo is None:
            raise ExportMalformed(f"{where}: {column.name} has no UTC offset: {value!r}")
        return moment
    if isinstance(kind, String) and kind.length is not None and len(value) > kind.length:
        raise ExportMalformed(
            f"{where}: {column.name} is longer than {kind.length} characters ({len(value)})"
        )
    return value


def _line(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


# -- export ----------------------------------------------------------------------------------


def export_database(*, database: Database, out: IO[bytes], now: dt.datetime) -> TransferReport:
    """Write the whole database to ``out`` from one consistent snapshot."""
    digest = hashlib.sha256()

    def write(record: Any) -> None:
        data = _line(record)
        digest.update(data)
        out.write(data)

    counts: list[tuple[str, int]] = []
    with _snapshot(database) as connection:
        schema = schema_revision(connection)
        write(
            {
                "format": FORMAT,
                "version": VERSION,
                "schema": schema,
                "exported_at": now.astimezone(dt.UTC).isoformat(),
                "source": database.dialect,
            }
        )
        for table in tables():
            columns = list(table.columns)
            write({"table": table.name, "columns": [c.name for c in columns]})
            count = 0
            query = select(table).order_by(*table.primary_key.columns)
            for row in connection.execution_options(yield_per=BATCH).execute(query):
                write([_encode(c, v) for c, v in zip(columns, row, strict=True)])
                count += 1
            write({"end": table.name, "rows": count})
            counts.append((table.name, count))
        last_seq = connection.scalar(select(AuditChainHeadRow.last_seq)) or 0
    trailer = {"end_of_export": True, "tables": len(counts), "rows": sum(n for _, n in counts)}
    out.write(_line({**trailer, "sha256": digest.hexdigest()}))
    return TransferReport(schema=schema, rows=tuple(counts), audit_last_seq=last_seq)


@contextmanager
def _snapshot(database: Database) -> Iterator[Connection]:
    """A read-only connection on one snapshot: REPEATABLE READ on PostgreSQL and MySQL (SQLite's
    read transaction in WAL mode already is one), so rows written meanwhile are all left out."""
    try:
        with database.engine.connect() as connection:
            if database.dialect != "sqlite":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin() as transaction:
                yield connection
                transaction.rollback()  # nothing was written; ending it releases the snapshot
    except OperationalError as exc:
        log.error("database unavailable: %s", exc.orig)
        raise StoreUnavailable(
            f"the database is unavailable ({type(exc.orig).__name__}); nothing was exported"
        ) from exc


# -- import ----------------------------------------------------------------------------------


class _Reader:
    """The file's lines, parsed and numbered; ``digest`` covers every line before the last."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self._pending = b""
        self.number = 0
        self.digest = hashlib.sha256()

    def where(self) -> str:
        return f"line {self.number}"

    def next_is_end(self) -> bool:
        return not self._source.read(1)

    def next(self, what: str) -> Any:
        self.digest.update(self._pending)
        data = self._source.readline(MAX_LINE_BYTES + 1)
        self.number += 1
        if not data:
            raise ExportMalformed(f"line {self.number}: the file ends where {what} was expected")
        if len(data) > MAX_LINE_BYTES:
            raise ExportMalformed(f"line {self.number}: longer than {MAX_LINE_BYTES} bytes")
        if not data.endswith(b"\n"):
            raise ExportMalformed(f"line {self.number}: the file ends in the middle of a line")
        self._pending = data
        try:
            return json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ExportMalformed(f"line {self.number}: not JSON ({exc})") from None


def import_database(*, database: Database, source: IO[bytes]) -> TransferReport:
    """Load an export into ``database`` (migrated to the file's schema revision and empty)."""
    reader = _Reader(source)
    with database.connection(write=True) as connection:
        schema = _check_header(reader.next("the header"), connection)
        _check_empty(connection)
        counts, trailer = _load_sections(reader, connection)
        _check_trailer(reader, trailer, counts)
        report = _verify_audit(connection)
    return TransferReport(schema=schema, rows=tuple(counts), audit_last_seq=report.last_seq)


def _check_header(header: Any, connection: Connection) -> str:
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ExportMalformed(f"line 1: expected a {FORMAT} header; this is not an IdP export")
    if header.get("version") != VERSION:
        raise ExportVersionMismatch(
            f"expected export format version {VERSION}, got {header.get('version')!r}"
        )
    schema = schema_revision(connection)
    if header.get("schema") != schema:
        raise ExportVersionMismatch(
            f"the file has schema revision {header.get('schema')!r}, this database "
            f"{schema!r}: import with the IdP release that exported it, then upgrade"
        )
    return schema


def _check_empty(connection: Connection) -> None:
    for table in tables():
        if table.name in SEEDED:
            continue
        count = connection.scalar(select(func.count()).select_from(table))
        if count:
            raise TargetNotEmpty(
                f"the database is not empty ({table.name} has {count} rows): import only into "
                "a new, migrated database"
            )
    if connection.scalar(select(AuditChainHeadRow.last_seq)):
        raise TargetNotEmpty("the database is not empty: its audit chain has events")


def _load_sections(
    reader: _Reader, connection: Connection
) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    known = {table.name: table for table in tables()}
    counts: list[tuple[str, int]] = []
    while True:
        record = reader.next("a table or the end of the export")
        if isinstance(record, dict) and record.get("end_of_export") is True:
            break
        if not isinstance(record, dict) or not isinstance(record.get("table"), str):
            raise ExportMalformed(f"{reader.where()}: expected a table header")
        table = known.pop(record["table"], None)
        if table is None:
            raise ExportMalformed(
                f"{reader.where()}: unknown or repeated table {record['table']!r}"
            )
        if record.get("columns") != [c.name for c in table.columns]:
            raise ExportVersionMismatch(
                f"{reader.where()}: the columns of {table.name} differ from this schema's"
            )
        counts.append((table.name, _load_rows(reader, connection, table)))
    if known:
        raise ExportMalformed(f"{reader.where()}: tables missing: {', '.join(sorted(known))}")
    return counts, record


def _load_rows(reader: _Reader, connection: Connection, table: Table) -> int:
    columns = list(table.columns)
    if table.name in SEEDED:
        connection.execute(table.delete())
    batch: list[dict[str, Any]] = []
    count = 0
    while True:
        record = reader.next(f"a row of {table.name} or its end")
        if isinstance(record, dict):
            break
        where = reader.where()
        if not isinstance(record, list) or len(record) != len(columns):
            raise ExportMalformed(f"{where}: expected a row of {len(columns)} values")
        batch.append({c.name: _decode(c, v, where) for c, v in zip(columns, record, strict=True)})
        count += 1
        if len(batch) == BATCH:
            _insert(connection, table, batch, where)
            batch = []
    if batch:
        _insert(connection, table, batch, reader.where())
    if record != {"end": table.name, "rows": count}:
        raise ExportMalformed(
            f"{reader.where()}: expected the end of {table.name} after {count} rows, got {record!r}"
        )
    return count


def _insert(connection: Connection, table: Table, rows: list[dict[str, Any]], where: str) -> None:
    try:
        connection.execute(table.insert(), rows)
    except OperationalError:
        raise  # an outage, not the row: the caller's connection says so (StoreUnavailable)
    except DBAPIError as exc:
        # The driver's text quotes the values (personal data): the log has it.
        log.error("import: %s refused a row: %s", table.name, exc.orig)
        raise RowRefused(
            f"the database refused a row of {table.name} (before {where}): "
            f"{type(exc.orig).__name__}; see the log"
        ) from None


def _check_trailer(reader: _Reader, trailer: dict[str, Any], counts: list[tuple[str, int]]) -> None:
    expected = {
        "end_of_export": True,
        "tables": len(counts),
        "rows": sum(n for _, n in counts),
        "sha256": reader.digest.hexdigest(),
    }
    if trailer != expected:
        raise ExportMalformed(
            f"{reader.where()}: the trailer does not match what was read (expected {expected}, "
            f"got {trailer}): the file was changed or cut"
        )
    if not reader.next_is_end():
        raise ExportMalformed(f"line {reader.number + 1}: data after the end of the export")


def _verify_audit(connection: Connection) -> ChainReport:
    """The chain as the target stored it (so a value the target changed would show), against
    the imported head, as ``hideez-idp audit verify`` will check it."""
    head = connection.execute(select(AuditChainHeadRow.last_seq, AuditChainHeadRow.last_hash)).one()
    report = verify_chain(_events(connection), expected_last=(head.last_seq, head.last_hash))
    if not report.ok:
        raise AuditChainBroken(
            f"audit chain broken at seq {report.first_broken_seq}: {report.reason}; "
            "nothing was imported"
        )
    extra = connection.scalar(
        select(func.min(AuditEventRow.seq)).where(AuditEventRow.seq > head.last_seq)
    )
    if extra is not None:
        raise AuditChainBroken(
            f"audit chain broken at seq {extra}: it lies beyond the chain head; "
            "nothing was imported"
        )
    return report


def _events(connection: Connection) -> Iterator[AuditEvent]:
    table = AuditEventRow.__table__
    query = select(table).order_by(AuditEventRow.seq)
    for row in connection.execution_options(yield_per=BATCH).execute(query):
        yield AuditEvent(**row._asdict())

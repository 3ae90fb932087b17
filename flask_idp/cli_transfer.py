"""``hideez-idp export --to FILE`` and ``hideez-idp import --from FILE``: move the whole
database to another one (docs/storage.md), on the database the configuration names."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from pathlib import Path

from idp.config.loader import load_config
from idp.errors import Conflict, InvalidRequest
from idp.store.sql import Database, migrate, open_database
from idp.store.sql.transfer import TransferReport, export_database, import_database

COMMANDS = ("export", "import")
Command = Callable[..., argparse.ArgumentParser]


class ExportFileExists(Conflict):
    error = "export_file_exists"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser], command: Command) -> None:
    export = command(sub, "export", "write the whole database to a file (for `import`)")
    export.add_argument("--to", type=Path, required=True, metavar="FILE", dest="file",
                        help="the file to create (an existing one is not overwritten)")  # fmt: skip
    load = command(sub, "import", "load an export into a new, empty database")
    load.add_argument("--from", type=Path, required=True, metavar="FILE", dest="file",
                      help="a file written by `hideez-idp export`")  # fmt: skip


def run(args: argparse.Namespace, config_path: Path) -> int:
    config = load_config(config_path)
    database = open_database(config.database_url)
    try:
        if args.command == "export":
            report = _export(database, args.file)
            print(f"exported {_summary(report)} to {args.file}")
        else:
            migrate(database.engine)  # a new database: create the schema the file needs
            report = _import(database, args.file)
            print(f"imported {_summary(report)} from {args.file}; audit chain verified")
    finally:
        database.dispose()
    return 0


def _export(database: Database, file: Path) -> TransferReport:
    try:
        out = file.open("xb")
    except FileExistsError:
        raise ExportFileExists(f"{file} exists: choose a new file name") from None
    except OSError as exc:
        raise InvalidRequest(f"cannot create {file}: {exc.strerror}") from None
    with out:
        try:
            return export_database(database=database, out=out, now=dt.datetime.now(dt.UTC))
        except BaseException:
            out.close()
            file.unlink()  # a partial export must not look like one to import
            raise


def _import(database: Database, file: Path) -> TransferReport:
    try:
        source = file.open("rb")
    except OSError as exc:
        raise InvalidRequest(f"cannot read {file}: {exc.strerror}") from None
    with source:
        return import_database(database=database, source=source)


def _summary(report: TransferReport) -> str:
    return (
        f"{report.total_rows} rows of {len(report.rows)} tables (schema {report.schema}, "
        f"audit events up to seq {report.audit_last_seq})"
    )

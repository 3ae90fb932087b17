"""What MariaDB/MySQL need to store what SQLite and PostgreSQL store.

Imported by :mod:`idp.store.sql.models` (and so by the migrations' environment), so that every
``DateTime`` column, in the models and in each Alembic revision alike, is created as
``DATETIME(6)`` on MySQL: its plain ``DATETIME`` drops the microseconds that the other two
databases keep (and that expiry comparisons and the audit timestamps rely on).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DateTime, String
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.type_api import TypeEngine

MYSQL_DIALECTS = ("mysql", "mariadb")


@compiles(DateTime, *MYSQL_DIALECTS)
def _datetime_with_microseconds(type_: DateTime, compiler: Any, **kw: Any) -> str:
    return "DATETIME(6)"


def ascii_key(length: int) -> TypeEngine[str]:
    """A ``VARCHAR(length)`` that MySQL stores as ASCII with a binary (case-sensitive) collation.

    For long keys made of ASCII only (base64url credential ids): InnoDB indexes at most 3072
    bytes, and utf8mb4 counts four per character, so ``VARCHAR(1400)`` could not be a key.
    """
    variant = mysql.VARCHAR(length, charset="ascii", collation="ascii_bin")
    return String(length).with_variant(variant, *MYSQL_DIALECTS)

"""Opening databases: URL handling and failures as typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.store.errors import InvalidStoreUrl, StoreUnavailable
from idp.store.sql import migrate, open_database
from idp.store.sql.repositories import EmployeeRepository


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg2://u@h/d", "mysql+mysqldb://u@h/d", "oracle://"]
)
def test_unsupported_urls(url: str) -> None:
    with pytest.raises(InvalidStoreUrl):
        open_database(url)


def test_in_memory_sqlite_works_across_transactions() -> None:
    db = open_database("sqlite://")
    migrate(db.engine)
    assert EmployeeRepository(db).get("nobody") is None
    db.dispose()


def test_unreachable_postgres_is_store_unavailable() -> None:
    db = open_database("postgresql://postgres@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(StoreUnavailable):
        db.ping()
    db.dispose()


def test_unreachable_database_error_does_not_show_driver_text() -> None:
    from idp.store.errors import StoreUnavailable
    from idp.store.sql import open_database

    db = open_database("postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
    try:
        with pytest.raises(StoreUnavailable) as err:
            db.ping()
    finally:
        db.dispose()
    assert "unavailable" in err.value.description
    assert "127.0.0.1" not in err.value.description


def test_sqlite_directory_is_created_and_an_unopenable_file_is_a_clear_error(
    tmp_path: Path,
) -> None:
    from idp.store.errors import StoreUnavailable
    from idp.store.sql import migrate, open_database

    db = open_database(f"sqlite:///{tmp_path}/new/dir/idp.db")
    migrate(db.engine)
    assert (tmp_path / "new/dir/idp.db").exists()
    db.dispose()
    (tmp_path / "file").write_text("")
    blocked = open_database(f"sqlite:///{tmp_path}/file/idp.db")  # a file where a dir should be
    with pytest.raises(StoreUnavailable, match="cannot open the database"):
        migrate(blocked.engine)

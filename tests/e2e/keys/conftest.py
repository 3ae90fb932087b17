"""A site (link server over websockets, gateway agents) with a vault service and a radio of
virtual keys, on SQLite + the in-process store and on PostgreSQL + Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.workstations.harness import Site


@pytest.fixture(
    params=[
        pytest.param(("sqlite_db", "memory_store"), id="sqlite"),
        pytest.param(
            ("pg_db", "redis_store"), id="pg-redis", marks=[pytest.mark.postgres, pytest.mark.redis]
        ),
    ]
)
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Site:
    db_name, store_name = request.param
    return Site(request.getfixturevalue(db_name), request.getfixturevalue(store_name), tmp_path)

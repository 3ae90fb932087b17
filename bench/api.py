"""Admin REST API requests per second on one worker core against PostgreSQL.

A throwaway PostgreSQL database gets 10,000 employees; the IdP runs as one gunicorn sync
worker pinned to CPU 0 (the production advice: one worker per core), the load comes from
processes pinned to CPU 1, every request carries an API key (looked up and checked per
request, as in production). Measured:

  1. ``GET /api/v1/employees?limit=100`` — the first page of 100;
  2. the same from deep in the listing (a cursor after row 5,000: keyset paging);
  3. ``GET /api/v1/employees/{id}`` — random ids, with the ETag;

each beside the trivial-request rate of the same gunicorn set-up in the same run
(bench/limits.py): the share says how much of one request's budget the API spends.
Run: .venv/bin/python bench/api.py [seconds]
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import random
import secrets
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from bench import http_load, limits  # noqa: E402
from bench.servers import (  # noqa: E402
    CLIENT_CPU,
    SERVER_CPU,
    Server,
    free_port,
    stop,
    trivial_server,
)
from flask_idp.demo import prepare  # noqa: E402
from idp.admin.access import CLI, ROLE_PERMISSIONS, Role  # noqa: E402
from idp.admin.accounts import AdminCreate, ApiKeyCreate  # noqa: E402
from idp.admin.employee_models import EmployeeQuery  # noqa: E402
from idp.admin.services import build_admin_services  # noqa: E402
from idp.config.loader import load_config  # noqa: E402
from idp.runtime import Runtime, build_runtime  # noqa: E402
from idp.store.sql.models import EmployeeRow  # noqa: E402
from tests.conftest import throwaway_pg_database  # noqa: E402

EMPLOYEES = 10_000


def seed(runtime: Runtime) -> tuple[list[str], str]:
    """10,000 employees in one bulk insert; an admin with an API key. (ids, Bearer key)"""
    now = dt.datetime.now(dt.UTC)
    rows = []
    for i in range(EMPLOYEES):
        name = f"user{i:05d}"
        rows.append(
            {
                "id": secrets.token_hex(8),
                "username": name,
                "username_lower": name,
                "email": f"{name}@example.com",
                "email_lower": f"{name}@example.com",
                "first_name": f"First{i}",
                "last_name": f"Last{i % 977}",
                "enabled": True,
                "sso_mode": "passwordless",
                "phone": None,
                "company_id": None,
                "department_id": None,
                "position_id": None,
                "ad_object_guid": None,
                "ad_object_sid": None,
                "entra_object_id": None,
                "entra_tenant_id": None,
                "external_ids": {},
                "created_at": now,
            }
        )
    with runtime.db.engine.begin() as conn:
        conn.execute(insert(EmployeeRow), rows)
    svc = build_admin_services(runtime)
    admin = svc.accounts.create_admin(CLI, AdminCreate(username="user00000", role=Role.ADMIN))
    key = svc.accounts.create_key(
        CLI,
        ApiKeyCreate(name="bench", admin_id=admin.id, scopes=sorted(ROLE_PERMISSIONS[Role.ADMIN])),
    )
    return [r["id"] for r in rows], key.secret


def deep_cursor(runtime: Runtime) -> str:
    svc = build_admin_services(runtime)
    page = svc.employees.page(CLI, EmployeeQuery(limit=500))
    for _ in range(9):
        assert page.next_cursor is not None
        page = svc.employees.page(CLI, EmployeeQuery(limit=500, cursor=page.next_cursor))
    assert page.next_cursor is not None
    return page.next_cursor


def warm_up(port: int, headers: dict[str, str]) -> None:
    """The worker builds its runtime (keys, pool, argon2 costs) on the first request: wait
    for it, so that start-up is not counted in the first figure."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    for _ in range(3):
        conn.request("GET", "/api/v1/employees?limit=100", headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
    conn.close()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    os.sched_setaffinity(0, CLIENT_CPU)
    work = Path(tempfile.mkdtemp(prefix="bench-api-"))
    port = free_port()
    with throwaway_pg_database("idp_bench_api") as pg_url:
        config_path = prepare(work, port=port, sp_port=free_port())
        text = config_path.read_text()
        text = "\n".join(
            f"database_url: {pg_url}" if line.startswith("database_url:") else line
            for line in text.splitlines()
        )
        config_path.write_text(text + "\n")
        runtime = build_runtime(load_config(config_path))
        ids, token = seed(runtime)
        cursor = deep_cursor(runtime)
        runtime.db.engine.dispose()
        headers = {"Authorization": f"Bearer {token}"}
        with Server(port, "flask_idp.wsgi:create()", HIDEEZ_IDP_CONFIG=str(config_path)):
            warm_up(port, headers)
            rates = {}
            for name, paths in (
                ("list, first page of 100", ["/api/v1/employees?limit=100"] * int(2000 * seconds)),
                (
                    "list, page 51 of 100 (cursor)",
                    [f"/api/v1/employees?limit=100&cursor={cursor}"] * int(2000 * seconds),
                ),
                (
                    "get by id",
                    [f"/api/v1/employees/{random.choice(ids)}" for _ in range(int(4000 * seconds))],
                ),
            ):
                rates[name] = http_load.run(
                    "127.0.0.1",
                    port,
                    paths,
                    headers=headers,
                    workers=3,
                    cpus=CLIENT_CPU,
                    seconds=seconds,
                )
    costs = limits.measure(
        key_path=work / "keys/idp-signing.key",
        start_server=trivial_server,
        stop_server=stop,
        port=free_port(),
        server_cpus=SERVER_CPU,
        client_cpus=CLIENT_CPU,
        seconds=seconds,
    )
    trivial = 1 / costs.request
    limit = costs.limit(requests=1)
    print(
        f"this machine: trivial Flask request {trivial:7.0f}/s (same gunicorn set-up, server CPU)"
    )
    print(
        f"admin API on one worker core, PostgreSQL, {EMPLOYEES:,} employees, API key per request:"
    )
    for name, rate in rates.items():
        print(
            f"  {name:<30} {rate:8.1f} requests/s   ratio {rate / trivial:4.2f}x of trivial   "
            f"{limits.of_limit(rate, limit)}"
        )


if __name__ == "__main__":
    main()

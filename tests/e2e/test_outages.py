"""Redis or PostgreSQL unreachable while the IdP runs (a network outage through a proxy; the
servers keep their data): a clear 503 with Retry-After, readiness says which, liveness holds,
nothing half-done, and service comes back without a restart — the session still valid."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import PG_URL_TEMPLATE, throwaway_pg_database
from tests.e2e.helpers import PasskeyClient
from tests.e2e.server import RunningServer, run_idp, throwaway_redis_namespace
from tests.outage_proxy import OutageProxy

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


class Proxied:
    def __init__(self, server: RunningServer, redis: OutageProxy, postgres: OutageProxy) -> None:
        self.server, self.redis, self.postgres = server, redis, postgres


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[Proxied]:
    redis_proxy = OutageProxy(("127.0.0.1", 6379))
    pg_proxy = OutageProxy(("127.0.0.1", 5432))
    with throwaway_pg_database("idp_outage") as db_url, throwaway_redis_namespace() as store_url:
        db_url = db_url.replace("127.0.0.1:5432", f"127.0.0.1:{pg_proxy.port}")
        assert str(pg_proxy.port) in db_url, PG_URL_TEMPLATE
        store_url = store_url.replace("127.0.0.1:6379", f"127.0.0.1:{redis_proxy.port}")
        with run_idp(tmp_path, database_url=db_url, ephemeral_url=store_url,
                     uv_required=False, with_sp=False) as server:  # fmt: skip
            yield Proxied(server, redis_proxy, pg_proxy)
            server.runtime.audit.flush()
    redis_proxy.close()
    pg_proxy.close()


def signed_in(server: RunningServer) -> PasskeyClient:
    client = PasskeyClient(server)
    client.enrol("alice")
    done = client.sign_in()
    assert done.status_code == 200, done.text
    return client


def account(client: PasskeyClient) -> requests.Response:
    """The signed-in home page (a signed-out browser is sent to /login instead)."""
    return client.http.get(client.server.url("/"), timeout=15, allow_redirects=False)


@pytest.mark.parametrize("which", ["redis", "postgres"])
def test_an_outage_is_a_clear_503_and_service_returns(proxied: Proxied, which: str) -> None:
    server = proxied.server
    alice = signed_in(server)
    home = account(alice)
    assert home.status_code == 200 and "alice" in home.text, home.status_code
    proxy = proxied.redis if which == "redis" else proxied.postgres
    proxy.down()
    try:
        page = account(alice) if which == "redis" else alice.sign_in()
        assert page.status_code == 503, page.text[:300]
        assert page.headers["Retry-After"] == "5"
        text = page.text.lower()
        assert ("short-lived store" if which == "redis" else "database") in text
        assert "traceback" not in text and "127.0.0.1" not in text
        ready = requests.get(server.url("/readyz"), timeout=15)
        assert ready.status_code == 503 and ready.headers["Retry-After"] == "5"
        failing = "store" if which == "redis" else "database"
        checks = ready.json()["checks"]
        assert checks[failing].startswith("unavailable") and list(checks.values()).count("ok") == 1
        assert requests.get(server.url("/healthz"), timeout=5).status_code == 200
    finally:
        proxy.up()
    assert requests.get(server.url("/readyz"), timeout=15).json()["status"] == "ready"
    # The session made before the outage still works, and a new sign-in completes.
    home = account(alice)
    assert home.status_code == 200 and "alice" in home.text, home.status_code
    assert alice.sign_in().status_code == 200

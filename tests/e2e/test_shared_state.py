"""The IdP on PostgreSQL and Redis, as deployed with several instances: a sign-in begun on one
instance is finished on another (sessions, challenges, login tickets and pending SAML requests
live in Redis; employees, passkeys and audit in PostgreSQL)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import REDIS_URL, throwaway_pg_database, unavailable
from tests.e2e.helpers import PasskeyClient, submit_autopost
from tests.e2e.server import RunningServer, second_instance

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
def fresh_pg_url() -> Iterator[str]:
    with throwaway_pg_database("idp_e2e") as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    import redis

    prefix = f"idp-e2e-{secrets.token_hex(4)}:"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        unavailable("Redis", exc)
    yield f"{REDIS_URL}?prefix={prefix}"
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


class Relay(PasskeyClient):
    """A browser whose passkey verifications land on another instance than the options."""

    def __init__(self, server: RunningServer, other_port: int) -> None:
        super().__init__(server)
        self.other = f"http://localhost:{other_port}"  # cookies are shared across ports
        self.hits: list[str] = []

    def post_json(self, path: str, body: dict[str, Any], csrf: str) -> Any:
        # The browser's origin stays the public base URL; only the TCP peer differs. The
        # challenge is issued by A and consumed by B.
        base = self.other if path.endswith("/verify") else self.server.base_url
        self.hits.append(base)
        return self.http.post(base + path, json=body, timeout=10, headers={"X-CSRF-Token": csrf})


def test_sign_in_started_on_one_instance_finishes_on_another(
    make_idp_server: Any, fresh_pg_url: str, redis_url: str
) -> None:
    server = make_idp_server(database_url=fresh_pg_url, ephemeral_url=redis_url)
    assert server.runtime.db.dialect == "postgresql"
    assert type(server.runtime.ephemeral).__name__ == "RedisStore"
    enrolled = PasskeyClient(server)
    enrolled.enrol("alice")
    with second_instance(server) as other_port:
        browser = Relay(server, other_port)
        browser.key = enrolled.key
        start = browser.http.get(server.sp_url + "/login", allow_redirects=False, timeout=10)
        to_login = browser.http.get(start.headers["Location"], allow_redirects=False, timeout=10)
        assert to_login.status_code == 303  # instance A parked the request in Redis
        back = browser.follow_login(to_login)  # ceremony on B; resume URL served by A
        assert back.status_code == 200, back.text
        assert browser.hits == [server.base_url, browser.other]
        landed = submit_autopost(browser.http, back)
        assert landed.status_code == 302, landed.text
    assert "alice@example.com" in browser.http.get(server.sp_url + "/", timeout=10).text
    server.runtime.audit.flush()
    assert server.runtime.audit.verify().ok
    kinds = {e.kind.value for e in server.runtime.audit.list(limit=50).items}
    assert {"passkey_registered", "login_success", "sso_issued"} <= kinds


def test_redis_url_without_a_server_fails_at_start(make_idp_server: Any) -> None:
    from idp.errors import IdpError

    with pytest.raises(IdpError, match=r"(?i)redis"):
        make_idp_server(ephemeral_url="redis://127.0.0.1:1/0", with_sp=False)

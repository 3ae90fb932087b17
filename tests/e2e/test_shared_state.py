"""The IdP on PostgreSQL and Redis, as deployed with several instances: a sign-in begun on one
instance is finished on another (sessions, challenges, login tickets and pending SAML requests
live in Redis; employees, passkeys and audit in PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from idp.session_records import RecordVersion
from tests.e2e.helpers import PasskeyClient, submit_autopost
from tests.e2e.server import (
    POSTGRES_REDIS,
    SQLITE_MEMORY,
    RunningServer,
    run_idp,
    second_instance,
)


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


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.parametrize("other_writes", [None, 1], ids=["same-release", "mid-upgrade"])
def test_sign_in_started_on_one_instance_finishes_on_another(
    tmp_path: Path, other_writes: RecordVersion | None
) -> None:
    # Shared state needs the shared set-up, so this test is on PostgreSQL + Redis only.
    # Mid-upgrade, the other instance still writes session record version 1 (as instances of
    # the previous release do): the session it makes is answered from by this one.
    with run_idp(tmp_path, storage=POSTGRES_REDIS) as server:
        _sign_in_across_instances(server, other_writes)


def _sign_in_across_instances(server: RunningServer, other_writes: RecordVersion | None) -> None:
    assert server.runtime.db.dialect == "postgresql"
    assert type(server.runtime.ephemeral).__name__ == "RedisStore"
    enrolled = PasskeyClient(server)
    enrolled.enrol("alice")
    with second_instance(server, record_version=other_writes) as other_port:
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
    sid = browser.http.cookies["hideez_idp_session"]
    record = server.runtime.ephemeral.record_get("session:" + sid)  # made on B, answered on A
    assert record is not None and record["v"] == b"%d" % (other_writes or 2)
    assert [name for name in record if name.startswith("p:saml:")]
    server.runtime.audit.flush()
    assert server.runtime.audit.verify().ok
    kinds = {e.kind.value for e in server.runtime.audit.list(limit=50).items}
    assert {"passkey_registered", "login_success", "sso_issued"} <= kinds


def test_redis_url_without_a_server_fails_at_start(make_idp_server: Any) -> None:
    # On both set-ups: the unreachable Redis URL replaces the set-up's own short-lived store.
    from idp.errors import IdpError

    with pytest.raises(IdpError, match=r"(?i)redis"):
        make_idp_server(ephemeral_url="redis://127.0.0.1:1/0", with_sp=False)


def test_each_storage_set_up_is_the_one_it_names(idp_server: RunningServer, storage: str) -> None:
    # The matrix is only worth something if the [pg-redis] servers really run on both servers.
    expected = {
        SQLITE_MEMORY: ("sqlite", "MemoryStore"),
        POSTGRES_REDIS: ("postgresql", "RedisStore"),
    }
    runtime = idp_server.runtime
    assert (runtime.db.dialect, type(runtime.ephemeral).__name__) == expected[storage]

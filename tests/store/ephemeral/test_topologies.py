"""Sentinel and Cluster URLs: what they accept, what they refuse, and a failover survived."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from idp.store.ephemeral import RedisStore, open_ephemeral
from idp.store.errors import InvalidStoreUrl, StoreUnavailable
from tests.redis_servers import redis_sentinel


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis+sentinel://127.0.0.1:26379", "/SERVICE[/DB]"),
        ("redis+sentinel://127.0.0.1:26379/svc/x", "/SERVICE[/DB]"),
        ("redis+sentinel://127.0.0.1:26379/a/1/2", "/SERVICE[/DB]"),
        ("redis+sentinel://127.0.0.1/svc", "needs host:port"),
        ("redis+sentinel://127.0.0.1:99999/svc", "needs host:port"),
        ("redis+sentinel://h:1,,h:2/svc", "needs host:port"),
        ("redis+sentinel://h:1/svc?colour=red", "unsupported option 'colour'"),
        ("redis+cluster://127.0.0.1:7000/3", "no database or path"),
        ("redis+cluster://127.0.0.1:7000/?sentinel_password=x", "unsupported option"),
    ],
)
def test_malformed_topology_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(InvalidStoreUrl) as caught:
        open_ephemeral(url)
    assert message in caught.value.description


def test_sentinel_url_parts_reach_redis_py() -> None:
    store = open_ephemeral(
        "redis+sentinel://u:p%40ss@127.0.0.1:1,127.0.0.1:2/svc/3?prefix=t:&sentinel_password=s"
    )
    assert isinstance(store, RedisStore) and store.prefix == "t:"
    pool = store.client.connection_pool
    assert pool.service_name == "svc"  # type: ignore[attr-defined]
    assert (pool.connection_kwargs["db"], pool.connection_kwargs["password"]) == (3, "p@ss")
    with pytest.raises(StoreUnavailable, match="did not answer"):
        store.ping()  # no sentinel there: a typed error, not redis-py's
    store.close()


def test_an_unreachable_cluster_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="none of its start-up nodes") as caught:
        open_ephemeral("redis+cluster://127.0.0.1:1,127.0.0.1:2/")
    assert "127.0.0.1" not in caught.value.description


@pytest.mark.redis
def test_keys_spread_over_every_cluster_node(cluster_store: RedisStore) -> None:
    for n in range(60):
        cluster_store.put(f"k{n}", b"v", ttl=60)
    nodes = cluster_store.client.get_primaries()  # type: ignore[attr-defined]
    counts = [cluster_store.client.dbsize(target_nodes=node) for node in nodes]  # type: ignore[call-arg]
    assert len(counts) == 3 and all(c > 0 for c in counts), counts


@pytest.mark.redis
def test_a_sentinel_failover_is_survived(tmp_path: Path) -> None:
    with redis_sentinel(tmp_path) as sentinels:
        store = open_ephemeral(sentinels.url)
        store.put("before", b"kept", ttl=300)
        replica = redis.Redis(port=sentinels.replica_port)
        deadline = time.monotonic() + 10
        while replica.get(store.prefix + "before") != b"kept":  # replicated before the crash
            assert time.monotonic() < deadline, "the replica did not receive the key"
            time.sleep(0.05)
        sentinels.kill_master()
        deadline = time.monotonic() + 30
        while sentinels.master_now() != sentinels.replica_port:
            assert time.monotonic() < deadline, "sentinel did not fail over"
            time.sleep(0.1)
        deadline = time.monotonic() + 15
        while True:  # the first commands may meet the dead master's connections
            try:
                assert store.get("before") == b"kept"
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not follow the new master"
                time.sleep(0.2)
        store.put("after", b"new", ttl=60)
        assert store.get("after") == b"new"
        store.close()

"""Choosing the backend from a URL, and Redis failures as typed errors."""

from __future__ import annotations

import pytest

from idp.store.ephemeral import MemoryStore, RedisStore, open_ephemeral
from idp.store.errors import InvalidStoreUrl, StoreUnavailable


def test_memory_url() -> None:
    store = open_ephemeral("memory://")
    assert isinstance(store, MemoryStore)
    small = open_ephemeral("memory://?max_keys=3")
    assert isinstance(small, MemoryStore)
    assert small._max_keys == 3


@pytest.mark.parametrize(
    "url",
    ["memory://?max_keys=0", "memory://?max_keys=x", "memory://?size=3", "memory://host/path"],
)
def test_bad_memory_url(url: str) -> None:
    with pytest.raises(InvalidStoreUrl):
        open_ephemeral(url)


@pytest.mark.parametrize("url", ["http://localhost", "memcached://x", "", "sqlite:///x"])
def test_unsupported_scheme(url: str) -> None:
    with pytest.raises(InvalidStoreUrl, match="unsupported"):
        open_ephemeral(url)


def test_redis_url_with_prefix_does_not_connect_yet() -> None:
    store = open_ephemeral("redis://127.0.0.1:1/0?prefix=tenant-a:")
    assert isinstance(store, RedisStore)
    assert store.prefix == "tenant-a:"
    assert store.client.connection_pool.connection_kwargs["db"] == 0
    store.close()


def test_unreachable_redis_is_store_unavailable() -> None:
    # Port 1 on loopback refuses at once: no waiting for a timeout.
    store = RedisStore.from_url("redis://127.0.0.1:1/0")
    with pytest.raises(StoreUnavailable, match="did not answer"):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.take("k")
    store.close()


@pytest.mark.redis
def test_prefix_namespaces_keys(redis_store: RedisStore) -> None:
    redis_store.put("k", b"v", ttl=60)
    assert redis_store.client.get(redis_store.prefix + "k") == b"v"
    assert redis_store.client.get("k") is None


def test_redis_errors_do_not_quote_the_secret_part_of_a_key() -> None:
    """Keys end in session ids, challenge handles and login tickets: an error description
    (shown on the error page and logged) names the namespace only."""
    store = RedisStore.from_url("redis://127.0.0.1:1/0")
    secret = "Zk3rJ0bq5p4mS1c2YvQ8x7w6u9t0r1e2w3q4a5s6d7f"
    operations = [
        lambda: store.hash_get(f"session:{secret}", refresh_ttl=60),
        lambda: store.hash_get(f"session:{secret}"),
        lambda: store.hash_put(f"session:{secret}", {"f": b"v"}, ttl=60),
        lambda: store.take(f"challenge:{secret}"),
        lambda: store.get(f"login-ticket:{secret}"),
        lambda: store.put(f"login-ticket:{secret}", b"v", ttl=60),
        lambda: store.add_if_absent(f"replay:{secret}", b"v", ttl=60),
        lambda: store.incr(f"rate:{secret}", ttl=60),
        lambda: store.delete(f"session:{secret}"),
    ]
    for operation in operations:
        with pytest.raises(StoreUnavailable) as info:
            operation()
        assert secret not in info.value.description
        assert "…" in info.value.description
    store.close()

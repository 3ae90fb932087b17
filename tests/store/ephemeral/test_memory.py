"""What only the in-memory store has: its size bound and its injected clock."""

from __future__ import annotations

from typing import Any

import pytest

from idp.store.ephemeral import MemoryStore
from idp.store.errors import StoreFull


def test_full_store_refuses_new_keys_without_evicting(clock: Any) -> None:
    store = MemoryStore(max_keys=2, clock=clock)
    store.put("a", b"1", ttl=60)
    store.add_if_absent("b", b"1", ttl=60)
    with pytest.raises(StoreFull, match="maximum of 2 keys"):
        store.put("c", b"1", ttl=60)
    with pytest.raises(StoreFull):
        store.incr("c", ttl=60)
    # Nothing was evicted: a replay-cache entry must not be forgotten to make room.
    assert store.add_if_absent("b", b"2", ttl=60) is False
    store.put("a", b"overwrite is fine", ttl=60)
    assert store.get("a") == b"overwrite is fine"


def test_full_store_purges_expired_keys_first(clock: Any) -> None:
    store = MemoryStore(max_keys=2, clock=clock)
    store.put("a", b"1", ttl=1)
    store.put("b", b"1", ttl=60)
    clock.advance(2)
    store.put("c", b"1", ttl=60)
    assert len(store) == 2
    assert store.get("c") == b"1"


def test_slow_subscriber_does_not_block_publisher(clock: Any) -> None:
    import idp.store.ephemeral.memory as memory

    store = MemoryStore(clock=clock)
    sub = store.subscribe("c")
    for i in range(memory.SUBSCRIPTION_BACKLOG + 5):
        store.publish("c", str(i).encode())
    assert sub.dropped == 5  # type: ignore[attr-defined]
    assert sub.get(timeout=0) == b"0"
    sub.close()


def test_max_keys_must_be_positive() -> None:
    with pytest.raises(ValueError):
        MemoryStore(max_keys=0)

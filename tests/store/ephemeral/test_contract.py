"""One contract, two backends: every semantic of EphemeralStore against memory and Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from idp.store.ephemeral import EphemeralStore, MemoryStore, RedisStore
from idp.store.errors import WrongValueType

N_THREADS = 16


def elapse(store: EphemeralStore, seconds: float) -> None:
    """Let time pass: the memory store's clock is moved, Redis is waited for."""
    if isinstance(store, MemoryStore):
        store._clock.advance(seconds)  # type: ignore[attr-defined]
    else:
        time.sleep(seconds)


def ttl_of(store: EphemeralStore, key: str) -> float | None:
    if isinstance(store, MemoryStore):
        entry = store._data.get(key)
        return None if entry is None else entry.expires_at - store._clock()
    assert isinstance(store, RedisStore)
    ttl = store.client.pttl(store.prefix + key)
    return None if ttl < 0 else ttl / 1000


def race(n: int, work: Callable[[], object]) -> list[object]:
    """Run ``work`` in ``n`` threads released together; return their results."""
    barrier = threading.Barrier(n)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        value = work()
        with lock:
            results.append(value)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == n
    return results


def test_put_get_roundtrip_and_overwrite(ephemeral: EphemeralStore) -> None:
    assert ephemeral.get("k") is None
    ephemeral.put("k", b"\x00binary\xff", ttl=60)
    assert ephemeral.get("k") == b"\x00binary\xff"
    ephemeral.put("k", b"second", ttl=60)
    assert ephemeral.get("k") == b"second"


def test_put_sets_ttl(ephemeral: EphemeralStore) -> None:
    ephemeral.put("k", b"v", ttl=30)
    ttl = ttl_of(ephemeral, "k")
    assert ttl is not None and 28 < ttl <= 30


def test_values_expire(ephemeral: EphemeralStore) -> None:
    ephemeral.put("short", b"v", ttl=1)
    ephemeral.put("long", b"v", ttl=60)
    elapse(ephemeral, 1.1)
    assert ephemeral.get("short") is None
    assert ephemeral.take("short") is None
    assert ephemeral.get("long") == b"v"


def test_take_returns_once(ephemeral: EphemeralStore) -> None:
    ephemeral.put("challenge", b"c", ttl=60)
    assert ephemeral.take("challenge") == b"c"
    assert ephemeral.take("challenge") is None
    assert ephemeral.get("challenge") is None


def test_take_missing_is_none(ephemeral: EphemeralStore) -> None:
    assert ephemeral.take("never") is None


def test_take_race_exactly_one_wins(ephemeral: EphemeralStore) -> None:
    ephemeral.put("code", b"auth-code", ttl=60)
    results = race(N_THREADS, lambda: ephemeral.take("code"))
    assert results.count(b"auth-code") == 1
    assert results.count(None) == N_THREADS - 1


def test_add_if_absent_once_while_alive(ephemeral: EphemeralStore) -> None:
    assert ephemeral.add_if_absent("req-id", b"1", ttl=60) is True
    assert ephemeral.add_if_absent("req-id", b"2", ttl=60) is False
    assert ephemeral.get("req-id") == b"1"


def test_add_if_absent_after_expiry(ephemeral: EphemeralStore) -> None:
    assert ephemeral.add_if_absent("req", b"1", ttl=1) is True
    elapse(ephemeral, 1.1)
    assert ephemeral.add_if_absent("req", b"2", ttl=60) is True
    assert ephemeral.get("req") == b"2"


def test_add_if_absent_race_exactly_one_true(ephemeral: EphemeralStore) -> None:
    results = race(N_THREADS, lambda: ephemeral.add_if_absent("assertion-id", b"x", ttl=60))
    assert results.count(True) == 1
    assert results.count(False) == N_THREADS - 1


def test_incr_counts_and_keeps_first_ttl(ephemeral: EphemeralStore) -> None:
    assert ephemeral.incr("rate:alice", ttl=60) == 1
    assert ephemeral.incr("rate:alice", ttl=5) == 2
    assert ephemeral.incr("rate:alice", ttl=5) == 3
    ttl = ttl_of(ephemeral, "rate:alice")
    # The window is fixed when the counter is created; later calls do not extend it.
    assert ttl is not None and ttl > 55
    assert ephemeral.get("rate:alice") == b"3"


def test_incr_restarts_after_window(ephemeral: EphemeralStore) -> None:
    assert ephemeral.incr("rate:bob", ttl=1) == 1
    assert ephemeral.incr("rate:bob", ttl=1) == 2
    elapse(ephemeral, 1.1)
    assert ephemeral.incr("rate:bob", ttl=1) == 1


def test_incr_race_counts_every_call(ephemeral: EphemeralStore) -> None:
    results = race(N_THREADS, lambda: ephemeral.incr("rate:race", ttl=60))
    assert sorted(results) == list(range(1, N_THREADS + 1))  # type: ignore[type-var]


def test_incr_on_non_integer_refused(ephemeral: EphemeralStore) -> None:
    ephemeral.put("text", b"abc", ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.incr("text", ttl=60)


@dataclass(frozen=True)
class Fields:
    """The three field operations of one kind: a hash or a record (the same semantics)."""

    put: Callable[..., None]
    update: Callable[..., bool]
    get: Callable[..., dict[str, bytes] | None]


@pytest.fixture(params=["hash", "record"])
def fields(request: pytest.FixtureRequest, ephemeral: EphemeralStore) -> Fields:
    if request.param == "hash":
        return Fields(ephemeral.hash_put, ephemeral.hash_update, ephemeral.hash_get)
    return Fields(ephemeral.record_put, ephemeral.record_update, ephemeral.record_get)


def test_fields_put_merges_and_sets_ttl(ephemeral: EphemeralStore, fields: Fields) -> None:
    fields.put("h", {"a": b"1", "b": b"2"}, ttl=60)
    fields.put("h", {"b": b"3", "c": b"4"}, ttl=120)
    assert fields.get("h") == {"a": b"1", "b": b"3", "c": b"4"}
    ttl = ttl_of(ephemeral, "h")
    assert ttl is not None and 115 < ttl <= 120


def test_fields_update_only_touches_an_existing_one(
    ephemeral: EphemeralStore, fields: Fields
) -> None:
    assert fields.update("gone", {"a": b"1"}, ttl=60) is False
    assert fields.get("gone") is None  # never created
    fields.put("h", {"a": b"1"}, ttl=10)
    assert fields.update("h", {"b": b"2", "a": b"3"}, ttl=120) is True
    assert fields.get("h") == {"a": b"3", "b": b"2"}
    ttl = ttl_of(ephemeral, "h")
    assert ttl is not None and 115 < ttl <= 120
    ephemeral.delete("h")
    assert fields.update("h", {"c": b"4"}, ttl=60) is False
    assert fields.get("h") is None


def test_fields_update_racing_delete_never_revives(
    ephemeral: EphemeralStore, fields: Fields
) -> None:
    import itertools

    for round_ in range(20):
        key = f"race-{round_}"
        fields.put(key, {"v": b"1"}, ttl=60)
        turn = itertools.count()

        def work(k: str = key, turn: Iterator[int] = turn) -> object:
            if next(turn) % 2:
                ephemeral.delete(k)
                return "deleted"
            return fields.update(k, {"w": b"2"}, ttl=60)

        results = race(N_THREADS, work)
        assert "deleted" in results
        assert fields.get(key) is None  # the delete wins; nothing brought half a hash back


def test_fields_get_missing_is_none(ephemeral: EphemeralStore, fields: Fields) -> None:
    assert fields.get("nothing") is None
    assert fields.get("nothing", refresh_ttl=60) is None
    assert ephemeral.get("nothing") is None  # refreshing must not create the key


def test_fields_get_refreshes_ttl(ephemeral: EphemeralStore, fields: Fields) -> None:
    fields.put("s", {"x": b"1"}, ttl=10)
    assert fields.get("s", refresh_ttl=300) == {"x": b"1"}
    ttl = ttl_of(ephemeral, "s")
    assert ttl is not None and ttl > 290
    fields.get("s")
    ttl = ttl_of(ephemeral, "s")
    assert ttl is not None and ttl > 290  # a plain read leaves the TTL alone


def test_fields_expires(ephemeral: EphemeralStore, fields: Fields) -> None:
    fields.put("s", {"x": b"1"}, ttl=1)
    elapse(ephemeral, 1.1)
    assert fields.get("s", refresh_ttl=60) is None


def test_wrong_type_is_typed(ephemeral: EphemeralStore, fields: Fields) -> None:
    fields.put("h", {"a": b"1"}, ttl=60)
    ephemeral.put("s", b"v", ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.get("h")
    with pytest.raises(WrongValueType):
        ephemeral.take("h")
    with pytest.raises(WrongValueType):
        fields.get("s")
    with pytest.raises(WrongValueType):
        fields.put("s", {"a": b"1"}, ttl=60)
    assert fields.get("h") == {"a": b"1"}  # a refused take leaves the value


def test_delete(ephemeral: EphemeralStore, fields: Fields) -> None:
    ephemeral.put("s", b"v", ttl=60)
    fields.put("h", {"a": b"1"}, ttl=60)
    ephemeral.delete("s")
    ephemeral.delete("h")
    ephemeral.delete("never-there")
    assert ephemeral.get("s") is None
    assert fields.get("h") is None


def test_a_hash_and_a_record_are_different_kinds(ephemeral: EphemeralStore) -> None:
    ephemeral.hash_put("h", {"a": b"1"}, ttl=60)
    ephemeral.record_put("r", {"a": b"1"}, ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.record_get("h")
    with pytest.raises(WrongValueType):
        ephemeral.record_update("h", {"b": b"2"}, ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.hash_get("r")
    with pytest.raises(WrongValueType):
        ephemeral.hash_put("r", {"b": b"2"}, ttl=60)
    assert ephemeral.hash_get("h") == {"a": b"1"}
    assert ephemeral.record_get("r") == {"a": b"1"}


@pytest.mark.parametrize("ttl", [0, -1, True, 1.5])
def test_bad_ttl_refused(ephemeral: EphemeralStore, ttl: int) -> None:
    with pytest.raises(ValueError, match="ttl"):
        ephemeral.put("k", b"v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        ephemeral.add_if_absent("k", b"v", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        ephemeral.incr("k", ttl=ttl)
    with pytest.raises(ValueError, match="ttl"):
        ephemeral.hash_put("k", {"a": b"v"}, ttl=ttl)
    assert ephemeral.get("k") is None


def test_bad_keys_and_mappings_refused(ephemeral: EphemeralStore) -> None:
    with pytest.raises(ValueError, match="empty"):
        ephemeral.put("", b"v", ttl=60)
    with pytest.raises(ValueError, match="longer"):
        ephemeral.put("k" * 5000, b"v", ttl=60)
    with pytest.raises(ValueError, match="at least one field"):
        ephemeral.hash_put("h", {}, ttl=60)
    with pytest.raises(TypeError):
        ephemeral.hash_put("h", {"a": "not bytes"}, ttl=60)  # type: ignore[dict-item]


def test_publish_reaches_every_subscriber(ephemeral: EphemeralStore) -> None:
    first = ephemeral.subscribe("logout")
    second = ephemeral.subscribe("logout")
    other = ephemeral.subscribe("elsewhere")
    try:
        ephemeral.publish("logout", b"session-1")
        assert first.get(timeout=2) == b"session-1"
        assert second.get(timeout=2) == b"session-1"
        assert other.get(timeout=0.05) is None
        assert first.get(timeout=0.05) is None
    finally:
        for sub in (first, second, other):
            sub.close()


def test_closed_subscription_gets_nothing(ephemeral: EphemeralStore) -> None:
    sub = ephemeral.subscribe("c")
    sub.close()
    ephemeral.publish("c", b"m")  # no subscriber: nothing to deliver, no error
    listener = ephemeral.subscribe("c")
    try:
        ephemeral.publish("c", b"m2")
        assert listener.get(timeout=2) == b"m2"
    finally:
        listener.close()


def test_ping(ephemeral: EphemeralStore) -> None:
    ephemeral.ping()


def test_queue_is_first_in_first_out_and_empty_is_none(ephemeral: EphemeralStore) -> None:
    assert ephemeral.queue_pop("q", timeout=0) is None
    assert ephemeral.queue_push("q", b"one", ttl=60) == 1
    assert ephemeral.queue_push("q", b"\x00two\xff", ttl=60) == 2
    assert ephemeral.queue_pop("q", timeout=0) == b"one"
    assert ephemeral.queue_pop("q", timeout=0.1) == b"\x00two\xff"
    assert ephemeral.queue_pop("q", timeout=0.1) is None
    # An emptied queue is gone, like any other key: the name can hold another kind again.
    ephemeral.put("q", b"plain", ttl=60)
    assert ephemeral.get("q") == b"plain"


def test_queue_item_goes_to_exactly_one_of_racing_consumers(ephemeral: EphemeralStore) -> None:
    for n in range(N_THREADS // 2):
        ephemeral.queue_push("work", str(n).encode(), ttl=60)
    got = race(N_THREADS, lambda: ephemeral.queue_pop("work", timeout=0.5))
    items = sorted(int(g) for g in got if isinstance(g, bytes))
    assert items == list(range(N_THREADS // 2))
    assert got.count(None) == N_THREADS - N_THREADS // 2


def test_queue_pop_waits_for_a_push_from_another_thread(ephemeral: EphemeralStore) -> None:
    timer = threading.Timer(0.2, lambda: ephemeral.queue_push("later", b"x", ttl=60))
    timer.start()
    started = time.monotonic()
    assert ephemeral.queue_pop("later", timeout=2.0) == b"x"
    assert time.monotonic() - started < 1.5
    timer.join()


def test_queue_expires_after_its_last_push(ephemeral: EphemeralStore) -> None:
    ephemeral.queue_push("q", b"a", ttl=1)
    elapse(ephemeral, 1.2)
    assert ephemeral.queue_pop("q", timeout=0) is None


def test_queue_and_values_are_different_kinds(ephemeral: EphemeralStore) -> None:
    ephemeral.put("v", b"plain", ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.queue_push("v", b"x", ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.queue_pop("v", timeout=0)
    ephemeral.queue_push("q", b"x", ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.get("q")
    with pytest.raises(WrongValueType):
        ephemeral.hash_get("q")


@pytest.mark.parametrize("timeout", [-1, 2.5, True])
def test_queue_pop_refuses_bad_waits(ephemeral: EphemeralStore, timeout: float) -> None:
    with pytest.raises((ValueError, TypeError)):
        ephemeral.queue_pop("q", timeout=timeout)


def test_queue_length_counts_what_waits(ephemeral: EphemeralStore) -> None:
    assert ephemeral.queue_length("depth") == 0
    ephemeral.queue_push("depth", b"a", ttl=60)
    ephemeral.queue_push("depth", b"b", ttl=60)
    assert ephemeral.queue_length("depth") == 2
    ephemeral.queue_pop("depth", timeout=0)
    assert ephemeral.queue_length("depth") == 1
    ephemeral.put("plain", b"x", ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.queue_length("plain")


def test_deadline_set_counts_members_whose_deadline_is_ahead(ephemeral: EphemeralStore) -> None:
    assert ephemeral.deadline_count("open", now=1_000.0) == 0
    ephemeral.deadline_add("open", "a", deadline=1_010.0, ttl=60)
    ephemeral.deadline_add("open", "b", deadline=1_020.0, ttl=60)
    ephemeral.deadline_add("open", "c", deadline=1_030.0, ttl=60)
    assert ephemeral.deadline_count("open", now=1_000.0) == 3
    ephemeral.deadline_remove("open", "b")
    ephemeral.deadline_remove("open", "never-added")
    assert ephemeral.deadline_count("open", now=1_000.0) == 2
    assert ephemeral.deadline_count("open", now=1_010.0) == 1  # a's deadline has come
    ephemeral.deadline_add("open", "a", deadline=1_050.0, ttl=60)  # added again: a new deadline
    assert ephemeral.deadline_count("open", now=1_040.0) == 1  # c's passed, a's is ahead
    assert ephemeral.deadline_count("open", now=1_060.0) == 0
    # The set vanishes when empty, like any other key.
    ephemeral.put("open", b"plain", ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.deadline_add("open", "d", deadline=2_000.0, ttl=60)
    with pytest.raises(WrongValueType):
        ephemeral.deadline_count("open", now=0.0)
    with pytest.raises(ValueError, match="ttl"):
        ephemeral.deadline_add("other", "d", deadline=2_000.0, ttl=0)


def test_deadline_set_lives_ttl_after_its_last_add(ephemeral: EphemeralStore) -> None:
    ephemeral.deadline_add("short", "a", deadline=9e9, ttl=1)
    assert ephemeral.deadline_count("short", now=0.0) == 1
    elapse(ephemeral, 1.1)
    assert ephemeral.deadline_count("short", now=0.0) == 0

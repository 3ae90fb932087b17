"""The short-lived store contract: the few operations, with the exact semantics, of both backends.

``RedisStore`` and ``MemoryStore`` behave identically (a shared contract test runs every
semantic against both). Values are bytes; callers serialise (JSON, never pickle).

- ``put`` is ``SET key value EX ttl``; ``get`` is ``GET``.
- ``take`` is ``GETDEL``: the value is returned to exactly one caller, however many race.
- ``add_if_absent`` is ``SET NX EX``: True for exactly one caller while the key lives (replay
  caches, single-use request ids).
- ``incr`` counts from 1; the TTL is set when the counter is created and not extended later
  (a fixed window for rate limits).
- ``hash_put`` merges fields into a hash and sets its TTL; ``hash_get`` returns every field
  (``None`` when absent) and, with ``refresh_ttl``, restarts the TTL in the same round trip.
- ``record_put``/``record_update``/``record_get`` are the same three for a *record*: a small
  hash that is read and merged whole (a session). Redis stores it compactly as one value; a
  hash may grow (an index of ids) and is a Redis hash. A key is one kind or the other.
- ``publish``/``subscribe`` carry messages between instances; only subscribers present when a
  message is published receive it.
- ``queue_push``/``queue_pop`` are a work queue (``RPUSH`` + ``EXPIRE``, ``BLPOP``): every item
  goes to exactly one of the consumers of every instance, first in first out; the queue lives
  ``ttl`` seconds after its last push. Unlike pub/sub, an item waits for a consumer;
  ``queue_length`` is ``LLEN``.
- ``deadline_add``/``deadline_remove``/``deadline_count`` are a set of members each with a
  deadline (a sorted set: ``ZADD``, ``ZREM``, ``ZREMRANGEBYSCORE`` + ``ZCARD``): the count
  is of members whose deadline is after ``now``, so it needs no scan (gauges such as the
  outstanding push requests); the set lives ``ttl`` seconds after its last add.

A key holding another kind of value raises :class:`~idp.store.errors.WrongValueType`; an
unreachable server raises :class:`~idp.store.errors.StoreUnavailable`. TTLs are whole seconds
and must be positive.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

MAX_KEY_LENGTH = 1024
#: the longest a ``queue_pop`` waits: below the Redis client's socket timeout, so that a
#: blocked pop is never mistaken for a dead server
MAX_QUEUE_WAIT = 2.0


@runtime_checkable
class Subscription(Protocol):
    """Messages published on one channel after the subscription was made."""

    def get(self, timeout: float) -> bytes | None:
        """The next message, waiting at most ``timeout`` seconds; ``None`` if none came."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class EphemeralStore(Protocol):
    def put(self, key: str, value: bytes, *, ttl: int) -> None: ...

    def get(self, key: str) -> bytes | None: ...

    def take(self, key: str) -> bytes | None: ...

    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool: ...

    def incr(self, key: str, *, ttl: int) -> int: ...

    def hash_put(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> None: ...

    def hash_update(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> bool:
        """Like :meth:`hash_put`, but only if the hash exists (atomically); False if it did not."""
        ...

    def hash_get(self, key: str, *, refresh_ttl: int | None = None) -> dict[str, bytes] | None: ...

    def record_put(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> None: ...

    def record_update(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> bool: ...

    def record_get(
        self, key: str, *, refresh_ttl: int | None = None
    ) -> dict[str, bytes] | None: ...

    def delete(self, key: str) -> None: ...

    def queue_push(self, key: str, value: bytes, *, ttl: int) -> int:
        """Append ``value`` to the queue ``key``; the queue's length after the push."""
        ...

    def queue_pop(self, key: str, *, timeout: float) -> bytes | None:
        """The oldest item, taken once, waiting up to ``timeout`` seconds (0: no wait, at most
        :data:`MAX_QUEUE_WAIT`); ``None`` if none came."""
        ...

    def queue_length(self, key: str) -> int:
        """How many items wait in the queue ``key`` (0 for none)."""
        ...

    def deadline_add(self, key: str, member: str, *, deadline: float, ttl: int) -> None:
        """Put ``member`` in the set ``key`` until ``deadline`` (Unix seconds)."""
        ...

    def deadline_remove(self, key: str, member: str) -> None: ...

    def deadline_count(self, key: str, *, now: float) -> int:
        """Members whose deadline is after ``now``; the others are dropped."""
        ...

    def publish(self, channel: str, message: bytes) -> None: ...

    def subscribe(self, channel: str) -> Subscription: ...

    def ping(self) -> None: ...

    def close(self) -> None:
        """Release the connection pool (Redis); the in-process store has nothing to release."""
        ...


def check_key(key: str) -> None:
    """Refuse keys both backends would not treat alike (empty, huge)."""
    if not key:
        raise ValueError("store key must not be empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"store key longer than {MAX_KEY_LENGTH} characters: {len(key)}")


def check_ttl(ttl: int) -> None:
    """A TTL is a positive whole number of seconds (Redis refuses ``EX 0``)."""
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")


def check_mapping(mapping: Mapping[str, bytes]) -> None:
    if not mapping:
        raise ValueError("hash_put needs at least one field")
    for field, value in mapping.items():
        if not isinstance(field, str) or not isinstance(value, bytes):
            raise TypeError(
                f"hash fields are str → bytes, got {type(field).__name__} → {type(value).__name__}"
            )


def check_wait(timeout: float) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise TypeError(f"timeout must be a number of seconds, got {timeout!r}")
    if not 0 <= timeout <= MAX_QUEUE_WAIT:
        raise ValueError(f"timeout must be between 0 and {MAX_QUEUE_WAIT} seconds, got {timeout!r}")

"""The in-process short-lived store: the embedded default when no Redis is configured.

It keeps Redis's semantics (see :mod:`idp.store.ephemeral.base`) for a single process. Every
operation holds one lock, so ``take`` and ``add_if_absent`` are atomic across threads. Expired
keys vanish on access and are purged when the store is full. The size is bounded by
``max_keys``: a new key beyond it raises :class:`~idp.store.errors.StoreFull` rather than
evicting anything (an evicted replay-cache entry would silently allow a replay).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from idp.store.ephemeral.base import (
    Subscription,
    check_key,
    check_mapping,
    check_ttl,
    check_wait,
)
from idp.store.errors import StoreFull, WrongValueType

DEFAULT_MAX_KEYS = 100_000
SUBSCRIPTION_BACKLOG = 10_000


class _Record(dict[str, bytes]):
    """A record's fields: a hash of its own kind, so that reading one as the other is refused
    here as Redis refuses it (there a record is a packed string, a hash a Redis hash)."""


class _Queue(deque[bytes]):
    """A work queue's items (a Redis list there)."""


class _Deadlines(dict[str, float]):
    """Members and their deadlines (a Redis sorted set there)."""


Value = bytes | dict[str, bytes] | _Queue | _Deadlines


@dataclass
class _Entry:
    value: Value
    expires_at: float


class _MemorySubscription:
    def __init__(self, store: MemoryStore, channel: str) -> None:
        self._store = store
        self._channel = channel
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=SUBSCRIPTION_BACKLOG)
        self.dropped = 0

    def deliver(self, message: bytes) -> None:
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            # A subscriber that stopped reading must not block publishers (Redis disconnects
            # such clients); the loss is counted so it can be seen.
            self.dropped += 1

    def get(self, timeout: float) -> bytes | None:
        try:
            return self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return None

    def close(self) -> None:
        self._store._unsubscribe(self._channel, self)


class MemoryStore:
    """Thread-safe in-memory :class:`~idp.store.ephemeral.base.EphemeralStore`.

    ``clock`` returns seconds (monotonic by default) and is injectable so tests can move time.
    """

    def __init__(
        self,
        *,
        max_keys: int = DEFAULT_MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._data: dict[str, _Entry] = {}
        self._channels: dict[str, list[_MemorySubscription]] = {}
        #: wakes ``queue_pop`` waiters when an item is pushed (shares the store's lock)
        self._queued = threading.Condition(self._lock)

    # -- helpers (called with the lock held) -------------------------------------------------

    def _live(self, key: str) -> _Entry | None:
        entry = self._data.get(key)
        if entry is not None and entry.expires_at <= self._clock():
            del self._data[key]
            return None
        return entry

    def _make_room(self, key: str) -> None:
        if key in self._data or len(self._data) < self._max_keys:
            return
        now = self._clock()
        for expired in [k for k, e in self._data.items() if e.expires_at <= now]:
            del self._data[expired]
        if len(self._data) >= self._max_keys:
            raise StoreFull(
                f"the in-memory store holds its maximum of {self._max_keys} keys; "
                "configure Redis or a larger max_keys"
            )

    def _set(self, key: str, value: Value, ttl: int) -> None:
        self._make_room(key)
        self._data[key] = _Entry(value, self._clock() + ttl)

    @staticmethod
    def _bytes(key: str, entry: _Entry) -> bytes:
        if not isinstance(entry.value, bytes):
            raise WrongValueType(f"key {key!r} holds a hash, record or queue, not a string")
        return entry.value

    @staticmethod
    def _fields(key: str, entry: _Entry, kind: type[dict[str, bytes]]) -> dict[str, bytes]:
        if type(entry.value) is not kind:
            held = "a string value" if isinstance(entry.value, bytes) else "another kind of value"
            raise WrongValueType(f"key {key!r} holds {held}, expected a {kind.__name__}")
        return entry.value

    # -- the contract ------------------------------------------------------------------------

    def put(self, key: str, value: bytes, *, ttl: int) -> None:
        check_key(key)
        check_ttl(ttl)
        with self._lock:
            self._set(key, bytes(value), ttl)

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._live(key)
            return None if entry is None else self._bytes(key, entry)

    def take(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._live(key)
            if entry is None:
                return None
            value = self._bytes(key, entry)
            del self._data[key]
            return value

    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool:
        check_key(key)
        check_ttl(ttl)
        with self._lock:
            if self._live(key) is not None:
                return False
            self._set(key, bytes(value), ttl)
            return True

    def incr(self, key: str, *, ttl: int) -> int:
        check_key(key)
        check_ttl(ttl)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                self._set(key, b"1", ttl)
                return 1
            current = self._bytes(key, entry)
            try:
                count = int(current) + 1
            except ValueError:
                raise WrongValueType(f"key {key!r} does not hold an integer") from None
            entry.value = str(count).encode("ascii")
            return count

    def hash_put(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> None:
        self._merge(key, mapping, ttl, kind=dict, create=True)

    def hash_update(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> bool:
        return self._merge(key, mapping, ttl, kind=dict, create=False)

    def hash_get(self, key: str, *, refresh_ttl: int | None = None) -> dict[str, bytes] | None:
        return self._read(key, refresh_ttl, kind=dict)

    def record_put(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> None:
        self._merge(key, mapping, ttl, kind=_Record, create=True)

    def record_update(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> bool:
        return self._merge(key, mapping, ttl, kind=_Record, create=False)

    def record_get(self, key: str, *, refresh_ttl: int | None = None) -> dict[str, bytes] | None:
        return self._read(key, refresh_ttl, kind=_Record)

    def _merge(
        self,
        key: str,
        mapping: Mapping[str, bytes],
        ttl: int,
        *,
        kind: type[dict[str, bytes]],
        create: bool,
    ) -> bool:
        check_key(key)
        check_ttl(ttl)
        check_mapping(mapping)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                if create:
                    self._set(key, kind(mapping), ttl)
                return create
            self._fields(key, entry, kind).update(mapping)
            entry.expires_at = self._clock() + ttl
            return True

    def _read(
        self, key: str, refresh_ttl: int | None, *, kind: type[dict[str, bytes]]
    ) -> dict[str, bytes] | None:
        if refresh_ttl is not None:
            check_ttl(refresh_ttl)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                return None
            fields = dict(self._fields(key, entry, kind))
            if refresh_ttl is not None:
                entry.expires_at = self._clock() + refresh_ttl
            return fields

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def queue_push(self, key: str, value: bytes, *, ttl: int) -> int:
        check_key(key)
        check_ttl(ttl)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                self._set(key, _Queue(), ttl)
                entry = self._data[key]
            items = self._items(key, entry)
            items.append(bytes(value))
            entry.expires_at = self._clock() + ttl
            self._queued.notify_all()
            return len(items)

    def queue_pop(self, key: str, *, timeout: float) -> bytes | None:
        check_key(key)
        check_wait(timeout)
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                entry = self._live(key)
                if entry is not None and self._items(key, entry):
                    items = self._items(key, entry)
                    value = items.popleft()
                    if not items:  # an empty list does not exist in Redis either
                        del self._data[key]
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._queued.wait(left)

    def queue_length(self, key: str) -> int:
        check_key(key)
        with self._lock:
            entry = self._live(key)
            return 0 if entry is None else len(self._items(key, entry))

    def deadline_add(self, key: str, member: str, *, deadline: float, ttl: int) -> None:
        check_key(key)
        check_ttl(ttl)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                self._set(key, _Deadlines(), ttl)
                entry = self._data[key]
            self._deadlines(key, entry)[member] = float(deadline)
            entry.expires_at = self._clock() + ttl

    def deadline_remove(self, key: str, member: str) -> None:
        check_key(key)
        with self._lock:
            entry = self._live(key)
            if entry is not None:
                self._deadlines(key, entry).pop(member, None)

    def deadline_count(self, key: str, *, now: float) -> int:
        check_key(key)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                return 0
            members = self._deadlines(key, entry)
            for gone in [m for m, deadline in members.items() if deadline <= now]:
                del members[gone]
            if not members:  # an empty sorted set does not exist in Redis either
                del self._data[key]
            return len(members)

    @staticmethod
    def _deadlines(key: str, entry: _Entry) -> _Deadlines:
        if not isinstance(entry.value, _Deadlines):
            raise WrongValueType(f"key {key!r} does not hold a deadline set")
        return entry.value

    @staticmethod
    def _items(key: str, entry: _Entry) -> _Queue:
        if not isinstance(entry.value, _Queue):
            raise WrongValueType(f"key {key!r} does not hold a queue")
        return entry.value

    def publish(self, channel: str, message: bytes) -> None:
        with self._lock:
            subscribers = list(self._channels.get(channel, ()))
        for subscription in subscribers:
            subscription.deliver(bytes(message))

    def subscribe(self, channel: str) -> Subscription:
        subscription = _MemorySubscription(self, channel)
        with self._lock:
            self._channels.setdefault(channel, []).append(subscription)
        return subscription

    def _unsubscribe(self, channel: str, subscription: _MemorySubscription) -> None:
        with self._lock:
            subscribers = self._channels.get(channel, [])
            if subscription in subscribers:
                subscribers.remove(subscription)
            if not subscribers:
                self._channels.pop(channel, None)

    def ping(self) -> None:
        """Always reachable: the store lives in this process."""

    def close(self) -> None:
        """Nothing to release; the values live as long as the process."""

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

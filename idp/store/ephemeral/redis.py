"""The Redis short-lived store: shared by every instance, so any one can finish a login.

Every key and channel is namespaced by ``prefix``. Multi-step operations go out as one
``MULTI``/``EXEC`` pipeline, so each contract operation is one round trip and atomic. Pooling,
reconnects and health checks are redis-py's own (``health_check_interval`` on checkout).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import redis

from idp.store.ephemeral.base import Subscription, check_key, check_mapping, check_ttl
from idp.store.errors import StoreError, StoreUnavailable, WrongValueType

DEFAULT_PREFIX = "hideez-idp:"
HEALTH_CHECK_INTERVAL = 30
SOCKET_TIMEOUT = 5.0


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn redis-py errors into the store's typed errors, naming the operation."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise StoreUnavailable(f"Redis did not answer {what}: {exc}") from exc
    except redis.ResponseError as exc:
        if "WRONGTYPE" in str(exc) or "not an integer" in str(exc):
            raise WrongValueType(f"{what}: {exc}") from exc
        raise StoreError(f"Redis refused {what}: {exc}") from exc


def _shown(key: str) -> str:
    """The key's namespace only: keys end in session ids, challenge handles and login tickets,
    and error descriptions reach the log and the error page."""
    namespace, sep, _ = key.partition(":")
    return f"'{namespace}:…'" if sep else "a key"


_HASH_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""


class _RedisSubscription:
    def __init__(self, pubsub: Any, channel: str) -> None:
        self._pubsub = pubsub
        self._channel = channel

    def get(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + max(timeout, 0.0)
        with _translated(f"reading channel {self._channel!r}"):
            while True:
                remaining = deadline - time.monotonic()
                message = self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=max(remaining, 0.0)
                )
                if message is not None and message.get("type") == "message":
                    return cast(bytes, message["data"])
                if remaining <= 0:
                    return None

    def close(self) -> None:
        self._pubsub.close()


class RedisStore:
    """:class:`~idp.store.ephemeral.base.EphemeralStore` over a redis-py client."""

    def __init__(self, client: redis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix
        # One round trip, atomic: HSET only when the hash exists (never revive an ended one).
        self._hash_update = client.register_script(_HASH_UPDATE)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        client = redis.Redis.from_url(
            url,
            health_check_interval=HEALTH_CHECK_INTERVAL,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
        )
        return cls(client, prefix=prefix)

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def client(self) -> redis.Redis:
        return self._client

    def _k(self, key: str) -> str:
        check_key(key)
        return self._prefix + key

    def put(self, key: str, value: bytes, *, ttl: int) -> None:
        check_ttl(ttl)
        with _translated(f"SET {_shown(key)}"):
            self._client.set(self._k(key), value, ex=ttl)

    def get(self, key: str) -> bytes | None:
        with _translated(f"GET {_shown(key)}"):
            return cast("bytes | None", self._client.get(self._k(key)))

    def take(self, key: str) -> bytes | None:
        with _translated(f"GETDEL {_shown(key)}"):
            return cast("bytes | None", self._client.getdel(self._k(key)))

    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool:
        check_ttl(ttl)
        with _translated(f"SET NX {_shown(key)}"):
            return bool(self._client.set(self._k(key), value, ex=ttl, nx=True))

    def incr(self, key: str, *, ttl: int) -> int:
        check_ttl(ttl)
        full = self._k(key)
        # SET NX EX creates the counter with its TTL; INCR keeps that TTL. One atomic trip.
        with _translated(f"INCR {_shown(key)}"), self._client.pipeline(transaction=True) as pipe:
            pipe.set(full, 0, ex=ttl, nx=True)
            pipe.incr(full)
            _, count = pipe.execute()
        return int(count)

    def hash_put(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> None:
        check_ttl(ttl)
        check_mapping(mapping)
        full = self._k(key)
        with _translated(f"HSET {_shown(key)}"), self._client.pipeline(transaction=True) as pipe:
            redis_fields: dict[Any, Any] = dict(mapping)
            pipe.hset(full, mapping=redis_fields)
            pipe.expire(full, ttl)
            pipe.execute()

    def hash_update(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> bool:
        check_ttl(ttl)
        check_mapping(mapping)
        args: list[Any] = [ttl]
        for name, value in mapping.items():
            args += [name, value]
        with _translated(f"HSET {_shown(key)}"):
            return bool(self._hash_update(keys=[self._k(key)], args=args))

    def hash_get(self, key: str, *, refresh_ttl: int | None = None) -> dict[str, bytes] | None:
        full = self._k(key)
        if refresh_ttl is None:
            with _translated(f"HGETALL {_shown(key)}"):
                raw = self._client.hgetall(full)
        else:
            check_ttl(refresh_ttl)
            with (
                _translated(f"HGETALL {_shown(key)}"),
                self._client.pipeline(transaction=True) as pipe,
            ):
                pipe.hgetall(full)
                pipe.expire(full, refresh_ttl)
                raw, _ = pipe.execute()
        if not raw:
            return None
        fields = cast("dict[bytes, bytes]", raw)
        return {field.decode("utf-8"): value for field, value in fields.items()}

    def delete(self, key: str) -> None:
        with _translated(f"DEL {_shown(key)}"):
            self._client.delete(self._k(key))

    def publish(self, channel: str, message: bytes) -> None:
        with _translated(f"PUBLISH {channel!r}"):
            self._client.publish(self._k(channel), message)

    def subscribe(self, channel: str) -> Subscription:
        full = self._k(channel)
        pubsub = self._client.pubsub()  # type: ignore[no-untyped-call]
        with _translated(f"SUBSCRIBE {channel!r}"):
            pubsub.subscribe(full)
            # Wait for the server's confirmation so that a message published after subscribe()
            # returns is delivered, exactly as with the memory store.
            deadline = time.monotonic() + SOCKET_TIMEOUT
            while time.monotonic() < deadline:
                message = pubsub.get_message(timeout=0.1)
                if message is not None and message.get("type") == "subscribe":
                    return _RedisSubscription(pubsub, channel)
        pubsub.close()
        raise StoreUnavailable(f"Redis did not confirm SUBSCRIBE {channel!r}")

    def ping(self) -> None:
        with _translated("PING"):
            self._client.ping()

    def close(self) -> None:
        self._client.close()

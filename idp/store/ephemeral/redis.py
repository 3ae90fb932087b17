"""The Redis short-lived store: shared by every instance, so any one can finish a login.

Every key and channel is namespaced by ``prefix``. Multi-step operations go out as one
``MULTI``/``EXEC`` pipeline or one script, so each contract operation is one round trip and
atomic. Pooling, reconnects and health checks are redis-py's own (``health_check_interval`` on
checkout).

A contract *hash* is a Redis hash. A contract *record* (a small hash merged whole, such as a
session) is one packed string value (``MAGIC`` then ``len:name len:value`` pairs) merged by a
script: a session's values (its factors, a SAML participant) are longer than the 64 bytes up
to which Redis keeps a hash compact (``hash-max-listpack-value``), and as a full-size Redis
hash a session costs ~1.1 KB against ~0.75 KB packed. Packed values are marked, so reading one
as a plain value (or the reverse) is refused as the wrong type, as the contract demands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import redis
from redis.exceptions import ClusterDownError, RedisClusterException

from idp.store.ephemeral.base import (
    Subscription,
    check_key,
    check_mapping,
    check_ttl,
    check_wait,
)
from idp.store.errors import StoreError, StoreUnavailable, WrongValueType

log = logging.getLogger(__name__)
DEFAULT_PREFIX = "hideez-idp:"
HEALTH_CHECK_INTERVAL = 30
SOCKET_TIMEOUT = 5.0


@contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn redis-py errors into the store's typed errors, naming the operation."""
    try:
        yield
    except (
        redis.ConnectionError,
        redis.TimeoutError,
        ClusterDownError,
        RedisClusterException,
    ) as exc:
        # redis-py's text names the host and port: it goes to the log, not the client.
        log.error("Redis did not answer %s: %s", what, exc)
        raise StoreUnavailable(
            f"the short-lived store (Redis) did not answer {what}; try again shortly",
            store="short_lived",
        ) from exc
    except redis.ResponseError as exc:
        if "WRONGTYPE" in str(exc) or "not an integer" in str(exc):
            raise WrongValueType(f"{what}: {exc}") from exc
        raise StoreError(f"Redis refused {what}: {exc}") from exc


def _shown(key: str) -> str:
    """The key's namespace only: keys end in session ids, challenge handles and login tickets,
    and error descriptions reach the log and the error page."""
    namespace, sep, _ = key.partition(":")
    return f"'{namespace}:…'" if sep else "a key"


MAGIC = b"\xffh1:"

_HASH_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

# ARGV: MAGIC, mode ('put' merges or creates, 'update' merges only if it exists), ttl, then
# name/value pairs. Fields are only ever added or replaced, never removed.
_RECORD_MERGE = """
local magic, mode, ttl = ARGV[1], ARGV[2], ARGV[3]
local current = redis.call('GET', KEYS[1])
if not current then
  if mode == 'update' then return 0 end
  current = magic
elseif string.sub(current, 1, #magic) ~= magic then
  return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
end
local fields, order, i = {}, {}, #magic + 1
local function field(at)
  local colon = string.find(current, ':', at, true)
  local size = tonumber(string.sub(current, at, colon - 1))
  return string.sub(current, colon + 1, colon + size), colon + size + 1
end
while i <= #current do
  local name, value
  name, i = field(i)
  value, i = field(i)
  if fields[name] == nil then order[#order + 1] = name end
  fields[name] = value
end
for j = 4, #ARGV, 2 do
  if fields[ARGV[j]] == nil then order[#order + 1] = ARGV[j] end
  fields[ARGV[j]] = ARGV[j + 1]
end
local parts = {magic}
for _, name in ipairs(order) do
  local value = fields[name]
  parts[#parts + 1] = #name .. ':' .. name .. #value .. ':' .. value
end
redis.call('SET', KEYS[1], table.concat(parts), 'EX', ttl)
return 1
"""

# GETDEL, except that a record is refused and left in place.
_TAKE = """
local value = redis.call('GET', KEYS[1])
if not value then return false end
if string.sub(value, 1, #ARGV[1]) == ARGV[1] then
  return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
end
redis.call('DEL', KEYS[1])
return value
"""


def _unpack(packed: bytes, what: str) -> dict[str, bytes]:
    if not packed.startswith(MAGIC):
        raise WrongValueType(f"{what}: the key holds a plain value, not a record")
    fields: dict[str, bytes] = {}
    at = len(MAGIC)
    try:
        while at < len(packed):
            name, at = _field(packed, at)
            value, at = _field(packed, at)
            fields[name.decode("utf-8")] = value
    except ValueError as exc:
        raise WrongValueType(f"{what}: the record is damaged ({exc})") from None
    return fields


def _field(packed: bytes, at: int) -> tuple[bytes, int]:
    colon = packed.index(b":", at)
    end = colon + 1 + int(packed[at:colon])
    if end > len(packed):
        raise ValueError(f"a field of {end - colon - 1} bytes at offset {at} runs past the end")
    return packed[colon + 1 : end], end


def _plain(value: bytes | None, what: str) -> bytes | None:
    if value is not None and value.startswith(MAGIC):
        raise WrongValueType(f"{what}: the key holds a record, not a plain value")
    return value


def _storable(value: bytes) -> bytes:
    if value.startswith(MAGIC):
        raise ValueError("a value may not begin with the store's record marker")
    return value


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
        # One round trip each, atomic; an update never revives an ended hash.
        self._hash_update = client.register_script(_HASH_UPDATE)
        self._record_merge = client.register_script(_RECORD_MERGE)
        self._take = client.register_script(_TAKE)

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
            self._client.set(self._k(key), _storable(value), ex=ttl)

    def get(self, key: str) -> bytes | None:
        what = f"GET {_shown(key)}"
        with _translated(what):
            return _plain(cast("bytes | None", self._client.get(self._k(key))), what)

    def take(self, key: str) -> bytes | None:
        with _translated(f"GETDEL {_shown(key)}"):
            return cast("bytes | None", self._take(keys=[self._k(key)], args=[MAGIC]))

    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool:
        check_ttl(ttl)
        with _translated(f"SET NX {_shown(key)}"):
            return bool(self._client.set(self._k(key), _storable(value), ex=ttl, nx=True))

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

    def record_put(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> None:
        self._merge("put", key, mapping, ttl)

    def record_update(self, key: str, mapping: Mapping[str, bytes], *, ttl: int) -> bool:
        return self._merge("update", key, mapping, ttl)

    def _merge(self, mode: str, key: str, mapping: Mapping[str, bytes], ttl: int) -> bool:
        check_ttl(ttl)
        check_mapping(mapping)
        args: list[Any] = [MAGIC, mode, ttl]
        for name, value in mapping.items():
            args += [name, value]
        with _translated(f"record SET {_shown(key)}"):
            return bool(self._record_merge(keys=[self._k(key)], args=args))

    def record_get(self, key: str, *, refresh_ttl: int | None = None) -> dict[str, bytes] | None:
        full = self._k(key)
        what = f"record GET {_shown(key)}"
        with _translated(what):
            if refresh_ttl is None:
                raw = self._client.get(full)
            else:
                check_ttl(refresh_ttl)
                raw = self._client.getex(full, ex=refresh_ttl)
        if raw is None:
            return None
        return _unpack(cast(bytes, raw), what)

    def delete(self, key: str) -> None:
        with _translated(f"DEL {_shown(key)}"):
            self._client.delete(self._k(key))

    def queue_push(self, key: str, value: bytes, *, ttl: int) -> int:
        check_ttl(ttl)
        full = self._k(key)
        with _translated(f"RPUSH {_shown(key)}"), self._client.pipeline(transaction=True) as pipe:
            pipe.rpush(full, value)
            pipe.expire(full, ttl)
            length, _ = pipe.execute()
        return int(length)

    def queue_pop(self, key: str, *, timeout: float) -> bytes | None:
        check_wait(timeout)
        full = self._k(key)
        with _translated(f"BLPOP {_shown(key)}"):
            if timeout == 0:  # BLPOP 0 would wait for ever
                return cast("bytes | None", self._client.lpop(full))
            popped = cast("tuple[bytes, bytes] | None", self._client.blpop([full], timeout))
        return None if popped is None else popped[1]

    def queue_length(self, key: str) -> int:
        with _translated(f"LLEN {_shown(key)}"):
            return int(self._client.llen(self._k(key)))

    def deadline_add(self, key: str, member: str, *, deadline: float, ttl: int) -> None:
        check_ttl(ttl)
        full = self._k(key)
        with _translated(f"ZADD {_shown(key)}"), self._client.pipeline(transaction=True) as pipe:
            pipe.zadd(full, {member: deadline})
            pipe.expire(full, ttl)
            pipe.execute()

    def deadline_remove(self, key: str, member: str) -> None:
        with _translated(f"ZREM {_shown(key)}"):
            self._client.zrem(self._k(key), member)

    def deadline_count(self, key: str, *, now: float) -> int:
        full = self._k(key)
        with _translated(f"ZCARD {_shown(key)}"), self._client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(full, "-inf", now)
            pipe.zcard(full)
            _, count = pipe.execute()
        return int(count)

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
        raise StoreUnavailable(f"Redis did not confirm SUBSCRIBE {channel!r}", store="short_lived")

    def ping(self) -> None:
        with _translated("PING"):
            self._client.ping()

    def close(self) -> None:
        self._client.close()

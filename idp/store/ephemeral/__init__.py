"""The short-lived store: sessions, challenges, replay caches, rate limits, pub/sub.

``open_ephemeral(url)`` picks the backend from the URL:

- ``memory://`` (optionally ``memory://?max_keys=N``): in this process only;
- ``redis://host:port/db`` or ``rediss://…`` (optionally ``?prefix=NAME:``): shared;
- ``redis+sentinel://…`` and ``redis+cluster://…``: Sentinel and Cluster (``redis_topology``).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from idp.store.ephemeral import redis_topology as topology
from idp.store.ephemeral.base import EphemeralStore, Subscription
from idp.store.ephemeral.memory import DEFAULT_MAX_KEYS, MemoryStore
from idp.store.ephemeral.redis import (
    DEFAULT_PREFIX,
    HEALTH_CHECK_INTERVAL,
    SOCKET_TIMEOUT,
    RedisStore,
)
from idp.store.errors import InvalidStoreUrl

__all__ = ["EphemeralStore", "MemoryStore", "RedisStore", "Subscription", "open_ephemeral"]

_REDIS_SCHEMES = ("redis", "rediss", "unix", *topology.SCHEMES)


def _open_memory(query: list[tuple[str, str]]) -> MemoryStore:
    max_keys = DEFAULT_MAX_KEYS
    for name, value in query:
        if name != "max_keys":
            raise InvalidStoreUrl(f"memory:// accepts only the option max_keys, got {name!r}")
        if not value.isdigit() or int(value) < 1:
            raise InvalidStoreUrl(f"memory:// max_keys must be a positive integer, got {value!r}")
        max_keys = int(value)
    return MemoryStore(max_keys=max_keys)


def open_ephemeral(url: str) -> EphemeralStore:
    """Open the short-lived store named by ``url``; other schemes are refused."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if parts.scheme == "memory":
        if parts.netloc or parts.path not in ("", "/"):
            raise InvalidStoreUrl(f"memory:// takes no host or path, got {url!r}")
        return _open_memory(query)
    if parts.scheme in _REDIS_SCHEMES:
        prefix = DEFAULT_PREFIX
        rest = []
        for name, value in query:
            if name == "prefix":
                prefix = value
            else:
                rest.append((name, value))
        if parts.scheme in topology.SCHEMES:
            client = topology.topology_client(
                parts, dict(rest), timeout=SOCKET_TIMEOUT, health_check=HEALTH_CHECK_INTERVAL
            )
            return RedisStore(client, prefix=prefix)
        redis_url = urlunsplit(parts._replace(query=urlencode(rest)))
        return RedisStore.from_url(redis_url, prefix=prefix)
    raise InvalidStoreUrl(
        f"unsupported short-lived store URL scheme {parts.scheme!r}: expected memory://, "
        "redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://"
    )

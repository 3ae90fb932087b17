"""Redis deployments beyond one server, through redis-py's own clients:

- ``redis+sentinel://[user:password@]host:26379[,host:26379…]/SERVICE[/DB]`` — the master that
  Sentinel names for SERVICE (``redis.sentinel.Sentinel.master_for``), followed across
  failovers; ``?sentinel_password=…`` when the sentinels need one;
- ``redis+cluster://[user:password@]host:port[,host:port…]/`` — Redis Cluster
  (``redis.cluster.RedisCluster``) from those start-up nodes;
- ``rediss+sentinel://`` and ``rediss+cluster://`` speak TLS to the data nodes.

The store uses single-key commands and scripts only, so every operation lands on one node
(and one hash slot) of a cluster.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

import redis
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException
from redis.sentinel import Sentinel

from idp.store.errors import InvalidStoreUrl, StoreUnavailable

log = logging.getLogger(__name__)

SCHEMES = ("redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster")


def topology_client(
    parts: SplitResult, options: Mapping[str, str], *, timeout: float, health_check: int
) -> redis.Redis:
    """The redis-py client for a Sentinel or Cluster URL (``parts`` without the store's own
    ``prefix`` option; ``options`` are the query's other options)."""
    nodes = _nodes(parts)
    common: dict[str, Any] = {
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "ssl": parts.scheme.startswith("rediss"),
    }
    if parts.scheme.endswith("+cluster"):
        _only(options, ())
        _no_path(parts)
        startup = [ClusterNode(h, p) for h, p in nodes]  # type: ignore[no-untyped-call]
        try:
            # RedisCluster reads the slot map from a start-up node at once.
            cluster = RedisCluster(startup_nodes=startup, **common)
        except (redis.RedisError, RedisClusterException) as exc:
            log.error("Redis Cluster %s did not answer: %s", nodes, exc)
            raise StoreUnavailable(
                "the short-lived store (Redis Cluster) did not answer: none of its start-up "
                "nodes could be reached",
                store="short_lived",
            ) from exc
        # RedisCluster offers the commands and scripts the store uses with Redis's signatures.
        return cluster  # type: ignore[return-value]
    _only(options, ("sentinel_password",))
    service, db = _service(parts.path)
    sentinel = Sentinel(  # type: ignore[no-untyped-call]
        nodes,
        sentinel_kwargs={"password": options.get("sentinel_password"), "socket_timeout": timeout},
        **common,
    )
    master: redis.Redis = sentinel.master_for(  # type: ignore[no-untyped-call]
        service, db=db, health_check_interval=health_check
    )
    return master


def check_url(url: str) -> None:
    """Refuse a malformed Sentinel or Cluster URL without connecting (configuration checks)."""
    parts = urlsplit(url)
    options = {k: v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "prefix"}
    _nodes(parts)
    if parts.scheme.endswith("+cluster"):
        _only(options, ())
        _no_path(parts)
    else:
        _only(options, ("sentinel_password",))
        _service(parts.path)


def _no_path(parts: SplitResult) -> None:
    if parts.path not in ("", "/"):
        raise InvalidStoreUrl("a redis+cluster:// URL takes no database or path (db 0 only)")


def _nodes(parts: SplitResult) -> list[tuple[str, int]]:
    hosts = parts.netloc.rpartition("@")[2]
    found = []
    for item in hosts.split(","):
        host, _, port = item.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise InvalidStoreUrl(
                f"{parts.scheme}:// needs host:port[,host:port…], got {item or hosts!r}"
            )
        found.append((host.strip("[]"), int(port)))
    return found


def _service(path: str) -> tuple[str, int]:
    pieces = [p for p in path.split("/") if p]
    if not pieces or len(pieces) > 2 or (len(pieces) == 2 and not pieces[1].isdigit()):
        raise InvalidStoreUrl(
            f"a redis+sentinel:// URL names the service and optionally a database: "
            f"/SERVICE[/DB], got {path!r}"
        )
    return pieces[0], int(pieces[1]) if len(pieces) == 2 else 0


def _only(options: Mapping[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InvalidStoreUrl(
            f"unsupported option {unknown[0]!r} here; allowed: prefix"
            + "".join(f", {a}" for a in allowed)
        )

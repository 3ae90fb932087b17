"""The store's contract also runs against Redis Cluster and Redis Sentinel of our own (real
redis-server processes on free ports, started once per test session)."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator

import pytest

from idp.store.ephemeral import EphemeralStore, RedisStore, open_ephemeral
from tests.redis_servers import SentinelSet, redis_cluster, redis_sentinel


@pytest.fixture(scope="session")
def cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server is not installed")
    with redis_cluster(tmp_path_factory.mktemp("redis-cluster")) as ports:
        yield ports


@pytest.fixture(scope="session")
def sentinels(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSet]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with redis_sentinel(tmp_path_factory.mktemp("redis-sentinel")) as found:
        yield found


def _opened(url: str) -> Iterator[RedisStore]:
    store = open_ephemeral(f"{url}?prefix=t{secrets.token_hex(4)}:")
    assert isinstance(store, RedisStore)
    yield store
    store.close()


@pytest.fixture
def cluster_store(cluster_ports: list[int]) -> Iterator[RedisStore]:
    nodes = ",".join(f"127.0.0.1:{p}" for p in cluster_ports)
    yield from _opened(f"redis+cluster://{nodes}/")


@pytest.fixture
def sentinel_store(sentinels: SentinelSet) -> Iterator[RedisStore]:
    yield from _opened(sentinels.url)


@pytest.fixture(
    params=[
        "memory",
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("redis-cluster", marks=pytest.mark.redis),
        pytest.param("redis-sentinel", marks=pytest.mark.redis),
    ]
)
def ephemeral(request: pytest.FixtureRequest) -> EphemeralStore:
    name = {"memory": "memory_store", "redis": "redis_store", "redis-cluster": "cluster_store",
            "redis-sentinel": "sentinel_store"}[request.param]  # fmt: skip
    store: EphemeralStore = request.getfixturevalue(name)
    return store

"""The SATOSA set-up runs on PostgreSQL + Redis: several SATOSA workers share the short-lived
store, and the Flask IdP beside SATOSA (where passkeys are enrolled) shares the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.satosa.client import SatosaClient
from tests.e2e.satosa.proxy import Proxy, run_proxy
from tests.e2e.server import POSTGRES_REDIS

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="session")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """One set-up for every module here (each sets the upstream's user and context it needs)."""
    directory: Path = tmp_path_factory.mktemp("satosa")
    with run_proxy(directory, storage=POSTGRES_REDIS) as running:
        yield running


@pytest.fixture(scope="module")
def alice(proxy: Proxy) -> SatosaClient:
    """A browser whose owner enrolled a passkey at the Flask IdP (then closed it)."""
    client = SatosaClient(proxy)
    client.enrol("alice")
    return client

"""Every end-to-end test runs on both storage set-ups through the ``storage`` fixture: the
servers below (and the module servers of the OIDC, EAM and WS-Fed tests) are started once per
set-up, so each test appears twice, as ``[sqlite]`` and ``[pg-redis]``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import POSTGRES_REDIS, SQLITE_MEMORY, RunningServer, run_idp


@pytest.fixture(
    scope="session",
    params=[
        pytest.param(SQLITE_MEMORY, id="sqlite"),
        pytest.param(
            POSTGRES_REDIS, id="pg-redis", marks=[pytest.mark.postgres, pytest.mark.redis]
        ),
    ],
)
def storage(request: pytest.FixtureRequest) -> str:
    """SQLite + the in-process store, or PostgreSQL + Redis (a failure in CI when missing)."""
    name: str = request.param
    return name


@pytest.fixture(scope="session")
def idp_server(tmp_path_factory: pytest.TempPathFactory, storage: str) -> Iterator[RunningServer]:
    """The demo IdP (user verification required) with the demo SP, on ``storage``; shared by
    the browser and hostile-input tests of that set-up."""
    with run_idp(tmp_path_factory.mktemp(f"idp-{storage}"), storage=storage) as server:
        yield server


@pytest.fixture(scope="session")
def sso_server(tmp_path_factory: pytest.TempPathFactory, storage: str) -> Iterator[RunningServer]:
    """The IdP with the demo SP on ``storage``, its policy without user verification, so that
    soft-webauthn (which never sets UV) signs in: the server of the ordinary SAML flows."""
    directory = tmp_path_factory.mktemp(f"sso-{storage}")
    with run_idp(directory, storage=storage, uv_required=False) as server:
        yield server


@pytest.fixture
def make_idp_server(tmp_path: Path, storage: str):  # type: ignore[no-untyped-def]
    """Start a dedicated server on ``storage`` with extra YAML (a protocol section), etc."""
    stack: list = []

    def start(**kwargs) -> RunningServer:  # type: ignore[no-untyped-def]
        ctx = run_idp(tmp_path / f"idp{len(stack)}", **{"storage": storage, **kwargs})
        server = ctx.__enter__()
        stack.append(ctx)
        return server

    yield start
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)

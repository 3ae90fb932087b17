from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import RunningServer, run_idp


@pytest.fixture(scope="session")
def idp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The IdP on SQLite + the in-process store, with the demo SP; shared by a test session."""
    with run_idp(tmp_path_factory.mktemp("idp")) as server:
        yield server


@pytest.fixture
def make_idp_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Start a dedicated server with extra YAML (a protocol section), other stores, etc."""
    stack: list = []

    def start(**kwargs) -> RunningServer:  # type: ignore[no-untyped-def]
        ctx = run_idp(tmp_path / f"idp{len(stack)}", **kwargs)
        server = ctx.__enter__()
        stack.append(ctx)
        return server

    yield start
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)

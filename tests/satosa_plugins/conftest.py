"""A demo IdP configuration (SQLite + the in-process store) the plugins name, and SATOSA's own
``Context`` / ``InternalData`` as a SATOSA proxy hands them to a micro-service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_idp.demo import prepare, seed
from idp import runtime as runtime_module
from idp.runtime import Runtime, shared_runtime


@pytest.fixture(scope="module")
def idp_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = prepare(tmp_path_factory.mktemp("idp"), port=8080, sp_port=8081)
    yield path
    runtime = runtime_module._SHARED.pop(path.resolve(), None)
    if runtime is not None:
        runtime.close()


@pytest.fixture(scope="module")
def runtime(idp_config: Path) -> Runtime:
    rt = shared_runtime(idp_config)
    seed(rt)
    return rt

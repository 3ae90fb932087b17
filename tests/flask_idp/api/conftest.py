from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from tests.flask_idp.admin_support import Api, admin_app


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from admin_app(tmp_path_factory)


@pytest.fixture(autouse=True)
def _reset_clock(api: Api) -> Iterator[None]:
    yield
    api.clock.offset = dt.timedelta(0)

"""Two IdPs per storage set-up, shared by every module here (each test makes its own
employees with ``new_person``, so no test sees another's requests, limits or devices):

- ``app_server``: the demo (user verification required), its policy listing the app and
  TOTP, the python3-saml SP, WS-Fed for Exchange, a master key, "this wasn't me" suspending SSO;
- ``code_server``: the same without user verification (a TOTP code alone can then sign in)
  and with cheap argon2 costs for the two-factor mode's passwords."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.authenticator.helpers import authenticator_idp
from tests.e2e.server import RunningServer
from tests.e2e.test_wsfed_exchange import WSFED_YAML

LIMITS = """limits: {login_attempts_per_minute: 100000}
"""
APP = """authenticator:
  push_per_address_per_minute: 100000
  push_per_user_per_minute: 60
  suspend_sso_on_report: true
"""
CODES = """passwords:
  argon2: {memory_kib: 19456, time_cost: 2, parallelism: 1}
"""


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory, storage: str) -> Iterator[RunningServer]:
    with authenticator_idp(tmp_path_factory.mktemp(f"app-{storage}"), storage=storage,
                           extra_config=LIMITS + APP + WSFED_YAML) as server:  # fmt: skip
        yield server


@pytest.fixture(scope="session")
def code_server(tmp_path_factory: pytest.TempPathFactory, storage: str) -> Iterator[RunningServer]:
    with authenticator_idp(tmp_path_factory.mktemp(f"codes-{storage}"), storage=storage,
                           uv=False, extra_config=LIMITS + CODES) as server:  # fmt: skip
        yield server

"""The ``passwords:`` section: defaults, fixed or measured argon2 costs, path-precise errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from idp.config.loader import load_config
from idp.config.passwords import PasswordSettings
from idp.errors import ConfigError
from idp.factors.password import Argon2Params
from idp.factors.password_signin import PasswordLimits

BASE = """\
base_url: https://idp.example.com
database_url: sqlite:///idp.sqlite3
keys:
  signing: {key: k.pem, cert: c.pem}
pairwise_salt: {env: SALT}
policies:
  default:
    factors: [passkey]
"""
ENV = {"SALT": "s" * 32}


def load(tmp_path: Path, extra: str = "") -> PasswordSettings:
    path = tmp_path / "idp.yaml"
    path.write_text(BASE + textwrap.dedent(extra))
    return load_config(path, env=ENV).passwords


def test_defaults_are_auto_twelve_characters_and_ten_wrong_for_fifteen_minutes(
    tmp_path: Path,
) -> None:
    settings = load(tmp_path)
    assert settings == PasswordSettings(
        argon2=None, target_ms=75, min_length=12,
        limits=PasswordLimits(max_failures=10, lock_minutes=15, failures_per_address_per_minute=30),
    )  # fmt: skip


def test_every_key(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        """\
        passwords:
          argon2: {memory_kib: 65536, time_cost: 3, parallelism: 2}
          min_length: 15
          lockout_attempts: 5
          lockout_minutes: 30
          failures_per_address_per_minute: 100
        """,
    )
    assert settings.argon2 == Argon2Params(memory_kib=65536, time_cost=3, parallelism=2)
    assert settings.min_length == 15
    assert settings.limits == PasswordLimits(5, 30, 100)


def test_auto_with_a_target(tmp_path: Path) -> None:
    settings = load(tmp_path, "passwords: {argon2: auto, target_ms: 120}\n")
    assert (settings.argon2, settings.target_ms) == (None, 120)


@pytest.mark.parametrize(
    ("extra", "path", "reason"),
    [
        ("passwords: {argon2: fast}\n", "passwords.argon2", "expected auto or a mapping"),
        (
            "passwords: {argon2: {memory_kib: 8192, time_cost: 2}}\n",
            "passwords.argon2.memory_kib",
            "at least 19456",
        ),
        (
            "passwords: {argon2: {memory_kib: 19456, time_cost: 1}}\n",
            "passwords.argon2.time_cost",
            "at least 2",
        ),
        ("passwords: {argon2: {memory_kib: 19456}}\n", "passwords.argon2.time_cost", "is required"),
        (
            "passwords: {argon2: {memory_kib: 19456, time_cost: 2, lanes: 1}}\n",
            "passwords.argon2.lanes",
            "unknown key",
        ),
        (
            "passwords: {argon2: {memory_kib: 19456, time_cost: 2}, target_ms: 80}\n",
            "passwords.target_ms",
            "only used with argon2: auto",
        ),
        ("passwords: {target_ms: 5}\n", "passwords.target_ms", "at least 10"),
        ("passwords: {min_length: 6}\n", "passwords.min_length", "at least 8"),
        ("passwords: {min_length: 100}\n", "passwords.min_length", "at most 64"),
        ("passwords: {lockout_attempts: 0}\n", "passwords.lockout_attempts", "at least 1"),
        (
            "passwords: {lockout_minutes: '15'}\n",
            "passwords.lockout_minutes",
            "expected an integer",
        ),
        (
            "passwords: {failures_per_address_per_minute: 0}\n",
            "passwords.failures_per_address_per_minute",
            "at least 1",
        ),
        ("passwords: {lockout: 10}\n", "passwords.lockout", "unknown key"),
        ("passwords: [auto]\n", "passwords", "expected a mapping"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, extra: str, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, extra)
    assert caught.value.path == path
    assert reason in caught.value.reason

"""The ``observability:`` section: defaults, every key, and errors naming the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_idp.demo import prepare
from idp.config.loader import load_config
from idp.config.observability import ObservabilitySettings
from idp.errors import ConfigError


def _with(tmp_path: Path, section: str) -> Path:
    path = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    path.write_text(path.read_text() + section)
    return path


def test_defaults(tmp_path: Path) -> None:
    settings = load_config(_with(tmp_path, "")).observability
    assert settings == ObservabilitySettings()
    assert (settings.log_format, settings.metrics) == ("text", True)
    assert settings.metrics_from == ("127.0.0.0/8", "::1/128")


def test_every_key(tmp_path: Path) -> None:
    section = "observability: {log_format: json, metrics: false, metrics_from: [10.0.0.0/8]}\n"
    settings = load_config(_with(tmp_path, section)).observability
    assert settings == ObservabilitySettings(
        log_format="json", metrics=False, metrics_from=("10.0.0.0/8",)
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("observability: {colour: red}", "observability.colour: unknown key"),
        ("observability: {log_format: xml}", "observability.log_format: 'xml' is not one of"),
        ("observability: {metrics: maybe}", "observability.metrics"),
        ("observability: {metrics_from: [10.0.0.300/8]}", "observability.metrics_from[0]"),
        ("observability: {metrics_from: 10.0.0.0/8}", "observability.metrics_from"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_with(tmp_path, section + "\n"))
    assert message in str(caught.value)

"""The ``observability:`` section: defaults, every key, and errors naming the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_idp.demo import prepare
from idp.config.loader import load_config
from idp.config.observability import ObservabilitySettings, TracingSettings
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


def test_tracing_keys(tmp_path: Path) -> None:
    assert load_config(_with(tmp_path, "")).observability.tracing == TracingSettings()
    assert not TracingSettings().enabled
    section = (
        "observability:\n  tracing: {enabled: true, endpoint: 'https://otel.corp:4318/v1/traces',"
        " service_name: idp-eu.1, sample_ratio: 0.25}\n"
    )
    assert load_config(_with(tmp_path, section)).observability.tracing == TracingSettings(
        enabled=True,
        endpoint="https://otel.corp:4318/v1/traces",
        service_name="idp-eu.1",
        sample_ratio=0.25,
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("observability: {colour: red}", "observability.colour: unknown key"),
        ("observability: {log_format: xml}", "observability.log_format: 'xml' is not one of"),
        ("observability: {metrics: maybe}", "observability.metrics"),
        ("observability: {metrics_from: [10.0.0.300/8]}", "observability.metrics_from[0]"),
        ("observability: {metrics_from: 10.0.0.0/8}", "observability.metrics_from"),
        ("observability: {tracing: {host: x}}", "observability.tracing.host: unknown key"),
        ("observability: {tracing: {enabled: yes please}}", "observability.tracing.enabled"),
        ("observability: {tracing: {endpoint: 'otel:4318'}}",
         "observability.tracing.endpoint: expected an http:// or https:// URL"),
        ("observability: {tracing: {sample_ratio: 1.5}}",
         "observability.tracing.sample_ratio: expected a number from 0 to 1"),
        ("observability: {tracing: {sample_ratio: true}}", "observability.tracing.sample_ratio"),
        ("observability: {tracing: {service_name: 'has space'}}",
         "observability.tracing.service_name"),
    ],
)  # fmt: skip
def test_errors_name_the_key(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_with(tmp_path, section + "\n"))
    assert message in str(caught.value)


def test_tracing_without_the_sdk_is_refused_naming_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(  # this machine has the SDK; a server without the extra does not
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("opentelemetry") else real(name, *a),
    )
    with pytest.raises(ConfigError) as caught:
        load_config(_with(tmp_path, "observability: {tracing: {enabled: true}}\n"))
    assert "observability.tracing.enabled: tracing needs the OpenTelemetry SDK" in str(caught.value)
    assert "hideez-idp[tracing]" in str(caught.value)

"""The ``observability:`` section: the log format, who may read the Prometheus metrics, and
OpenTelemetry tracing (see docs/operations.md, "Health, logs and metrics")."""

from __future__ import annotations

import importlib.util
import ipaddress
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from idp.config.reader import Node, optional

LogFormat = Literal["text", "json"]

LOOPBACK = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class TracingSettings:
    """OpenTelemetry tracing (the ``tracing`` extra); nothing of it is imported when off."""

    enabled: bool = False
    #: the OTLP/HTTP traces endpoint of a collector
    endpoint: str = "http://127.0.0.1:4318/v1/traces"
    service_name: str = "hideez-idp"
    #: share of new traces kept (a request with a sampled parent is always kept)
    sample_ratio: float = 1.0


@dataclass(frozen=True)
class ObservabilitySettings:
    #: ``json``: one JSON object per log line (time, level, logger, message, request_id)
    log_format: LogFormat = "text"
    #: serve ``/metrics``
    metrics: bool = True
    #: networks whose clients may read ``/metrics`` (after trusted_proxies are applied)
    metrics_from: tuple[str, ...] = LOOPBACK
    tracing: TracingSettings = TracingSettings()


def parse_observability(node: Node) -> ObservabilitySettings:
    node.only_keys("log_format", "metrics", "metrics_from", "tracing")
    d = ObservabilitySettings()
    return ObservabilitySettings(
        log_format=optional(
            node.get("log_format"), lambda n: n.as_choice(("text", "json")), d.log_format
        ),
        metrics=optional(node.get("metrics"), lambda n: n.as_bool(), d.metrics),
        metrics_from=optional(node.get("metrics_from"), _networks, d.metrics_from),
        tracing=optional(node.get("tracing"), parse_tracing, d.tracing),
    )


def parse_tracing(node: Node) -> TracingSettings:
    node.only_keys("enabled", "endpoint", "service_name", "sample_ratio")
    d = TracingSettings()
    enabled = optional(node.get("enabled"), Node.as_bool, d.enabled)
    if enabled and importlib.util.find_spec("opentelemetry.sdk") is None:
        raise node.child("enabled").error(
            "tracing needs the OpenTelemetry SDK: pip install 'hideez-idp[tracing]'"
        )
    return TracingSettings(
        enabled=enabled,
        endpoint=optional(node.get("endpoint"), _endpoint, d.endpoint),
        service_name=optional(
            node.get("service_name"),
            lambda n: n.as_str(pattern=r"[A-Za-z0-9][A-Za-z0-9._-]*", max_len=128),
            d.service_name,
        ),
        sample_ratio=optional(node.get("sample_ratio"), _ratio, d.sample_ratio),
    )


def _endpoint(node: Node) -> str:
    url = node.as_str(max_len=2048)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise node.error(f"expected an http:// or https:// URL of an OTLP collector, got {url!r}")
    return url


def _ratio(node: Node) -> float:
    value = node.value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise node.error(f"expected a number from 0 to 1 (the share of traces kept), got {value!r}")
    return float(value)


def _networks(node: Node) -> tuple[str, ...]:
    found = []
    for element in node.elements():
        text = element.as_str(max_len=64)
        element.convert(lambda v: ipaddress.ip_network(v, strict=False))
        found.append(text)
    return tuple(found)

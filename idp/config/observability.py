"""The ``observability:`` section: the log format, and who may read the Prometheus metrics
(see docs/operations.md, "Watching it")."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

from idp.config.reader import Node, optional

LogFormat = Literal["text", "json"]

LOOPBACK = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class ObservabilitySettings:
    #: ``json``: one JSON object per log line (time, level, logger, message, request_id)
    log_format: LogFormat = "text"
    #: serve ``/metrics``
    metrics: bool = True
    #: networks whose clients may read ``/metrics`` (after trusted_proxies are applied)
    metrics_from: tuple[str, ...] = LOOPBACK


def parse_observability(node: Node) -> ObservabilitySettings:
    node.only_keys("log_format", "metrics", "metrics_from")
    d = ObservabilitySettings()
    return ObservabilitySettings(
        log_format=optional(
            node.get("log_format"), lambda n: n.as_choice(("text", "json")), d.log_format
        ),
        metrics=optional(node.get("metrics"), lambda n: n.as_bool(), d.metrics),
        metrics_from=optional(node.get("metrics_from"), _networks, d.metrics_from),
    )


def _networks(node: Node) -> tuple[str, ...]:
    found = []
    for element in node.elements():
        text = element.as_str(max_len=64)
        element.convert(lambda v: ipaddress.ip_network(v, strict=False))
        found.append(text)
    return tuple(found)

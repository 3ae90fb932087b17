"""Prometheus metrics of this process — or, under gunicorn, of every worker together.

Sign-in outcomes are counted where every shell already reports them, the audit: one listener
turns each login, refusal and answer to a relying party into counter increments, so the Flask
IdP, the SATOSA pack and the CLI count alike. The shells time their own requests
(:func:`observe_request`).

With ``PROMETHEUS_MULTIPROC_DIR`` set in the environment before the process starts (gunicorn:
see docs/operations.md), prometheus-client keeps the values in files there and
:func:`exposition` sums every worker's; without it, this process's values are served.

The workstation link server serves the gauges of the whole system (:class:`LinkCollector`):
push requests outstanding and queued, vault tasks pending — read from the shared store and
the database at scrape time with one cheap operation each (a count, no scan), so they are
the same whichever process serves them — and the workstations connected to it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from idp.audit import AuditEntry, AuditKind, Outcome
from idp.factors.authenticator import push, sender
from idp.store.errors import StoreError

if TYPE_CHECKING:
    from idp.store.ephemeral.base import EphemeralStore
    from idp.store.sql.repositories.audit import AuditRepository

log = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
_PREFIX = "hideez_idp"
REGISTRY = CollectorRegistry(auto_describe=True)

LOGINS = Counter(
    f"{_PREFIX}_logins",
    "Sign-in steps at the IdP, by factor and result (success, failure).",
    ["factor", "result"],
    registry=REGISTRY,
)
ANSWERS = Counter(
    f"{_PREFIX}_sso_answers",
    "Answers to relying parties (SAML responses, id_tokens, WS-Fed tokens), by protocol and "
    "the session's last factor.",
    ["protocol", "factor"],
    registry=REGISTRY,
)
REQUEST_SECONDS = Histogram(
    f"{_PREFIX}_http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
RESPONSES = Counter(
    f"{_PREFIX}_http_responses",
    "HTTP answers by route, method and status class (2xx, 3xx, 4xx, 5xx).",
    ["route", "method", "status"],
    registry=REGISTRY,
)
STORE_ERRORS = Counter(
    f"{_PREFIX}_store_errors",
    "Requests refused because a store did not answer (database, short-lived store).",
    ["store"],
    registry=REGISTRY,
)
AUDIT_QUEUE = Gauge(
    f"{_PREFIX}_audit_queue_depth",
    "Audit events queued for the background writer, not yet stored.",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)


def track_audit(audit: AuditRepository) -> None:
    """Count sign-in outcomes from ``audit`` and export its queue's depth."""
    audit.listen(observe_audit, depth=AUDIT_QUEUE.set)


def observe_audit(entry: AuditEntry) -> None:
    """The audit listener: count what a sign-in left behind."""
    if entry.kind is AuditKind.LOGIN_SUCCESS or entry.kind is AuditKind.LOGIN_FAILURE:
        result = "success" if entry.outcome is Outcome.SUCCESS else "failure"
        LOGINS.labels(factor=entry.factor or "none", result=result).inc()
    elif entry.kind is AuditKind.SSO_ISSUED:
        protocol = entry.details.get("protocol", "unknown")
        ANSWERS.labels(protocol=protocol, factor=entry.factor or "session").inc()


def observe_request(*, route: str, method: str, status: int, seconds: float) -> None:
    REQUEST_SECONDS.labels(route=route, method=method).observe(seconds)
    RESPONSES.labels(route=route, method=method, status=f"{status // 100}xx").inc()


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def may_read(networks: Sequence[str], address: str | None) -> bool:
    """Whether a client at ``address`` is in ``networks`` (observability.metrics_from)."""
    try:
        peer = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
        peer = peer.ipv4_mapped
    return any(peer in ipaddress.ip_network(n, strict=False) for n in networks)


#: the link server's gauges: name → help
LINK_GAUGES = {
    f"{_PREFIX}_push_outstanding": "Push sign-in requests waiting for the app's answer, unexpired.",
    f"{_PREFIX}_push_queue_depth": "Push notifications queued for a sender, not yet sent.",
    f"{_PREFIX}_vault_tasks_pending": "Hideez Key changes queued until each key is next online.",
    f"{_PREFIX}_workstations_connected": "Workstations connected to this link server.",
}


class LinkCollector:
    """The link server's gauges, read when Prometheus scrapes (a prometheus-client collector).

    A gauge whose store does not answer is left out of that scrape (and logged), so the
    others are still served.
    """

    def __init__(
        self,
        *,
        store: EphemeralStore,
        vault_tasks: Callable[[], int],
        connected: Callable[[], int],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._readers: dict[str, Callable[[], int]] = {
            f"{_PREFIX}_push_outstanding": lambda: push.outstanding_count(store, now=clock()),
            f"{_PREFIX}_push_queue_depth": lambda: sender.queue_depth(store),
            f"{_PREFIX}_vault_tasks_pending": vault_tasks,
            f"{_PREFIX}_workstations_connected": connected,
        }

    def collect(self) -> Iterator[Metric]:
        for name, read in self._readers.items():
            try:
                value = read()
            except StoreError as exc:
                log.warning("metric %s left out: %s", name, exc.description)
                continue
            yield GaugeMetricFamily(name, LINK_GAUGES[name], value=value)


def link_exposition(collector: LinkCollector) -> bytes:
    """The link server's metrics in Prometheus' text format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)

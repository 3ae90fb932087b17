"""OpenTelemetry tracing, optional (``observability.tracing``; the ``tracing`` extra).

Nothing here imports OpenTelemetry at module level: :func:`start` does, and a shell calls it
only when ``observability.tracing.enabled`` is true, so a server without tracing never loads
it. The provider is this module's own (not OpenTelemetry's global one), exporting over
OTLP/HTTP in batches, keeping ``sample_ratio`` of new traces and following the caller's
``traceparent`` when it has one.

What a span may carry is decided here, once: the request's method, route, path (never the
query string, which holds SAML messages, codes and tokens), status and request id; and the
audit's sign-in steps as span events — kind, outcome, factor, relying party, protocol —
never an event's other details, a token or an assertion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idp.audit import AuditEntry
from idp.config.observability import TracingSettings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span, Tracer

    from idp.store.sql.repositories.audit import AuditRepository

INSTRUMENTATION = "hideez_idp"


class RequestSpan:
    """The span of one HTTP request, current in its thread until :meth:`finish`."""

    def __init__(self, span: Span, token: object, method: str) -> None:
        self._span, self._token, self._method = span, token, method
        self.finished = False

    @property
    def trace_id(self) -> str:
        return f"{self._span.get_span_context().trace_id:032x}"

    def finish(self, *, route: str, status: int) -> None:
        """End the span with the matched route and the answer's status (once)."""
        if self.finished:
            return
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        self.finished = True
        self._span.update_name(f"{self._method} {route}")
        self._span.set_attribute("http.route", route)
        self._span.set_attribute("http.response.status_code", status)
        if status >= 500:
            self._span.set_status(Status(StatusCode.ERROR))
        self._span.end()
        context.detach(self._token)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Tracing:
    provider: TracerProvider
    tracer: Tracer

    def request(
        self, *, method: str, path: str, request_id: str, headers: Mapping[str, str]
    ) -> RequestSpan:
        """Start the request's server span (a child of a ``traceparent`` in ``headers``) and
        make it current, so sign-in steps recorded in this thread land in it."""
        from opentelemetry import context, propagate, trace

        parent = propagate.extract(carrier={k.lower(): v for k, v in headers.items()})
        span = self.tracer.start_span(
            method,
            context=parent,
            kind=trace.SpanKind.SERVER,
            attributes={
                "http.request.method": method,
                "url.path": path,
                "hideez.request_id": request_id,
            },
        )
        token = context.attach(trace.set_span_in_context(span, parent))
        return RequestSpan(span, token, method)

    def flush(self) -> None:
        self.provider.force_flush()

    def shutdown(self) -> None:
        self.provider.shutdown()


def start(
    settings: TracingSettings,
    *,
    audit: AuditRepository | None = None,
    exporter: SpanExporter | None = None,
) -> Tracing:
    """A tracer exporting to ``settings.endpoint`` (or to ``exporter``, e.g. OpenTelemetry's
    in-memory one), with the audit's sign-in steps as events of the current span."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter(endpoint=settings.endpoint)
    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    if audit is not None:
        audit.listen(span_event)
    return Tracing(provider, provider.get_tracer(INSTRUMENTATION))


def span_event(entry: AuditEntry) -> None:
    """The audit listener: a sign-in step as an event of the current span (if recording)."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if not span.is_recording():
        return
    attributes = {"outcome": entry.outcome.value}
    for name, value in (("factor", entry.factor), ("relying_party", entry.relying_party),
                        ("protocol", entry.details.get("protocol"))):  # fmt: skip
        if isinstance(value, str):
            attributes[name] = value
    span.add_event(entry.kind.value, attributes)

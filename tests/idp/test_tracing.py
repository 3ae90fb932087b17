"""idp.tracing with OpenTelemetry's own in-memory exporter: request spans, sampling, the
caller's traceparent, sign-in steps as events without details; and, off, none of it needed."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from idp import tracing
from idp.audit import AuditEntry, AuditKind, Outcome
from idp.config.observability import TracingSettings

ON = TracingSettings(enabled=True)
PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Listened:
    """An audit repository's ``listen`` (the one call tracing makes on it)."""

    def __init__(self) -> None:
        self.listeners: list[object] = []

    def listen(self, listener: object) -> None:
        self.listeners.append(listener)


def _entry(**changes: object) -> AuditEntry:
    values: dict[str, object] = {
        "at": dt.datetime.now(dt.UTC), "kind": AuditKind.LOGIN_SUCCESS, "actor": "emp-1",
        "factor": "passkey", "relying_party": "https://sp.example",
        "details": {"protocol": "saml", "credential": "c3VwZXItc2VjcmV0"},
    }  # fmt: skip
    values.update(changes)
    return AuditEntry(**values)  # type: ignore[arg-type]


def test_a_request_span_carries_route_status_and_request_id_and_the_sign_in_step() -> None:
    exported, audit = InMemorySpanExporter(), Listened()
    traced = tracing.start(ON, audit=audit, exporter=exported)  # type: ignore[arg-type]
    assert audit.listeners == [tracing.span_event]
    span = traced.request(method="POST", path="/passkey/login/verify", request_id="req-42",
                          headers={"Content-Type": "application/json"})  # fmt: skip
    tracing.span_event(_entry())
    tracing.span_event(_entry(kind=AuditKind.LOGIN_FAILURE, outcome=Outcome.FAILURE,
                              factor=None, details={}))  # fmt: skip
    span.finish(route="/passkey/login/verify", status=200)
    span.finish(route="/elsewhere", status=500)  # once only
    traced.flush()
    (got,) = exported.get_finished_spans()
    assert got.name == "POST /passkey/login/verify"
    assert dict(got.attributes or {}) == {
        "http.request.method": "POST", "url.path": "/passkey/login/verify",
        "hideez.request_id": "req-42", "http.route": "/passkey/login/verify",
        "http.response.status_code": 200,
    }  # fmt: skip
    # An event's other details (here a credential) never reach the span.
    success = {"outcome": "success", "factor": "passkey", "relying_party": "https://sp.example",
               "protocol": "saml"}  # fmt: skip
    assert [(e.name, dict(e.attributes or {})) for e in got.events] == [
        ("login_success", success),
        ("login_failure", {"outcome": "failure", "relying_party": "https://sp.example"}),
    ]
    assert got.resource.attributes["service.name"] == "hideez-idp"
    traced.shutdown()


def test_the_callers_traceparent_is_followed_and_sampling_applies_to_new_traces() -> None:
    exported = InMemorySpanExporter()
    never = tracing.start(TracingSettings(enabled=True, sample_ratio=0.0), exporter=exported)
    fresh = never.request(method="GET", path="/login", request_id="a", headers={})
    fresh.finish(route="/login", status=200)
    child = never.request(method="GET", path="/login", request_id="b",
                          headers={"Traceparent": PARENT})  # fmt: skip
    assert child.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    child.finish(route="/login", status=503)
    never.flush()
    (kept,) = exported.get_finished_spans()  # only the one whose caller sampled it
    assert kept.attributes is not None and kept.attributes["hideez.request_id"] == "b"
    assert kept.parent is not None and kept.parent.span_id == 0x00F067AA0BA902B7
    assert not kept.status.is_ok
    never.shutdown()


def test_a_step_outside_any_request_span_is_ignored() -> None:
    tracing.span_event(_entry())  # no current span: nothing to add to, nothing raised


def test_with_tracing_off_the_server_runs_without_opentelemetry() -> None:
    """As where the ``tracing`` extra is not installed: every OpenTelemetry import fails (redis-py
    tries one of its own and does without), and the IdP serves without loading idp.tracing."""
    script = (
        "import sys, tempfile, pathlib\n"
        "class Absent:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'opentelemetry':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Absent())\n"
        "from flask_idp.demo import prepare\n"
        "from flask_idp.wsgi import create\n"
        "path = prepare(pathlib.Path(tempfile.mkdtemp()), port=18090, sp_port=18091)\n"
        "app = create(str(path))\n"
        "assert app.test_client().get('/healthz').status_code == 200\n"
        "assert 'idp.tracing' not in sys.modules\n"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert ran.returncode == 0, ran.stderr[-3000:]

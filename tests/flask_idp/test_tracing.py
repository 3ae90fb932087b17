"""A passkey sign-in through the Flask app with ``observability.tracing`` on: its spans reach a
real OTLP/HTTP receiver (a loopback HTTP server decoding the protobuf the exporter posts), one
per request with the request id the client was answered, the sign-in step as an event, and
nothing secret — no cookie, CSRF token, challenge handle or credential in any span."""

from __future__ import annotations

import dataclasses
import http.server
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from flask_idp.app import create_app
from idp.config.observability import TracingSettings
from tests.flask_idp.conftest import Browser, Shell


class Receiver(http.server.ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.bodies: list[bytes] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/traces"

    def spans(self) -> list[Span]:
        found: list[Span] = []
        for body in self.bodies:
            request = ExportTraceServiceRequest.FromString(body)
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    found.extend(scope.spans)
        return found


class _Handler(http.server.BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        assert self.path == "/v1/traces"
        assert self.headers["Content-Type"] == "application/x-protobuf"
        self.server.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _attributes(span: Span) -> dict[str, object]:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}


def test_a_sign_in_is_traced_with_request_ids_and_no_secrets(
    shell: Shell, receiver: Receiver
) -> None:
    config = shell.runtime.config
    on = TracingSettings(enabled=True, endpoint=receiver.url, service_name="idp-test")
    observability = dataclasses.replace(config.observability, tracing=on)
    runtime = dataclasses.replace(
        shell.runtime, config=dataclasses.replace(config, observability=observability)
    )
    traced = dataclasses.replace(shell, app=create_app(runtime), runtime=runtime)
    alice = Browser(traced)
    alice.enrol(traced.new_employee())
    csrf, body, handle = alice.assertion()
    done = alice.post_json("/passkey/login/verify", body, csrf)
    assert done.status_code == 200, done.get_data(as_text=True)
    traced.app.extensions["hideez_idp_tracing"].shutdown()  # exports what is left, then stops

    spans = receiver.spans()
    verify = [s for s in spans if s.name == "POST /passkey/login/verify"]
    assert len(verify) == 1
    attributes = _attributes(verify[0])
    assert attributes["hideez.request_id"] == done.headers["X-Request-Id"]
    assert attributes["http.response.status_code"] == 200
    assert attributes["url.path"] == "/passkey/login/verify"
    events = {e.name: {a.key: a.value.string_value for a in e.attributes} for e in verify[0].events}
    assert events["login_success"]["factor"] == "passkey"
    assert {"GET /login", "POST /passkey/login/options"} <= {s.name for s in spans}
    assert all(_attributes(s)["hideez.request_id"] for s in spans)

    exported = b"".join(receiver.bodies)
    cookies = [c.value for c in alice.http._cookies.values()]  # the test client has no listing
    secrets = [csrf, handle, body["credential"]["response"]["signature"],
               body["credential"]["response"]["clientDataJSON"], *cookies]  # fmt: skip
    assert cookies and all(s.encode() not in exported for s in secrets)

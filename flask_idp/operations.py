"""What operators and orchestrators call: ``/healthz`` (alive), ``/readyz`` (can serve
sign-ins), ``/metrics`` (Prometheus), and the per-request id and timing every answer gets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, g, request

from flask_idp.web import runtime
from idp import logs, metrics
from idp.errors import AccessDenied
from idp.health import NotReady, check_readiness

bp = Blueprint("operations", __name__)
_TRACING = "hideez_idp_tracing"
_NO_STORE = {"Cache-Control": "no-store"}
_DRAINING = "hideez_idp_draining"
_DRAINING_ELSEWHERE = "hideez_idp_draining_elsewhere"
#: what a draining instance asks a load balancer to wait before asking again
DRAINING_RETRY_AFTER = "5"


@bp.get("/healthz")
def healthz() -> Response:
    return _json({"status": "alive"})


@bp.get("/readyz")
def readyz() -> Response:
    """Always JSON, for probes: 200 when ready, else 503 with Retry-After and each check
    (or ``draining`` once ``serve`` or the gunicorn master got SIGTERM)."""
    if current_app.extensions[_DRAINING].is_set() or current_app.extensions[_DRAINING_ELSEWHERE]():
        response = _json({"status": "draining"}, status=503)
        response.headers["Retry-After"] = DRAINING_RETRY_AFTER
        return response
    try:
        return _json(check_readiness(runtime()).to_dict())
    except NotReady as exc:
        response = _json({**exc.readiness.to_dict(), "error_id": exc.error_id}, status=503)
        response.headers.update(exc.headers())
        return response


@bp.get("/metrics")
def metrics_view() -> Response:
    settings = runtime().config.observability
    if not settings.metrics:
        raise AccessDenied("metrics are switched off (observability.metrics: false)")
    if not metrics.may_read(settings.metrics_from, request.remote_addr):
        raise AccessDenied(
            f"metrics are served to observability.metrics_from only; {request.remote_addr} "
            "is not in it"
        )
    return Response(metrics.exposition(), mimetype=metrics.CONTENT_TYPE, headers=_NO_STORE)


def install(app: Flask) -> None:
    """Register the endpoints and the hooks that give every request an id, a timing and,
    with ``observability.tracing`` on, a span."""
    settings = app.extensions["hideez_idp"].config.observability.tracing
    if settings.enabled:
        from idp import tracing

        app.extensions[_TRACING] = tracing.start(settings, audit=app.extensions["hideez_idp"].audit)
    app.register_blueprint(bp)
    app.extensions[_DRAINING] = threading.Event()
    app.extensions[_DRAINING_ELSEWHERE] = lambda: False
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_forget)


def start_draining(app: Flask) -> None:
    """From now on ``/readyz`` answers 503 ``draining``; everything else is served as before."""
    app.extensions[_DRAINING].set()


def drain_when(app: Flask, draining: Callable[[], bool]) -> None:
    """``/readyz`` also answers 503 ``draining`` whenever ``draining()`` is true: a flag the
    process shares with others (docker/gunicorn.conf.py: the master's, set on SIGTERM)."""
    app.extensions[_DRAINING_ELSEWHERE] = draining


def _start() -> None:
    g.started = time.perf_counter()
    g.request_id = logs.request_id_from(request.headers.get("X-Request-Id"))
    logs.request_id.set(g.request_id)
    traced = current_app.extensions.get(_TRACING)
    if traced is not None:
        g.span = traced.request(method=request.method, path=request.path,
                                request_id=g.request_id, headers=request.headers)  # fmt: skip


def _finish(response: Response) -> Response:
    started = g.get("started")
    if started is not None:
        route = request.url_rule.rule if request.url_rule is not None else "unmatched"
        metrics.observe_request(route=route, method=request.method, status=response.status_code,
                                seconds=time.perf_counter() - started)  # fmt: skip
        response.headers["X-Request-Id"] = g.request_id
        if "span" in g:
            g.span.finish(route=route, status=response.status_code)
    return response


def _forget(_error: BaseException | None) -> None:
    # A worker thread's next log lines (between requests) must not carry this request's id.
    logs.request_id.set("-")
    if "span" in g:  # a request that ended without an answer (a dropped connection)
        g.span.finish(route="unanswered", status=500)


def _json(body: object, *, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers=_NO_STORE)  # fmt: skip

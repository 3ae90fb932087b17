"""The Flask application: a thin shell over :mod:`idp` (one :class:`Runtime` per process)."""

from __future__ import annotations

import ipaddress
import json
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_idp.web import persist_flow_cookie
from idp import metrics
from idp.errors import IdpError
from idp.runtime import Runtime
from idp.store.errors import StoreUnavailable

log = logging.getLogger("hideez_idp")

_TITLES = {
    400: "The request could not be used",
    401: "Sign-in did not succeed",
    403: "Access denied",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "The request is too large",
    429: "Too many attempts",
    500: "Something went wrong on our side",
    503: "Temporarily unavailable",
}


class TrustedProxyFix:
    """Honour X-Forwarded-* only when the direct peer is a configured trusted proxy."""

    def __init__(self, app: Any, trusted: Iterable[str]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(t, strict=False) for t in trusted]
        self.fixed = ProxyFix(app, x_for=1, x_proto=1, x_host=1, x_port=1, x_prefix=0)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        peer = environ.get("REMOTE_ADDR", "")
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            address = None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            # A dual-stack listener reports an IPv4 proxy as ::ffff:a.b.c.d.
            address = address.ipv4_mapped
        if address is not None and any(address in n for n in self.networks):
            return self.fixed(environ, start_response)
        for key in [k for k in environ if k.startswith("HTTP_X_FORWARDED_")]:
            del environ[key]
        return self.app(environ, start_response)


def create_app(runtime: Runtime) -> Flask:
    app = Flask(__name__)
    app.extensions["hideez_idp"] = runtime
    app.config.update(
        MAX_CONTENT_LENGTH=runtime.config.limits.max_request_bytes * 2,
        MAX_FORM_MEMORY_SIZE=runtime.config.limits.max_request_bytes * 2,
        SECRET_KEY=None,
        JSON_SORT_KEYS=False,
    )
    app.wsgi_app = TrustedProxyFix(app.wsgi_app, runtime.config.trusted_proxies)  # type: ignore[method-assign]
    from flask_idp.blueprints import register_blueprints
    from flask_idp.flows import build_flows

    app.extensions["hideez_idp_flows"] = build_flows(runtime)
    register_blueprints(app, runtime)
    from flask_idp import operations

    operations.install(app)
    _install_error_handlers(app)
    app.after_request(_security_headers)
    app.after_request(persist_flow_cookie)
    return app


def _wants_json() -> bool:
    if request.path.startswith(
        ("/passkey/", "/password/", "/api/", "/push/", "/totp/", "/authenticator/enrol/")
    ):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _render_error(status: int, error: str, description: str, error_id: str) -> Response:
    if request.path.startswith("/api/v1/"):
        from flask_idp.api.problems import problem_response

        return problem_response(status, error, description, error_id)
    if _wants_json():
        body = {"error": error, "error_description": description, "error_id": error_id}
        response = Response(json.dumps(body), status=status, mimetype="application/json")
    else:
        html = render_template(
            "error.html",
            title=_TITLES.get(status, "Error"),
            description=description,
            error_id=error_id,
        )
        response = Response(html, status=status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(IdpError)
    def _idp_error(exc: IdpError) -> Response:
        if isinstance(exc, StoreUnavailable):
            metrics.STORE_ERRORS.labels(store=exc.store).inc()
        log.info(
            "request refused: %s %s (%s) id=%s",
            exc.status,
            exc.error,
            exc.description,
            exc.error_id,
        )
        response = _render_error(exc.status, exc.error, exc.description, exc.error_id)
        response.headers.update(exc.headers())
        return response

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        name = (exc.name or "error").lower().replace(" ", "_")
        response = _render_error(status, name, exc.description or exc.name, secrets.token_hex(6))
        for header, value in exc.get_headers():
            if header.lower() != "content-type":  # e.g. Allow on a 405 (RFC 9110 §15.5.6)
                response.headers[header] = value
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        error_id = secrets.token_hex(6)
        log.exception("unexpected error id=%s", error_id)
        return _render_error(
            500,
            "server_error",
            "an unexpected error occurred; the administrator can find it in the log by its id",
            error_id,
        )


def _security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'",
    )
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "no-referrer")
    if response.mimetype == "text/html" or request.path.startswith(("/passkey/", "/saml/")):
        h.setdefault("Cache-Control", "no-store")
    return response

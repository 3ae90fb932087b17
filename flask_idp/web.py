"""Small request/response helpers shared by the blueprints (cookies, CSRF, JSON, runtime)."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from flask import Response, current_app, g, request

from idp.errors import InvalidRequest, RequestTooLarge
from idp.runtime import Runtime
from idp.sessions import AuthContext

FLOW_COOKIE = "hideez_idp_flow"
MAX_JSON_BYTES = 64 * 1024


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["hideez_idp"]
    return rt


def session_cookie_name() -> str:
    return runtime().config.session.cookie_name


def current_context() -> AuthContext | None:
    """The signed-in session of this browser, or None (cached per request)."""
    if "hideez_ctx" not in g:
        sid = request.cookies.get(session_cookie_name())
        rt = runtime()
        g.hideez_ctx = rt.sessions.get(sid, now=rt.now()) if sid else None
    ctx: AuthContext | None = g.hideez_ctx
    return ctx


def set_session_cookie(response: Response, ctx: AuthContext) -> None:
    rt = runtime()
    response.set_cookie(
        rt.config.session.cookie_name,
        ctx.session_id,
        max_age=rt.config.session.absolute_lifetime,
        httponly=True,
        secure=rt.config.secure_cookies,
        samesite="Lax",
        path="/",
    )
    g.hideez_ctx = ctx


def clear_session_cookie(response: Response) -> None:
    # Same attributes as when set: browsers ignore a deletion of a __Host-/__Secure- cookie
    # that lacks Secure.
    response.delete_cookie(
        session_cookie_name(),
        path="/",
        secure=runtime().config.secure_cookies,
        httponly=True,
        samesite="Lax",
    )
    g.hideez_ctx = None


def flow_id() -> str:
    """A per-browser random id that binds challenges and CSRF tokens to this browser."""
    if "hideez_flow" not in g:
        value = request.cookies.get(FLOW_COOKIE, "")
        if not (20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum()):
            value = secrets.token_urlsafe(24)
            g.hideez_flow_new = True
        g.hideez_flow = value
    flow: str = g.hideez_flow
    return flow


def persist_flow_cookie(response: Response) -> Response:
    if g.get("hideez_flow_new"):
        response.set_cookie(
            FLOW_COOKIE,
            g.hideez_flow,
            httponly=True,
            secure=runtime().config.secure_cookies,
            samesite="Lax",
            path="/",
        )
    return response


def csrf_token() -> str:
    key = hashlib.sha256(b"csrf|" + runtime().config.pairwise_salt.encode()).digest()
    return hmac.new(key, flow_id().encode(), hashlib.sha256).hexdigest()


def check_csrf(supplied: str | None) -> None:
    if not supplied or not hmac.compare_digest(supplied, csrf_token()):
        raise InvalidRequest("missing or wrong CSRF token; reload the page and try again")


def json_body() -> dict[str, Any]:
    """The JSON object of a POST, size-limited; anything else is a clear 400."""
    check_csrf(request.headers.get("X-CSRF-Token"))
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise RequestTooLarge(f"request body is larger than {MAX_JSON_BYTES} bytes")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_JSON_BYTES:
        raise RequestTooLarge(f"request body is larger than {MAX_JSON_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nesting deeper than the stack
        raise InvalidRequest("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidRequest("request body must be a JSON object")
    return data


def client_ip() -> str:
    return request.remote_addr or "unknown"

"""SATOSA requests in, core answers out: the one translation every plugin uses.

A SATOSA ``Context`` becomes a :class:`~idp.flows.browser.Browser` (a per-browser flow cookie
binds single-use state, the session cookie names the server-side session); an
:class:`~idp.flows.answers.Answer` becomes a ``satosa.response.Response`` with the cookies it
calls for. Errors are rendered here once (an HTML page or a JSON body with an error id, never a
stack trace), so plugin handlers carry no ``except`` blocks of their own.

The factor steps' endpoints (``/passkey/login/*``, ``/password/login/verify``,
``/push/login/start|poll``, ``/totp/login/verify``) keep the paths the shared script posts
to, so the pages work unchanged; SATOSA must therefore serve from the root of its host. A
new step kind adds its endpoints to :func:`step_endpoints` only.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import http
import json
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Any

from satosa.context import Context
from satosa.response import Response

from idp.directory.model import SsoMode
from idp.errors import IdpError, InvalidRequest
from idp.flows.answers import Answer, FormPost, Json, Page, Redirect
from idp.flows.browser import Browser, binding_of
from idp.flows.login_page import authenticator_login_values
from idp.flows.parking import new_handle
from idp.flows.passkey_step import PasskeyStep
from idp.flows.password_step import PasswordStep
from idp.flows.push_step import PushStep, Requester
from idp.flows.signin import Routes, SignIn
from idp.flows.steps import Steps
from idp.flows.stepup import StepUp, StepUpDone, StepUpRequest
from idp.flows.totp_step import TotpStep
from idp.runtime import Runtime
from satosa_plugins.pages import STATIC_NAME, STATIC_PATH, Pages

log = logging.getLogger("hideez_idp.satosa")

FLOW_COOKIE = "hideez_satosa_flow"
LOGIN_PATH = "/hideez/login"
_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "

Handler = Callable[[Context], Response]


class MethodNotAllowed(InvalidRequest):
    error = "method_not_allowed"
    status = 405


@dataclass(frozen=True)
class Visit:
    """One request as the core sees it, plus the flow cookie to set when it is new."""

    browser: Browser
    flow: str
    new_flow: bool
    csrf: str


class Shell:
    """The core flows one SATOSA process uses, built once per runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.engine = SignIn(runtime, routes=Routes(login=LOGIN_PATH))
        self.steps = Steps(runtime)
        self.passkey = PasskeyStep(runtime, self.steps)
        self.password = PasswordStep(runtime, self.steps)
        self.push = PushStep(runtime, self.steps)
        self.totp = TotpStep(runtime, self.steps)
        self.pages = Pages()
        self._csrf_key = hashlib.sha256(b"csrf|" + runtime.config.pairwise_salt.encode()).digest()

    # -- requests ----------------------------------------------------------------------------
    def visit(self, context: Context) -> Visit:
        cookies = _cookies(context.cookie or "")
        flow = cookies.get(FLOW_COOKIE, "")
        new = not (20 <= len(flow) <= 64 and flow.replace("-", "").replace("_", "").isalnum())
        if new:
            flow = secrets.token_urlsafe(24)
        sid = cookies.get(self.rt.config.session.cookie_name)
        session = self.rt.sessions.get(sid, now=self.rt.now()) if sid and len(sid) <= 128 else None
        headers = context.http_headers or {}
        browser = Browser(
            binding=binding_of(flow), session=session, ip=headers.get("REMOTE_ADDR", "unknown")
        )
        csrf = hmac.new(self._csrf_key, flow.encode(), hashlib.sha256).hexdigest()
        return Visit(browser=browser, flow=flow, new_flow=new, csrf=csrf)

    def json_body(self, context: Context, visit: Visit) -> Mapping[str, Any]:
        require_method(context, "POST")
        supplied = (context.http_headers or {}).get("HTTP_X_CSRF_TOKEN", "")
        if not supplied or not hmac.compare_digest(supplied, visit.csrf):
            raise InvalidRequest("missing or wrong CSRF token; reload the page and try again")
        if not isinstance(context.request, dict):
            raise InvalidRequest(
                "request body must be a JSON object (Content-Type: application/json)"
            )
        return context.request

    # -- responses ---------------------------------------------------------------------------
    def send(self, answer: Answer, visit: Visit) -> Response:
        body = answer.body
        headers = [("Cache-Control", "no-store")]
        if isinstance(body, Redirect):
            response = _response("", 303, [*headers, ("Location", body.location)], "text/html")
        elif isinstance(body, FormPost):
            html = self.pages.render(
                "autopost", action=body.url, fields=body.fields, target_name=body.target_name
            )
            headers.append(("Content-Security-Policy", _CSP + "base-uri 'none'"))
            response = _response(html, 200, headers, "text/html; charset=utf-8")
        elif isinstance(body, Page):
            html = self.pages.render(body.name, csrf=visit.csrf, **body.values)
            headers.append(("Content-Security-Policy", _CSP + "base-uri 'none'"))
            response = _response(html, body.status, headers, "text/html; charset=utf-8")
        else:
            assert isinstance(body, Json)
            response = _response(
                json.dumps(dict(body.body)), body.status, headers, "application/json"
            )
        self._cookies(response, answer, visit)
        return response

    def with_flow_cookie(self, response: Response, visit: Visit) -> Response:
        """A response SATOSA built (a backend's redirect) that must carry a new flow cookie."""
        if visit.new_flow:
            secure = self.rt.config.secure_cookies
            response.headers.append(_set_cookie(FLOW_COOKIE, visit.flow, secure=secure))
        return response

    def json(self, body: str, *, cache_seconds: int) -> Response:
        """A public JSON document (discovery, keys) that clients may cache."""
        headers = [("Cache-Control", f"public, max-age={cache_seconds}")]
        return _response(body, 200, headers, "application/json")

    def page(self, name: str, visit: Visit, **values: Any) -> Response:
        return self.send(Answer(Page(name, {**values})), visit)

    def _cookies(self, response: Response, answer: Answer, visit: Visit) -> None:
        secure = self.rt.config.secure_cookies
        if visit.new_flow:
            response.headers.append(_set_cookie(FLOW_COOKIE, visit.flow, secure=secure))
        name = self.rt.config.session.cookie_name
        if answer.end_session:
            response.headers.append(_set_cookie(name, "", secure=secure, max_age=0))
        if answer.session is not None:
            lifetime = self.rt.config.session.absolute_lifetime
            response.headers.append(
                _set_cookie(name, answer.session.session_id, secure=secure, max_age=lifetime)
            )

    def error(self, exc: IdpError, *, as_json: bool) -> Response:
        log.info(
            "request refused: %s %s (%s) id=%s",
            exc.status,
            exc.error,
            exc.description,
            exc.error_id,
        )
        headers = list(exc.headers().items())
        if as_json:
            return _response(json.dumps(exc.to_dict()), exc.status, headers, "application/json")
        html = self.pages.error(
            status=exc.status, description=exc.description, error_id=exc.error_id
        )
        return _response(html, exc.status, [("Cache-Control", "no-store"), *headers], "text/html")

    def unexpected(self, *, as_json: bool) -> Response:
        error_id = secrets.token_hex(6)
        log.exception("unexpected error id=%s", error_id)
        description = "an unexpected error occurred; try again later"
        if as_json:
            body = {"error": "server_error", "error_description": description, "error_id": error_id}
            return _response(json.dumps(body), 500, [], "application/json")
        return _response(
            self.pages.error(status=500, description=description, error_id=error_id),
            500,
            [],
            "text/html",
        )

    # -- a sign-in step between SATOSA's requests (the MFA step, the passwordless backend) ---
    def begin_step(
        self, context: Context, stepup: StepUp, request: StepUpRequest, *, state_key: str
    ) -> Response:
        """Keep ``request`` server-side; SATOSA's state only names it (its handle)."""
        visit = self.visit(context)
        key = new_handle()
        context.state[state_key] = {"key": key}
        return self.send(stepup.begin(request, browser=visit.browser, key=key), visit)

    def finish_step(self, context: Context, stepup: StepUp, *, state_key: str) -> StepUpDone:
        """At the resume URL: the step both SATOSA's state and the URL name, finished."""
        require_method(context, "GET")
        params = context.qs_params or {}
        key = params.get("k", "")
        kept = context.state.get(state_key) if context.state is not None else None
        if not isinstance(kept, dict) or kept.get("key") != key:
            raise InvalidRequest(
                "no sign-in step is pending in this browser; go back to the application and "
                "sign in again"
            )
        done = stepup.finish(
            key,
            browser=self.visit(context).browser,
            flow_id=context.state.session_id,
            cancel=params.get("cancel") == "1",
        )
        del context.state[state_key]
        return done

    # -- endpoints ---------------------------------------------------------------------------
    def endpoint(self, fn: Callable[[Context], Response], *, as_json: bool = False) -> Handler:
        """``fn`` as a SATOSA endpoint: every failure rendered once, here."""

        @functools.wraps(fn)
        def handler(context: Context) -> Response:
            try:
                return fn(context)
            except IdpError as exc:
                return self.error(exc, as_json=as_json)
            except Exception:  # the one last resort: a page with an id, the trace in the log
                return self.unexpected(as_json=as_json)

        return handler

    def step_endpoints(self) -> list[tuple[str, Handler]]:
        """The factor steps' JSON endpoints and the pages' static files."""

        def step(fn: Callable[..., Answer]) -> Handler:
            def run(context: Context) -> Response:
                visit = self.visit(context)
                return self.send(fn(self.json_body(context, visit), browser=visit.browser), visit)

            return self.endpoint(run, as_json=True)

        def push_start(context: Context) -> Response:
            visit = self.visit(context)
            body = self.json_body(context, visit)
            requester = self._requester(context)
            return self.send(self.push.begin(body, browser=visit.browser, requester=requester),
                             visit)  # fmt: skip

        return [
            ("^passkey/login/options$", step(self.passkey.begin)),
            ("^passkey/login/verify$", step(self.passkey.finish)),
            ("^passkey/login/report$", step(self.passkey.report_refusal)),
            ("^password/login/verify$", step(self.password.finish)),
            ("^push/login/start$", self.endpoint(push_start, as_json=True)),
            ("^push/login/poll$", step(self.push.poll)),
            ("^totp/login/verify$", step(self.totp.finish)),
            (f"^{LOGIN_PATH.strip('/')}$", self.endpoint(self._login)),
            (f"^{STATIC_PATH.strip('/')}/[^/]+$", self.endpoint(self._static)),
        ]

    def _login(self, context: Context) -> Response:
        """The sign-in page of a login ticket (the same page as the Flask IdP's)."""
        require_method(context, "GET")
        visit = self.visit(context)
        handle = (context.qs_params or {}).get("ticket") or None
        ticket = self.steps.ticket(handle, browser=visit.browser)
        if ticket is None:
            raise InvalidRequest("this page is part of a sign-in; start from the application")
        hint = ticket.login_hint or ""
        return self.page(
            "login",
            visit,
            ticket=handle,
            relying_party=ticket.display_name or ticket.relying_party,
            login_hint=hint,
            cancel_url=ticket.cancel_url,
            notice=ticket.notice,
            password_first=bool(hint) and self._uses_password(hint),
            # step_endpoints serves the push and code forms' endpoints: the policy decides.
            **authenticator_login_values(self.rt, ticket, push=self.push, browser=visit.browser),
        )

    def _requester(self, context: Context) -> Requester:
        """What the phone shows of this browser (its user agent; a location header when the
        IdP configuration names one, as a proxy in front of SATOSA may set)."""
        headers = context.http_headers or {}
        name = self.rt.config.authenticator.location_header
        location = headers.get("HTTP_" + name.upper().replace("-", "_")) if name else None
        return Requester(user_agent=str(headers.get("HTTP_USER_AGENT", ""))[:256],
                         location=location)  # fmt: skip

    def _uses_password(self, username: str) -> bool:
        employee = self.rt.employees.get_by_username(username)
        return employee is not None and employee.sso_mode is SsoMode.TWO_FACTOR

    def _static(self, context: Context) -> Response:
        require_method(context, "GET")
        name = context.path.rsplit("/", 1)[1]
        if not STATIC_NAME.fullmatch(name):
            raise InvalidRequest("malformed static file name")
        found = self.pages.static(name)
        headers = [("Cache-Control", "public, max-age=3600")]
        return _response(found.body, 200, headers, found.content_type)


_SHELLS: dict[int, Shell] = {}
_SHELLS_LOCK = threading.Lock()


def shell_for(runtime: Runtime) -> Shell:
    """The one shell of ``runtime`` (several plugins of one process share it)."""
    with _SHELLS_LOCK:
        shell = _SHELLS.get(id(runtime))
        if shell is None or shell.rt is not runtime:
            shell = _SHELLS[id(runtime)] = Shell(runtime)
        return shell


def require_method(context: Context, method: str) -> None:
    if context.request_method != method:
        raise MethodNotAllowed(f"this endpoint takes {method}, not {context.request_method}")


def _cookies(header: str) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def _set_cookie(
    name: str, value: str, *, secure: bool, max_age: int | None = None
) -> tuple[str, str]:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return ("Set-Cookie", "; ".join(parts))


def _response(
    body: str | bytes, status: int, headers: list[tuple[str, str]], content_type: str
) -> Response:
    phrase = http.HTTPStatus(status).phrase
    message = body if isinstance(body, str) else body.decode()
    return Response(message, status=f"{status} {phrase}", headers=headers, content=content_type)


def upstream_instant(value: Any, now: dt.datetime) -> dt.datetime:
    """An upstream authentication instant as SATOSA keeps it (an ISO string); ``now`` if
    absent or unreadable."""
    if not isinstance(value, str) or not value:
        return now
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return now
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)

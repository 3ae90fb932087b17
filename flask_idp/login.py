"""How a protocol endpoint asks for a sign-in and resumes after it.

A protocol handler builds an :class:`idp.policy.Requirement` and calls :func:`authenticate`
with the local URL to come back to. When the browser's session satisfies the requirement the
:class:`~idp.policy.Satisfied` decision comes back at once; when the requirement is passive (SAML
IsPassive, OIDC ``prompt=none``) and unmet, the :class:`~idp.policy.NeedsLogin` decision comes back
so the protocol can answer with its own error; otherwise the answer is a redirect to the sign-in
page, which returns the browser to ``resume_url`` once a factor ceremony succeeded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from flask import Response, redirect, request

from flask_idp.web import current_context, flow_id, runtime
from idp.errors import InvalidRequest
from idp.policy import NeedsLogin, Requirement, Satisfied, Unsatisfiable, evaluate

TICKET_TTL = 900
_PREFIX = "login-ticket:"


@dataclass(frozen=True)
class LoginTicket:
    """What the sign-in page needs to know about the sign-in a protocol asked for."""

    resume_url: str
    relying_party: str
    factors: tuple[str, ...]
    require_user_verification: bool
    login_hint: str | None
    #: digest of the flow cookie of the browser the sign-in began in
    browser: str = ""
    display_name: str | None = None


def authenticate(
    requirement: Requirement, *, resume_url: str
) -> Satisfied | NeedsLogin | Unsatisfiable | Response:
    rt = runtime()
    decision = evaluate(requirement=requirement, context=current_context(), now=rt.now())
    if isinstance(decision, Satisfied | Unsatisfiable):
        return decision
    if requirement.passive:
        return decision
    ticket = LoginTicket(
        resume_url=_local(resume_url),
        relying_party=requirement.relying_party,
        factors=tuple(sorted(f.value for f in decision.factors)),
        require_user_verification=decision.require_user_verification,
        login_hint=requirement.login_hint,
        browser=_browser(),
        display_name=requirement.display_name,
    )
    return redirect(f"/login?ticket={issue_ticket(ticket)}", code=303)


def issue_ticket(ticket: LoginTicket) -> str:
    handle = secrets.token_urlsafe(24)
    payload = json.dumps(ticket.__dict__).encode()
    runtime().ephemeral.put(_PREFIX + handle, payload, ttl=TICKET_TTL)
    return handle


def load_ticket(handle: str | None) -> LoginTicket | None:
    """The ticket for ``handle``; None without a handle; a clear error for a stale one."""
    if not handle:
        return None
    if len(handle) > 64:
        raise InvalidRequest("login ticket is malformed")
    raw = runtime().ephemeral.get(_PREFIX + handle)
    if raw is None:
        raise InvalidRequest(
            "this sign-in has expired or was already completed; go back to the application "
            "and start again"
        )
    ticket = LoginTicket(**json.loads(raw))
    if not hmac.compare_digest(ticket.browser, _browser()):
        # A ticket only finishes in the browser that began it (no login CSRF via shared links).
        raise _started_elsewhere()
    return ticket


def _started_elsewhere() -> InvalidRequest:
    return InvalidRequest(
        "this sign-in was started in another browser; go back to the application and "
        "start again here"
    )


def _browser() -> str:
    return hashlib.sha256(b"login-ticket|" + flow_id().encode()).hexdigest()[:32]


def finish_ticket(handle: str | None) -> str:
    """Consume the ticket after a successful ceremony; where to send the browser next."""
    if not handle:
        return "/"
    raw = runtime().ephemeral.take(_PREFIX + handle)
    if raw is None:
        return "/"
    return LoginTicket(**json.loads(raw)).resume_url


def park(prefix: str, key: str, payload: bytes, *, ttl: int) -> None:
    """Keep a protocol request while the browser signs in; only this browser may resume it."""
    runtime().ephemeral.put(prefix + key, _browser().encode() + b"|" + payload, ttl=ttl)


def pending_request(prefix: str) -> tuple[str, bytes]:
    """Take the protocol request parked under ``?k=`` (single use), and its key.

    The caller parks it again if the browser must sign in once more.
    """
    key = request.values.get("k", "")
    store = runtime().ephemeral
    expired = InvalidRequest(
        "this sign-in has expired or was already answered; go back to the application "
        "and start again"
    )
    raw = store.get(prefix + key) if 0 < len(key) <= 64 else None
    if raw is None:
        raise expired
    browser, _, payload = raw.partition(b"|")
    if not hmac.compare_digest(browser, _browser().encode()):
        raise _started_elsewhere()
    if store.take(prefix + key) is None:  # a concurrent resume got it first
        raise expired
    return key, payload


def _local(url: str) -> str:
    # Only same-site paths: a resume URL must never become an open redirect.
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        raise ValueError(f"resume URL must be a local path, got {url!r}")
    return url

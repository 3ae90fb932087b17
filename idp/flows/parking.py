"""Protocol requests kept while the browser signs in, and the login ticket of the sign-in page.

Both live in the short-lived store (any instance can continue what another began), are bound
to the browser that began them, and are taken once: a resumed request cannot be resumed again,
and a resume link passed to another browser does not finish anything.
"""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any

from idp.errors import InvalidRequest
from idp.factors.kinds import FactorUse
from idp.flows.browser import Browser
from idp.session_records import factor_from_json, factor_to_json
from idp.store.ephemeral.base import EphemeralStore

TICKET_TTL = 900
MAX_HANDLE = 64
_TICKET = "login-ticket:"


class SignInExpired(InvalidRequest):
    """The ticket or parked request is gone: used already, or past its time."""


class StartedElsewhere(InvalidRequest):
    """The sign-in belongs to another browser (a link passed on must not finish it)."""


def expired_error(done: str = "completed") -> InvalidRequest:
    return SignInExpired(
        f"this sign-in has expired or was already {done}; go back to the application "
        "and start again"
    )


def started_elsewhere() -> InvalidRequest:
    return StartedElsewhere(
        "this sign-in was started in another browser; go back to the application and "
        "start again here"
    )


def new_handle() -> str:
    return secrets.token_urlsafe(24)


# -- parked protocol requests ----------------------------------------------------------------


def park(
    store: EphemeralStore, prefix: str, key: str, payload: bytes, *, browser: Browser, ttl: int
) -> None:
    """Keep a protocol request while the browser signs in; only this browser may resume it."""
    store.put(prefix + key, browser.binding.encode() + b"|" + payload, ttl=ttl)


def take_parked(
    store: EphemeralStore, prefix: str, key: str, *, browser: Browser, ttl: int
) -> bytes:
    """Take the request parked under ``key`` (single use): one store round trip.

    A foreign browser's attempt puts it back for its owner (the rare path pays the second
    trip) and is refused.
    """
    raw = store.take(prefix + key) if 0 < len(key) <= MAX_HANDLE else None
    if raw is None:
        raise expired_error("answered")
    owner, _, payload = raw.partition(b"|")
    if not hmac.compare_digest(owner, browser.binding.encode()):
        store.put(prefix + key, raw, ttl=ttl)
        raise started_elsewhere()
    return payload


# -- the login ticket ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginTicket:
    """What the sign-in page and the factor steps know about the sign-in a protocol asked for."""

    resume_url: str
    relying_party: str
    factors: tuple[str, ...]
    require_user_verification: bool
    login_hint: str | None
    #: the binding of the browser the sign-in began in
    browser: str = ""
    display_name: str | None = None
    #: where "Cancel" goes: the protocol answers its relying party with an error from there
    cancel_url: str | None = None
    #: two-factor mode: the employee whose first factor (password) succeeded, and that use
    employee_id: str | None = None
    first_factor: FactorUse | None = None
    #: the policy itself requires user verification (``require_user_verification`` above may
    #: also be set because the policy claims more than one factor)
    policy_user_verification: bool = False
    #: why the browser's current sign-in was not enough, for the sign-in page to say
    notice: str | None = None

    def to_json(self) -> bytes:
        data: dict[str, Any] = asdict(self)
        data["factors"] = list(self.factors)
        data["first_factor"] = factor_to_json(self.first_factor) if self.first_factor else None
        return json.dumps(data).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> LoginTicket:
        data = json.loads(raw)
        data["factors"] = tuple(data["factors"])
        first = data.get("first_factor")
        data["first_factor"] = factor_from_json(first) if first else None
        return cls(**data)


class Tickets:
    """Login tickets in the short-lived store."""

    def __init__(self, store: EphemeralStore, *, ttl: int = TICKET_TTL) -> None:
        self._store = store
        self._ttl = ttl

    def issue(self, ticket: LoginTicket) -> str:
        handle = new_handle()
        self._store.put(_TICKET + handle, ticket.to_json(), ttl=self._ttl)
        return handle

    def load(self, handle: str | None, *, browser: Browser) -> LoginTicket | None:
        """The ticket for ``handle``; None without a handle; a clear error for a stale one."""
        if not handle:
            return None
        if len(handle) > MAX_HANDLE:
            raise InvalidRequest("login ticket is malformed")
        raw = self._store.get(_TICKET + handle)
        if raw is None:
            raise expired_error()
        ticket = LoginTicket.from_json(raw)
        if not hmac.compare_digest(ticket.browser, browser.binding):
            raise started_elsewhere()
        return ticket

    def remember_first_factor(
        self, handle: str, ticket: LoginTicket, *, employee_id: str, use: FactorUse
    ) -> LoginTicket:
        updated = replace(ticket, employee_id=employee_id, first_factor=use)
        self._store.put(_TICKET + handle, updated.to_json(), ttl=self._ttl)
        return updated

    def finish(self, handle: str | None) -> str:
        """Consume the ticket after the last step; where to send the browser next."""
        if not handle or len(handle) > MAX_HANDLE:
            return "/"
        raw = self._store.take(_TICKET + handle)
        if raw is None:
            return "/"
        return LoginTicket.from_json(raw).resume_url


def local_path(url: str) -> str:
    # Only same-site paths: a resume URL must never become an open redirect.
    if not url.startswith("/") or url.startswith("//") or "\\" in url:
        raise ValueError(f"resume URL must be a local path, got {url!r}")
    return url

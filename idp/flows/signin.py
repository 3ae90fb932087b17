"""The sign-in engine: begin → decide → (park, sign-in page, factor steps) → resume → finish.

Each protocol describes its part as a :class:`SignInProtocol`: how its parsed request becomes an
:class:`~idp.policy.Requirement`, how it is kept while the browser signs in, how a satisfied
sign-in is answered and how a refused one is. The engine does the rest, the same for SAML,
OpenID Connect, the Entra EAM and WS-Federation, and for every shell.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee
from idp.errors import AccessDenied
from idp.flows.answers import Answer, Page, Redirect
from idp.flows.browser import Browser
from idp.flows.parking import (
    LoginTicket,
    SignInExpired,
    local_path,
    new_handle,
    park,
    take_parked,
)
from idp.policy import NeedsLogin, Requirement, Satisfied, Unsatisfiable, evaluate

if TYPE_CHECKING:
    from idp.runtime import Runtime

log = logging.getLogger("hideez_idp.signin")

R = TypeVar("R")


class RefusalKind(StrEnum):
    #: the request was passive (IsPassive, prompt=none) and no session satisfies it
    PASSIVE = "passive"
    #: the relying party asked for an authentication context this policy can never claim
    UNSATISFIABLE = "unsatisfiable"
    #: the user chose "Cancel" on the sign-in page
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Refusal:
    kind: RefusalKind
    requested: tuple[str, ...] = ()
    available: tuple[str, ...] = ()


class SignInProtocol(Protocol, Generic[R]):
    """One protocol's part of the flow; ``R`` is its parsed request."""

    #: the prefix its parked requests are kept under in the short-lived store
    park_prefix: str
    park_ttl: int

    def requirement(self, request: R) -> Requirement: ...

    def resume_url(self, key: str) -> str: ...

    def dump(self, request: R) -> bytes: ...

    def load(self, raw: bytes) -> R: ...

    def answer(self, request: R, decision: Satisfied, *, browser: Browser, key: str) -> Answer:
        """The protocol's answer from a satisfied sign-in (it may still ask for consent)."""
        ...

    def refuse(self, request: R, refusal: Refusal, *, browser: Browser) -> Answer: ...


@dataclass(frozen=True)
class Routes:
    """The shell's own URLs the flow links to."""

    login: str = "/login"
    account: str = "/"


class SignIn:
    """The engine, one per runtime."""

    def __init__(self, runtime: Runtime, *, routes: Routes | None = None) -> None:
        self._rt = runtime
        self.routes = routes or Routes()

    def proceed(
        self, protocol: SignInProtocol[R], request: R, *, browser: Browser, key: str | None = None
    ) -> Answer:
        """Decide on ``request``: answer it now, refuse it, or send the browser to sign in."""
        rt = self._rt
        requirement = protocol.requirement(request)
        decision = evaluate(requirement=requirement, context=browser.session, now=rt.now())
        key = key or new_handle()
        if isinstance(decision, Satisfied):
            return protocol.answer(request, decision, browser=browser, key=key)
        if isinstance(decision, Unsatisfiable):
            refusal = Refusal(RefusalKind.UNSATISFIABLE, decision.requested, decision.available)
            return protocol.refuse(request, refusal, browser=browser)
        if requirement.passive:
            return protocol.refuse(request, Refusal(RefusalKind.PASSIVE), browser=browser)
        park(
            rt.ephemeral,
            protocol.park_prefix,
            key,
            protocol.dump(request),
            browser=browser,
            ttl=protocol.park_ttl,
        )
        return Answer(
            Redirect(
                self.login_url(requirement, decision, protocol.resume_url(key), browser=browser)
            )
        )

    def park_again(
        self, protocol: SignInProtocol[R], request: R, *, browser: Browser, key: str
    ) -> None:
        """Keep ``request`` once more (a consent page between the sign-in and the answer)."""
        park(
            self._rt.ephemeral,
            protocol.park_prefix,
            key,
            protocol.dump(request),
            browser=browser,
            ttl=protocol.park_ttl,
        )

    def take(self, protocol: SignInProtocol[R], key: str, *, browser: Browser) -> R:
        raw = take_parked(
            self._rt.ephemeral, protocol.park_prefix, key, browser=browser, ttl=protocol.park_ttl
        )
        return protocol.load(raw)

    def resume(
        self, protocol: SignInProtocol[R], key: str, *, browser: Browser, cancel: bool = False
    ) -> Answer:
        """Back from the sign-in page (or its Cancel button) to the parked request."""
        try:
            request = self.take(protocol, key, browser=browser)
        except SignInExpired:
            if browser.session is None:
                raise
            # Back after a finished sign-in: the request was answered; say so, no error.
            return self.signed_in_page()
        if cancel:
            return protocol.refuse(request, Refusal(RefusalKind.CANCELLED), browser=browser)
        return self.proceed(protocol, request, browser=browser, key=key)

    def signed_in_page(self) -> Answer:
        return Answer(Page("signed_in", {"account_url": self.routes.account}))

    def login_url(
        self, requirement: Requirement, need: NeedsLogin, resume_url: str, *, browser: Browser
    ) -> str:
        resume = local_path(resume_url)
        sep = "&" if "?" in resume else "?"
        ticket = LoginTicket(
            resume_url=resume,
            relying_party=requirement.relying_party,
            factors=tuple(sorted(f.value for f in need.factors)),
            require_user_verification=need.require_user_verification,
            login_hint=requirement.login_hint,
            browser=browser.binding,
            display_name=requirement.display_name,
            cancel_url=f"{resume}{sep}cancel=1",
            policy_user_verification=requirement.policy.require_user_verification,
            notice=need.message,
        )
        return f"{self.routes.login}?ticket={self._rt.tickets.issue(ticket)}"

    def signed_in_employee(self, decision: Satisfied) -> Employee:
        """The employee a satisfied decision stands for, if they may still sign in."""
        employee = self._rt.directory.get(decision.context.employee_id)
        if employee is None or not employee.can_sign_in:
            raise AccessDenied("the signed-in account no longer exists or is disabled")
        return employee

    def record_answer(
        self,
        decision: Satisfied,
        *,
        protocol: str,
        relying_party: str,
        participant: str | None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        """What every answer leaves behind: the participant for logout, an audit, a log line."""
        rt, ctx = self._rt, decision.context
        if participant is not None:
            rt.sessions.record_participant(ctx.session_id, participant)
        factor = ctx.factors[-1].kind.value if ctx.factors else "session"
        rt.audit.append_event_later(
            kind=AuditKind.SSO_ISSUED,
            at=rt.now(),
            actor=ctx.employee_id,
            employee_id=ctx.employee_id,
            relying_party=relying_party,
            factor=factor,
            outcome=Outcome.SUCCESS,
            details={"protocol": protocol, **(details or {})},
        )
        log.info(
            "signed in: protocol=%s relying_party=%s factor=%s employee=%s",
            protocol,
            relying_party,
            factor,
            ctx.employee_id,
        )

    def record_refusal(
        self, *, browser: Browser, protocol: str, relying_party: str, reason: str
    ) -> None:
        rt, ctx = self._rt, browser.session
        rt.audit.append_event(
            kind=AuditKind.LOGIN_FAILURE,
            at=rt.now(),
            actor=ctx.employee_id if ctx else None,
            employee_id=ctx.employee_id if ctx else None,
            relying_party=relying_party,
            outcome=Outcome.FAILURE,
            reason=reason[:500],
            details={"protocol": protocol, "ip": browser.ip},
        )
        log.info(
            "sign-in refused: protocol=%s relying_party=%s reason=%s",
            protocol,
            relying_party,
            reason[:200],
        )

"""Factor steps of a sign-in, and the session a finished sign-in leads to.

A factor kind plugs in as a small class beside :mod:`~idp.flows.passkey_step` and
:mod:`~idp.flows.password_step`: ``begin`` (what the page needs to start the ceremony, when it
has a challenge) and ``finish`` (verify it into a :class:`StepDone` naming the employee and
the factor use, or raise a typed error), handing the result to :meth:`Steps.complete` (a
sign-in factor) or :meth:`Steps.first_factor` (the password). :meth:`Steps.complete` applies
the employee's SSO mode: *passwordless* — one strong
factor the policy lists; *two-factor* — the password first (kept in the login ticket, never a
session on its own), then a strong factor of the same employee.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee, SsoMode
from idp.errors import AccessDenied, IdpError
from idp.factors.kinds import FactorKind, FactorUse
from idp.factors.passkey_client_report import ClientCeremonyFailure
from idp.flows.answers import Answer, Json
from idp.flows.browser import Browser
from idp.flows.parking import LoginTicket
from idp.sessions import AuthContext, SessionError
from idp.store import rate

if TYPE_CHECKING:
    from idp.runtime import Runtime


class TooManyAttempts(IdpError):
    error = "too_many_attempts"
    status = 429
    retry_after = 60


class PasswordFirst(AccessDenied):
    """A two-factor employee tried a strong factor before their password."""

    error = "password_required"


@dataclass(frozen=True)
class StepDone:
    employee: Employee
    use: FactorUse


class Steps:
    """What every factor step shares: rate limits, the SSO mode rules, the session, audit."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def check_rate(self, browser: Browser, *, scope: str = "login") -> None:
        rt = self._rt
        attempts = rate.count(rt.ephemeral, f"{scope}:{browser.ip}", now=rt.now())
        if attempts > rt.config.limits.login_attempts_per_minute:
            raise TooManyAttempts("too many sign-in attempts from this address; wait a minute")

    def ticket(self, handle: str | None, *, browser: Browser) -> LoginTicket | None:
        return self._rt.tickets.load(handle, browser=browser)

    def complete(
        self, done: StepDone, *, handle: str | None, ticket: LoginTicket | None, browser: Browser
    ) -> Answer:
        """A strong factor succeeded: the sign-in is finished (session, audit, next URL)."""
        rt, employee = self._rt, done.employee
        earlier: tuple[FactorUse, ...] = ()
        if employee.sso_mode is SsoMode.TWO_FACTOR:
            if ticket is None or ticket.employee_id != employee.id or ticket.first_factor is None:
                raise PasswordFirst(
                    "your account signs in with your password first, then this factor; "
                    "enter your user name and password"
                )
            earlier = (ticket.first_factor,)
        context = self._session_after_login(employee.id, (*earlier, done.use), browser=browser)
        rt.audit.append_event(
            kind=AuditKind.LOGIN_SUCCESS,
            at=rt.now(),
            actor=employee.id,
            employee_id=employee.id,
            relying_party=ticket.relying_party if ticket else "idp",
            factor=done.use.kind.value,
            outcome=Outcome.SUCCESS,
            details={"ip": browser.ip, "factors": " ".join(u.kind.value for u in context.factors)},
        )
        return Answer(Json({"ok": True, "redirect": rt.tickets.finish(handle)}), session=context)

    def first_factor(
        self, done: StepDone, *, handle: str | None, ticket: LoginTicket | None, browser: Browser
    ) -> Answer:
        """The password of a two-factor employee succeeded: remember it; a factor comes next."""
        if ticket is None or handle is None:
            raise AccessDenied("start from the application or the sign-in page, then try again")
        self._rt.tickets.remember_first_factor(
            handle, ticket, employee_id=done.employee.id, use=done.use
        )
        self._rt.audit.append_event(
            kind=AuditKind.LOGIN_SUCCESS,
            at=self._rt.now(),
            actor=done.employee.id,
            employee_id=done.employee.id,
            relying_party=ticket.relying_party,
            factor=done.use.kind.value,
            outcome=Outcome.SUCCESS,
            details={"ip": browser.ip, "step": "first factor; second factor still due"},
        )
        return Answer(
            Json({"ok": True, "next": "second_factor", "username": done.employee.username})
        )

    def _session_after_login(
        self, employee_id: str, uses: tuple[FactorUse, ...], *, browser: Browser
    ) -> AuthContext:
        """A fresh sign-in: re-authenticate this browser's session, or start a new one."""
        rt, existing = self._rt, browser.session
        if existing is not None and existing.employee_id == employee_id:
            try:
                return rt.sessions.reauthenticate(
                    existing.session_id,
                    expected_employee_id=employee_id,
                    factors=uses,
                    now=rt.now(),
                )
            except SessionError:
                pass  # ended meanwhile: fall through to a new session
        elif existing is not None:
            rt.sessions.end(existing.session_id)
        return rt.sessions.create(employee_id=employee_id, factors=uses, now=rt.now())

    def audit_failure(
        self,
        *,
        employee_id: str | None,
        factor: FactorKind,
        ticket: LoginTicket | None,
        browser: Browser,
        exc: IdpError,
    ) -> None:
        rt = self._rt
        rt.audit.append_event(
            kind=AuditKind.LOGIN_FAILURE,
            at=rt.now(),
            actor=employee_id,
            employee_id=employee_id,
            relying_party=ticket.relying_party if ticket else "idp",
            factor=factor.value,
            outcome=Outcome.FAILURE,
            reason=f"{exc.error}: {exc.description}"[:500],
            details={"ip": browser.ip, "error_id": exc.error_id},
        )

    def audit_client_failure(
        self,
        failure: ClientCeremonyFailure,
        *,
        employee_id: str | None,
        relying_party: str | None,
        browser: Browser,
    ) -> None:
        """A ceremony the browser refused before asking us, as its page reported it."""
        rt = self._rt
        rt.audit.append_event(
            kind=failure.kind,
            at=rt.now(),
            actor=employee_id,
            employee_id=employee_id,
            relying_party=relying_party,
            factor=FactorKind.PASSKEY.value,
            outcome=Outcome.FAILURE,
            reason=failure.reason[:500],
            details={
                "ip": browser.ip,
                "reported_by": "browser",
                "dom_exception": failure.dom_exception,
            },
        )

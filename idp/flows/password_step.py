"""The password step of the two-factor SSO mode, and setting the password by enrolment link.

A password is never a sign-in on its own: a correct one is kept in the login ticket (bound to
the browser) and the session only starts after the employee's second factor
(:meth:`idp.flows.steps.Steps.first_factor`). Every attempt is counted and audited; the answer
never tells whether the user name exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee
from idp.errors import AccessDenied, IdpError, InvalidRequest
from idp.factors.kinds import FactorKind
from idp.factors.password_errors import PasswordError, PasswordRejected
from idp.factors.password_signin import check_password_attempt, set_password
from idp.flows.answers import Answer, Json
from idp.flows.browser import Browser
from idp.flows.fields import str_field
from idp.flows.steps import StepDone, Steps

if TYPE_CHECKING:
    from idp.runtime import Runtime

# Far above any password rule (256 characters): refused before any work is done.
MAX_PASSWORD_FIELD = 4096


def _password(data: Mapping[str, Any]) -> str:
    value = data.get("password")
    if not isinstance(value, str) or not value:
        raise InvalidRequest("field 'password' must be a non-empty string")
    if len(value) > MAX_PASSWORD_FIELD:
        raise InvalidRequest(f"field 'password' is longer than {MAX_PASSWORD_FIELD} characters")
    return value


class PasswordStep:
    kind = FactorKind.PASSWORD

    def __init__(self, runtime: Runtime, steps: Steps) -> None:
        self._rt = runtime
        self._steps = steps

    def finish(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        rt = self._rt
        handle = str_field(data, "ticket", max_len=64, required=False)
        ticket = self._steps.ticket(handle, browser=browser)
        username = str_field(data, "username", max_len=256) or ""
        password = _password(data)
        employee = rt.employees.get_by_username(username) or rt.employees.get_by_email(username)
        try:
            use = check_password_attempt(
                repository=rt.passwords,
                ephemeral=rt.ephemeral,
                employee=employee,
                username=username,
                password=password,
                client_ip=browser.ip,
                now=rt.now(),
                params=rt.password_params,
                limits=rt.config.passwords.limits,
            )
        except PasswordError as exc:
            self._audit_refusal(
                exc, employee, ticket_rp=ticket.relying_party if ticket else None, browser=browser
            )
            raise
        assert employee is not None  # check_password_attempt refuses unknown users
        return self._steps.first_factor(
            StepDone(employee, use), handle=handle, ticket=ticket, browser=browser
        )

    def _audit_refusal(
        self,
        exc: PasswordError,
        employee: Employee | None,
        *,
        ticket_rp: str | None,
        browser: Browser,
    ) -> None:
        rt, employee_id = self._rt, employee.id if employee else None
        reason = exc.reason.value if isinstance(exc, PasswordRejected) else exc.error
        rt.audit.append_event(
            kind=AuditKind.LOGIN_FAILURE,
            at=rt.now(),
            actor=employee_id,
            employee_id=employee_id,
            relying_party=ticket_rp or "idp",
            factor="password",
            outcome=Outcome.FAILURE,
            reason=f"{exc.error}: {reason}",
            details={"ip": browser.ip, "error_id": exc.error_id},
        )
        if isinstance(exc, PasswordRejected) and exc.locked_until is not None:
            rt.audit.append_event(
                kind=AuditKind.PASSWORD_LOCKED,
                at=rt.now(),
                actor=None,
                employee_id=employee_id,
                factor="password",
                outcome=Outcome.FAILURE,
                details={"until": exc.locked_until.isoformat(), "ip": browser.ip},
            )

    def set_by_link(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        """The employee sets (or replaces) their password through their enrolment link."""
        rt = self._rt
        token = str_field(data, "token", max_len=128) or ""
        employee = rt.employees.get(rt.enrolment.peek(token, now=rt.now()).employee_id)
        if employee is None or not employee.enabled:
            raise AccessDenied("this account is disabled; ask your administrator")
        try:
            done = set_password(
                repository=rt.passwords,
                employee=employee,
                password=_password(data),
                now=rt.now(),
                params=rt.password_params,
                min_length=rt.config.passwords.min_length,
            )
        except IdpError as exc:
            rt.audit.append_event(
                kind=AuditKind.LOGIN_FAILURE,
                at=rt.now(),
                actor=employee.id,
                employee_id=employee.id,
                factor="password",
                outcome=Outcome.FAILURE,
                reason=f"password refused at enrolment: {exc.error}",
                details={"ip": browser.ip},
            )
            raise
        rt.audit.append_event(
            kind=AuditKind.PASSWORD_CHANGED if done.replaced else AuditKind.PASSWORD_SET,
            at=rt.now(),
            actor=employee.id,
            employee_id=employee.id,
            factor="password",
            outcome=Outcome.SUCCESS,
            details={"ip": browser.ip, "via": "enrolment link"},
        )
        return Answer(Json({"ok": True}))

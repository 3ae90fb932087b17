"""The TOTP factor step: a code from any authenticator app (RFC 6238).

Failures are counted per employee in the short-lived store (``totp-fail:<who>:<window>``,
fixed windows of ``lockout_minutes`` on the runtime's clock): the ``lockout_attempts``-th
failure inside a window locks TOTP for the rest of it, on every instance. A code is spent by
one conditional update of the last used step (see :mod:`idp.factors.authenticator.store`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.directory.model import Employee, SsoMode
from idp.errors import AccessDenied, IdpError
from idp.factors.authenticator.errors import (
    TotpError,
    TotpLocked,
    TotpReused,
    UserVerificationRequired,
)
from idp.factors.authenticator.model import TotpCredential
from idp.factors.authenticator.totp import MAX_CODE_FIELD, verify_code
from idp.factors.kinds import FactorKind, FactorUse
from idp.flows.answers import Answer
from idp.flows.browser import Browser
from idp.flows.fields import str_field
from idp.flows.parking import LoginTicket
from idp.flows.steps import PasswordFirst, StepDone, Steps
from idp.policy import unverified_factor_suffices, unverified_refusal
from idp.secrets import secret_aad
from idp.store import rate

if TYPE_CHECKING:
    from idp.runtime import Runtime

AMR_OTP = "otp"
SECRET_PURPOSE = "totp_secret"
WRONG_CODE = "the code is not correct; check the time on your phone and try again"


def decrypt_secret(runtime: Runtime, credential: TotpCredential) -> str:
    aad = secret_aad(SECRET_PURPOSE, credential.employee_id)
    return runtime.secrets.decrypt(credential.secret_encrypted, aad=aad).decode("ascii")


def _code_can_suffice(ticket: LoginTicket | None, employee: Employee | None) -> bool:
    """Whether a TOTP code (possession only, never user verification: see
    :data:`idp.policy.UNVERIFIED_FACTOR`) can satisfy the policy of this sign-in."""
    if ticket is None:
        return True
    return unverified_factor_suffices(
        ticket_requires_uv=ticket.require_user_verification,
        policy_requires_uv=ticket.policy_user_verification,
        after_password=employee is not None
        and ticket.first_factor is not None
        and ticket.employee_id == employee.id,
    )


class TotpStep:
    kind = FactorKind.TOTP

    def __init__(self, runtime: Runtime, steps: Steps) -> None:
        self._rt = runtime
        self._steps = steps

    def finish(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        rt = self._rt
        self._steps.check_rate(browser)
        handle = str_field(data, "ticket", max_len=64, required=False)
        ticket = self._steps.ticket(handle, browser=browser)
        if ticket is not None and self.kind.value not in ticket.factors:
            raise AccessDenied("this application does not accept one-time codes")
        code = str_field(data, "code", max_len=MAX_CODE_FIELD) or ""
        if ticket is not None and ticket.employee_id is not None:
            employee = rt.employees.get(ticket.employee_id)
            who = ticket.employee_id
        else:
            username = str_field(data, "username", max_len=256) or ""
            employee = rt.employees.get_by_username(username) or rt.employees.get_by_email(username)
            who = employee.id if employee else "unknown:" + username.lower()
        try:
            if (
                employee is not None
                and employee.sso_mode is SsoMode.TWO_FACTOR
                and (ticket is None or ticket.employee_id != employee.id)
            ):
                # Before the code is checked (and its step spent): the password comes first.
                raise PasswordFirst(
                    "your account signs in with your password first, then this factor; "
                    "enter your user name and password"
                )
            # Before the code is checked too: no code can be enough here, say why.
            if not _code_can_suffice(ticket, employee):
                raise UserVerificationRequired(unverified_refusal(FactorKind.TOTP))
            done = self._verify(employee, who, code)
            return self._steps.complete(done, handle=handle, ticket=ticket, browser=browser)
        except IdpError as exc:
            self._steps.audit_failure(
                employee_id=employee.id if employee else None, factor=self.kind, ticket=ticket,
                browser=browser, exc=exc,
            )  # fmt: skip
            raise

    def _verify(self, employee: Employee | None, who: str, code: str) -> StepDone:
        rt, limits = self._rt, self._rt.config.authenticator.totp
        window, scope = limits.lockout_minutes * 60, f"totp-fail:{who}"
        if rate.recent(rt.ephemeral, scope, now=rt.now(), window=window) >= limits.lockout_attempts:
            raise TotpLocked(minutes=limits.lockout_minutes)
        credential = rt.authenticator.totp.get(employee.id) if employee else None
        try:
            if employee is None or credential is None or not employee.can_sign_in:
                raise TotpError(
                    "the code is not correct; check the time on your phone and try again"
                )
            match = verify_code(
                secret=decrypt_secret(rt, credential),
                code=code,
                now=rt.now(),
                algorithm=credential.algorithm,
                digits=credential.digits,
                period=credential.period,
                last_used_step=credential.last_used_step,
            )
        except TotpReused:
            raise
        except TotpError:
            failures = rate.count(rt.ephemeral, scope, now=rt.now(), window=window)
            if failures >= limits.lockout_attempts:
                raise TotpLocked(minutes=limits.lockout_minutes) from None
            raise
        if not rt.authenticator.totp.spend_step(employee.id, match.step):
            raise TotpReused("this code was already used; wait for the next one")
        use = FactorUse(
            kind=self.kind,
            credential_id=f"totp:{employee.id}",
            at=rt.now(),
            # Possession only, by decision (idp.policy.UNVERIFIED_FACTOR): nothing checks who
            # read the code off the phone.
            user_verified=False,
            amr=(AMR_OTP,),
        )
        return StepDone(employee, use)

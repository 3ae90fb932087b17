"""The authenticator-app factor step: a push challenge with number matching.

``begin`` makes the challenge as soon as the employee is known (the login hint, the username
typed, or the two-factor ticket's employee), queues its push (sent by the background sender,
:mod:`idp.factors.authenticator.sender`) and gives the page the number to show; the page
then asks ``poll`` every second or so, and learns there whether the push was delivered. Each
poll is a short request (three store reads), so a waiting browser holds no worker
(docs/authenticator.md measures how many one process holds). The approved answer finishes
the sign-in once, through :meth:`Steps.complete`.

An unknown user, one without an app, or a disabled one gets a decoy challenge shaped like a
real one that no app can answer, so the page does not tell which accounts exist.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee, SsoMode
from idp.errors import AccessDenied, IdpError, InvalidRequest
from idp.factors.authenticator import push, remembered, sender
from idp.factors.authenticator.errors import ChallengeGone, PushDenied, UserVerificationRequired
from idp.factors.authenticator.model import Device
from idp.factors.kinds import AMR_SOFTWARE_KEY, FactorKind, FactorUse
from idp.flows.answers import Answer, Json
from idp.flows.browser import Browser
from idp.flows.fields import str_field
from idp.flows.parking import LoginTicket
from idp.flows.steps import PasswordFirst, StepDone, Steps, TooManyAttempts
from idp.policy import unverified_factor_suffices, unverified_refusal
from idp.store import rate

if TYPE_CHECKING:
    from idp.runtime import Runtime

log = logging.getLogger("hideez_idp.push")

POLL_INTERVAL_MS = 1000


@dataclass(frozen=True)
class Requester:
    """What the page's request tells the person on the phone about who is signing in."""

    user_agent: str
    location: str | None = None


class PushStep:
    kind = FactorKind.AUTHENTICATOR_APP

    def __init__(self, runtime: Runtime, steps: Steps) -> None:
        self._rt = runtime
        self._steps = steps

    def begin(self, data: Mapping[str, Any], *, browser: Browser, requester: Requester) -> Answer:
        handle = str_field(data, "ticket", max_len=64, required=False)
        ticket = self._steps.ticket(handle, browser=browser)
        if ticket is not None and self.kind.value not in ticket.factors:
            raise AccessDenied("this application does not accept the authenticator app")
        username = str_field(data, "username", max_len=256, required=False)
        # No user name, and none known yet: the device this browser last signed in with.
        unknown = ticket is None or ticket.employee_id is None
        bound = _bound(browser, handle)
        if unknown and not username and _flag(data, "remembered"):
            return self._begin_remembered(ticket, browser=browser, bound=bound, requester=requester)
        employee, device = self._target(ticket, username)
        return self._send(ticket, employee, device, username, browser=browser, bound=bound,
                          requester=requester)  # fmt: skip

    def _send(
        self,
        ticket: LoginTicket | None,
        employee: Employee | None,
        device: Device | None,
        username: str | None,
        *,
        browser: Browser,
        bound: str,
        requester: Requester,
    ) -> Answer:
        rt, settings = self._rt, self._rt.config.authenticator
        self._limit(f"push-ip:{browser.ip}", settings.push_per_address_per_minute)
        who = employee.id if employee else "decoy:" + _decoy_id(username or "")
        self._limit(f"push-user:{who}", settings.push_per_user_per_minute)
        challenge, created = push.create_challenge(
            rt.ephemeral,
            employee_id=who,
            device_id=device.device_id if device else "",
            relying_party=(ticket.display_name or ticket.relying_party) if ticket else "idp",
            ip=browser.ip,
            user_agent=requester.user_agent,
            location=requester.location,
            browser=bound,
            now=rt.now(),
            ttl=settings.push_ttl,
        )
        if created:
            rt.authenticator.queue_push(rt.ephemeral, device, challenge, server=rt.config.base_url)
        return Answer(
            Json(
                {
                    "transaction_id": challenge.transaction_id,
                    "number": challenge.number,
                    "expires_in": challenge.expires_at - int(rt.now().timestamp()),
                    "poll_interval_ms": POLL_INTERVAL_MS,
                }
            )
        )

    def _begin_remembered(
        self,
        ticket: LoginTicket | None,
        *,
        browser: Browser,
        bound: str,
        requester: Requester,
    ) -> Answer:
        """The push to the device this browser last signed in with; without a (still valid)
        one, the same answer as without a user name: nothing tells why."""
        found = self.remembered(browser)
        if found is None:
            raise AccessDenied("enter your user name first, then the request goes to your phone")
        employee, device = found
        rt = self._rt
        rt.audit.append_event(
            kind=AuditKind.PUSH_REMEMBERED_DEVICE,
            at=rt.now(),
            actor=employee.id,
            employee_id=employee.id,
            relying_party=ticket.relying_party if ticket else "idp",
            factor=self.kind.value,
            outcome=Outcome.INFO,
            reason="sign-in request sent to the device remembered on this browser",
            details={"ip": browser.ip, "device_id": device.device_id},
        )
        return self._send(ticket, employee, device, None, browser=browser, bound=bound,
                          requester=requester)  # fmt: skip

    def remembered(self, browser: Browser) -> tuple[Employee, Device] | None:
        """The employee and device this browser last signed in with, if both may still be
        used for a push without a user name; a stale record is forgotten (and audited)."""
        rt = self._rt
        if rt.config.authenticator.remember_device_days == 0:
            return None
        record = remembered.recall(rt.ephemeral, browser.binding)
        if record is None:
            return None
        employee = rt.directory.get(record.employee_id)
        device = rt.authenticator.devices.for_employee(record.employee_id)
        why = None
        if employee is None or not employee.can_sign_in:
            why = "the employee may not sign in"
        elif employee.sso_mode is SsoMode.TWO_FACTOR:
            why = "the employee signs in with a password first"
        elif device is None or device.device_id != record.device_id:
            why = "the device was removed or replaced"
        elif not device.usable:
            why = "the device is disabled"
        if why is None and employee is not None and device is not None:
            return employee, device
        remembered.forget(rt.ephemeral, browser.binding)
        rt.audit.append_event(
            kind=AuditKind.PUSH_REMEMBERED_DEVICE, at=rt.now(), actor=record.employee_id,
            employee_id=record.employee_id, factor=self.kind.value, outcome=Outcome.FAILURE,
            reason=f"remembered device forgotten: {why}",
            details={"ip": browser.ip, "device_id": record.device_id},
        )  # fmt: skip
        return None

    def _limit(self, scope: str, per_minute: int) -> None:
        rt = self._rt
        if rate.count(rt.ephemeral, scope, now=rt.now()) > per_minute:
            raise TooManyAttempts("too many sign-in requests to the phone; wait a minute")

    def _target(
        self, ticket: LoginTicket | None, username: str | None
    ) -> tuple[Employee | None, Device | None]:
        rt = self._rt
        if ticket is not None and ticket.employee_id is not None:
            employee = rt.employees.get(ticket.employee_id)
        elif username:
            employee = rt.employees.get_by_username(username) or rt.employees.get_by_email(username)
            if employee is not None and employee.sso_mode is SsoMode.TWO_FACTOR:
                raise PasswordFirst(
                    "your account signs in with your password first, then this factor; "
                    "enter your user name and password"
                )
        else:
            raise AccessDenied("enter your user name first, then the request goes to your phone")
        if employee is None or not employee.can_sign_in:
            return None, None
        device = rt.authenticator.devices.for_employee(employee.id)
        if device is None or not device.usable:
            return None, None
        return employee, device

    def poll(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        """The sign-in page asks how its challenge stands; an approval finishes the sign-in."""
        rt = self._rt
        handle = str_field(data, "ticket", max_len=64, required=False)
        ticket = self._steps.ticket(handle, browser=browser)
        challenge = push.load_challenge(
            rt.ephemeral, str_field(data, "transaction_id", max_len=64) or ""
        )
        push.check_browser(challenge, _bound(browser, handle))
        answer = push.answer_of(rt.ephemeral, challenge)
        if answer is None and not challenge.expired(rt.now()):
            return Answer(Json(_pending(rt, challenge)))
        employee = rt.directory.get(challenge.employee_id)
        try:
            return self._finish(challenge, answer, employee, handle=handle, ticket=ticket,
                                browser=browser)  # fmt: skip
        except IdpError as exc:
            if employee is not None:
                self._steps.audit_failure(
                    employee_id=employee.id, factor=self.kind, ticket=ticket, browser=browser,
                    exc=exc,
                )  # fmt: skip
            raise

    def _finish(
        self,
        challenge: push.PushChallenge,
        answer: push.PushAnswer | None,
        employee: Employee | None,
        *,
        handle: str | None,
        ticket: LoginTicket | None,
        browser: Browser,
    ) -> Answer:
        rt = self._rt
        if answer is None:
            push.cancel(rt.ephemeral, challenge)
            raise ChallengeGone("the request to your phone expired; send a new one")
        if answer.decision is not push.Decision.APPROVED:
            push.cancel(rt.ephemeral, challenge)
            if answer.decision is push.Decision.WRONG_NUMBER:
                raise PushDenied(
                    "the number chosen on the phone did not match this page, so the sign-in "
                    "was refused; try again and pick the number shown here"
                )
            raise PushDenied("the sign-in was denied on your phone")
        if not push.consume(rt.ephemeral, challenge):
            raise ChallengeGone("this sign-in request was already used")
        if employee is None or not employee.can_sign_in:
            raise AccessDenied("this account is disabled; ask your administrator")
        if ticket is not None and ticket.employee_id not in (None, employee.id):
            raise AccessDenied("this phone belongs to another account than the password")
        if not answer.user_verified and not _unverified_suffices(ticket, employee):
            raise UserVerificationRequired(unverified_refusal(self.kind))
        amr = (AMR_SOFTWARE_KEY, "user") if answer.user_verified else (AMR_SOFTWARE_KEY,)
        use = FactorUse(
            kind=self.kind,
            credential_id=challenge.device_id,
            at=rt.now(),
            user_verified=answer.user_verified,
            amr=amr,
        )
        done = self._steps.complete(
            StepDone(employee, use), handle=handle, ticket=ticket, browser=browser
        )
        days = rt.config.authenticator.remember_device_days
        if days and employee.sso_mode is not SsoMode.TWO_FACTOR:
            remembered.remember(rt.ephemeral, binding=browser.binding, employee_id=employee.id,
                                device_id=challenge.device_id, days=days)  # fmt: skip
        return done


def _bound(browser: Browser, handle: str | None) -> str:
    """What a challenge is tied to: this browser *and* this sign-in (its ticket), so a second
    tab's sign-in can neither reuse nor finish the push the phone shows for the first."""
    return f"{browser.binding}|{handle or ''}"


def _flag(data: Mapping[str, Any], name: str) -> bool:
    value = data.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"field {name!r} must be true or false, got {type(value).__name__}")
    return value


def _unverified_suffices(ticket: LoginTicket | None, employee: Employee) -> bool:
    if ticket is None:
        return True
    return unverified_factor_suffices(
        ticket_requires_uv=ticket.require_user_verification,
        policy_requires_uv=ticket.policy_user_verification,
        after_password=ticket.first_factor is not None and ticket.employee_id == employee.id,
    )


def _pending(rt: Runtime, challenge: push.PushChallenge) -> dict[str, Any]:
    """A waiting challenge, and what became of its push (a failed one is said, with why)."""
    delivery = sender.delivery_of(rt.ephemeral, challenge.transaction_id)
    state = delivery.state.value if delivery else sender.Delivery.SENT.value
    pending: dict[str, Any] = {"state": "pending", "delivery": state}
    if delivery is not None and delivery.message:
        pending["message"] = delivery.message
    return pending


def _decoy_id(username: str) -> str:
    return hashlib.sha256(b"push-decoy|" + username.lower().encode()).hexdigest()[:32]


def audit_answer(runtime: Runtime, challenge: push.PushChallenge, answer: push.PushAnswer) -> None:
    """What the app answered, for the audit trail (a wrong number and "not me" stand out)."""
    rt = runtime
    if answer.decision is push.Decision.APPROVED:
        return
    reason = (
        "wrong number chosen on the phone"
        if answer.decision is push.Decision.WRONG_NUMBER
        else f"denied on the phone ({answer.reason or 'declined'})"
    )
    rt.audit.append_event(
        kind=AuditKind.LOGIN_FAILURE,
        at=rt.now(),
        actor=challenge.employee_id,
        employee_id=challenge.employee_id,
        relying_party=challenge.relying_party,
        factor=FactorKind.AUTHENTICATOR_APP.value,
        outcome=Outcome.FAILURE,
        reason=reason,
        details={
            "ip": challenge.ip,
            "device_id": challenge.device_id,
            "decision": answer.decision.value,
        },
    )

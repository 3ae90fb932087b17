"""A second factor after another identity provider's sign-in (a proxy's MFA step-up).

A proxy such as SATOSA has an authentication from an upstream IdP and must add one of our
factors before it answers its relying party. The upstream result waits server-side (parked,
single use, bound to the browser) together with what the second factor is bound to: the
employee the upstream subject was matched to, the relying party, the upstream authentication
instant and the proxy's own flow id. :meth:`StepUp.finish` hands the kept result back only when
all of them agree and the browser's session now holds a fresh factor of that same employee;
anything else is an error, never a pass (the shell must fail closed).

The same protocol serves a proxy's own sign-in without an upstream (SATOSA's passwordless
backend): no employee is named in advance (``employee_id=None``, anyone who signs in counts) and
no upstream instant bounds the factor's age beyond the policy's own.

The factor itself runs on the ordinary sign-in page and steps (:mod:`idp.flows.steps`): any
factor kind the policy names plugs in there, not here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idp.errors import AccessDenied, InvalidRequest
from idp.flows.answers import Answer, Redirect
from idp.flows.browser import Browser
from idp.flows.signin import Refusal, SignIn
from idp.policy import Requirement, Satisfied, evaluate

if TYPE_CHECKING:
    from idp.runtime import Runtime


@dataclass(frozen=True)
class StepUpRequest:
    """An upstream authentication waiting for its second factor (or a proxy's own sign-in)."""

    #: the employee the upstream subject was matched to; None: whoever signs in
    employee_id: str | None
    username: str | None
    #: the relying party the proxy answers (a SAML SP entity id, an OIDC client id …)
    relying_party: str
    display_name: str | None
    policy: str
    #: when the upstream identity provider authenticated the user (the factor must be newer);
    #: None: no upstream, the policy's age limit only
    upstream_authn_at: dt.datetime | None
    #: the proxy's id for this authentication (SATOSA's state session id)
    flow_id: str
    #: the proxy's own data for the rest of its chain, kept here instead of in its cookie
    payload: str


@dataclass(frozen=True)
class StepUpDone:
    request: StepUpRequest
    decision: Satisfied


class StepUpRefused(AccessDenied):
    """The second factor was cancelled, not done, or done for someone else."""

    error = "mfa_failed"


class StepUpMismatch(InvalidRequest):
    """The resumed step-up belongs to another authentication than the one presented."""

    error = "mfa_mismatch"


class StepUp:
    """The step-up protocol over the sign-in engine (one per runtime and shell)."""

    park_prefix = "stepup-pending:"
    park_ttl = 900

    def __init__(self, runtime: Runtime, engine: SignIn, *, resume_path: str) -> None:
        self._rt = runtime
        self._engine = engine
        self._resume_path = resume_path

    def begin(self, request: StepUpRequest, *, browser: Browser, key: str) -> Answer:
        """Send the browser to the sign-in page (or straight on when its session counts)."""
        return self._engine.proceed(self, request, browser=self._own(browser, request), key=key)

    def finish(
        self, key: str, *, browser: Browser, flow_id: str, cancel: bool = False
    ) -> StepUpDone:
        """The kept upstream result, if the second factor was done for this authentication."""
        request = self._engine.take(self, key, browser=browser)
        if not hmac.compare_digest(request.flow_id.encode(), flow_id.encode()):
            self._refused(request, browser, "the resumed step-up belongs to another sign-in")
            raise StepUpMismatch(
                "this second-factor step belongs to another sign-in; go back to the "
                "application and start again"
            )
        if cancel:
            self._refused(request, browser, "cancelled")
            raise StepUpRefused("the second factor was cancelled; you are not signed in")
        ctx = browser.session
        if ctx is None or request.employee_id not in (None, ctx.employee_id):
            self._refused(request, browser, "no second factor of the authenticated user")
            raise StepUpRefused(
                f"the second factor must be {request.username}'s own, the account the identity "
                "provider signed in; you are not signed in"
                if ctx is not None
                else "the sign-in was not completed; you are not signed in"
            )
        decision = evaluate(requirement=self.requirement(request), context=ctx, now=self._rt.now())
        if not isinstance(decision, Satisfied):
            self._refused(request, browser, f"second factor not done ({type(decision).__name__})")
            raise StepUpRefused("the second factor was not completed; you are not signed in")
        self._engine.signed_in_employee(decision)
        self._engine.record_answer(
            decision, protocol="stepup", relying_party=request.relying_party, participant=None
        )
        return StepUpDone(request, decision)

    def _own(self, browser: Browser, request: StepUpRequest) -> Browser:
        # Only a session of the matched employee can count; another one's is ignored here
        # (and replaced by the sign-in that follows).
        ctx = browser.session
        if ctx is not None and request.employee_id not in (None, ctx.employee_id):
            return dataclasses.replace(browser, session=None)
        return browser

    def _refused(self, request: StepUpRequest, browser: Browser, reason: str) -> None:
        self._engine.record_refusal(
            browser=browser, protocol="stepup", relying_party=request.relying_party, reason=reason
        )

    # -- SignInProtocol ----------------------------------------------------------------------
    def requirement(self, request: StepUpRequest) -> Requirement:
        # The factor must be no older than the upstream sign-in it completes (a clock ahead
        # of ours must not make it unreachable).
        upstream = request.upstream_authn_at
        fresh_after = None if upstream is None else min(upstream, self._rt.now())
        return Requirement(
            relying_party=request.relying_party,
            display_name=request.display_name,
            policy=self._rt.config.policies.get(request.policy),
            fresh_after=fresh_after,
            login_hint=request.username,
        )

    def resume_url(self, key: str) -> str:
        return f"{self._resume_path}?k={key}"

    def dump(self, request: StepUpRequest) -> bytes:
        data = dataclasses.asdict(request)
        if request.upstream_authn_at is not None:
            data["upstream_authn_at"] = request.upstream_authn_at.isoformat()
        return json.dumps(data).encode()

    def load(self, raw: bytes) -> StepUpRequest:
        data = json.loads(raw)
        if data["upstream_authn_at"] is not None:
            data["upstream_authn_at"] = dt.datetime.fromisoformat(data["upstream_authn_at"])
        return StepUpRequest(**data)

    def answer(
        self, request: StepUpRequest, decision: Satisfied, *, browser: Browser, key: str
    ) -> Answer:
        # The session counts already: keep the request once more and let the shell's resume
        # endpoint (which knows its own flow id) finish it like any other.
        self._engine.park_again(self, request, browser=browser, key=key)
        return Answer(Redirect(self.resume_url(key)))

    def refuse(self, request: StepUpRequest, refusal: Refusal, *, browser: Browser) -> Answer:
        self._refused(request, browser, refusal.kind.value)
        raise StepUpRefused(
            f"the second factor {request.relying_party} requires cannot be done here "
            f"({refusal.kind.value})"
        )

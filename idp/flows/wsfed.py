"""WS-Federation passive requestor sign-in (``wsignin1.0``) over the sign-in engine.

Sign-out (``wsignout1.0``, ``wsignoutcleanup1.0``) is part of the one logout plan
(:mod:`idp.flows.logout`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from idp.errors import InvalidRequest
from idp.flows.answers import Answer, FormPost, Page
from idp.flows.browser import Browser
from idp.flows.signin import Refusal, RefusalKind, SignIn
from idp.policy import Requirement, Satisfied
from idp.sessions import AuthContext
from idp.subject import Subject, subject_from_employee
from idp.wsfed.errors import ClaimUnavailable, WsFedError
from idp.wsfed.requests import SignInRequest, parse_request
from idp.wsfed.signout import participant_key
from idp.wsfed.tokens import SignInResponse, build_signin_response

if TYPE_CHECKING:
    from idp.runtime import Runtime
    from idp.wsfed.runtime import WsFedRuntime

Params = Mapping[str, Sequence[str]]


@dataclasses.dataclass(frozen=True)
class PendingSignIn:
    #: the parameters as they arrived: parsed again on resume against today's settings
    params: Params
    request: SignInRequest


class WsFedSignIn:
    park_prefix = "wsfed-pending:"
    park_ttl = 900

    def __init__(self, runtime: Runtime, wsfed: WsFedRuntime, engine: SignIn) -> None:
        self._rt = runtime
        self._wsfed = wsfed
        self._engine = engine

    def sign_in(self, params: Params, request: SignInRequest, *, browser: Browser) -> Answer:
        return self._engine.proceed(self, PendingSignIn(params, request), browser=browser)

    def resume(self, key: str, *, browser: Browser, cancel: bool = False) -> Answer:
        return self._engine.resume(self, key, browser=browser, cancel=cancel)

    # -- SignInProtocol ----------------------------------------------------------------------
    def requirement(self, request: PendingSignIn) -> Requirement:
        parsed, rp = request.request, request.request.relying_party
        return Requirement(
            relying_party=rp.name,
            display_name=rp.display_name,
            policy=self._rt.config.policies.get(rp.policy),
            fresh_after=parsed.received_at if parsed.force_fresh else None,
            max_age=parsed.max_age,
        )

    def resume_url(self, key: str) -> str:
        return f"/wsfed/resume?k={key}"

    def dump(self, request: PendingSignIn) -> bytes:
        data = {
            "params": {k: list(v) for k, v in request.params.items()},
            "received_at": request.request.received_at.isoformat(),
        }
        return json.dumps(data).encode()

    def load(self, raw: bytes) -> PendingSignIn:
        data = json.loads(raw)
        received_at = dt.datetime.fromisoformat(data["received_at"])
        # Parsed again against today's settings, as of when it first arrived (wfresh=0 holds).
        parsed = parse_request(data["params"], settings=self._wsfed.settings, now=received_at)
        if not isinstance(parsed, SignInRequest):
            raise InvalidRequest("the pending request is not a sign-in")
        return PendingSignIn(data["params"], parsed)

    def answer(
        self, request: PendingSignIn, decision: Satisfied, *, browser: Browser, key: str
    ) -> Answer:
        parsed = request.request
        rp = parsed.relying_party
        employee = self._engine.signed_in_employee(decision)
        result = self.token(
            parsed,
            subject=subject_from_employee(employee),
            context=decision.context,
            authn_context_class_ref=decision.authn_context_class_ref,
            browser=browser,
        )
        self._engine.record_answer(
            decision,
            protocol="wsfed",
            relying_party=rp.name,
            participant=participant_key(rp),
            details={"realm": parsed.realm, "token": rp.token_type.value},
        )
        return Answer(FormPost(result.action, result.fields, rp.name))

    def token(
        self,
        parsed: SignInRequest,
        *,
        subject: Subject,
        context: AuthContext,
        authn_context_class_ref: str,
        browser: Browser,
    ) -> SignInResponse:
        """The signed ``wresult`` for ``subject`` (from the directory, or a proxy's upstream)."""
        wsfed, rp = self._wsfed, parsed.relying_party
        try:
            return build_signin_response(
                request=parsed,
                employee=subject,
                context=context,
                authn_context_class_ref=authn_context_class_ref,
                issuer=wsfed.settings.issuer,
                lifetime=wsfed.settings.lifetime_for(rp),
                signer=wsfed.signer_for(rp),
                now=self._rt.now(),
            )
        except ClaimUnavailable as exc:
            self._engine.record_refusal(
                browser=browser, protocol="wsfed", relying_party=rp.name, reason=exc.description
            )
            raise

    def refuse(self, request: PendingSignIn, refusal: Refusal, *, browser: Browser) -> Answer:
        rp = request.request.relying_party
        if refusal.kind is RefusalKind.CANCELLED:
            # The passive profile has no error answer: say so, and offer the way back.
            return Answer(
                Page(
                    "cancelled",
                    {
                        "relying_party": rp.display_name or rp.name,
                        "return_url": request.request.reply_url,
                    },
                )
            )
        # Not passive and nothing requested: the policy can always be met by signing in.
        raise WsFedError(f"the policy of {rp.name} cannot be satisfied ({refusal.kind.value})")

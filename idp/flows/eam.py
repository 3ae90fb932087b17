"""Microsoft Entra ID's External Authentication Method over the sign-in engine.

Entra has already done the first factor; it POSTs an ``id_token_hint`` naming its user, we
link that user to an employee (once, when the request arrives), run a factor step for them,
and post back an id_token whose ``amr`` names the method used. Every failure — including the
user's "Cancel" — is posted back to Entra, so the user is never stranded on our pages.

The provider Entra talks to is the Flask IdP (its OIDC issuer, ``/oidc/eam/resume``) or a
proxy over the same core, such as the SATOSA EAM frontend: ``issuer`` and ``resume_path``
name the provider whose discovery Entra was given.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import TYPE_CHECKING

from idp.errors import AccessDenied
from idp.flows.answers import Answer
from idp.flows.browser import Browser
from idp.flows.oidc import deliver
from idp.flows.signin import Refusal, RefusalKind, SignIn
from idp.oidc.authorize import Params
from idp.oidc.eam import (
    EamRequest,
    EamSettings,
    choose_acr,
    choose_amr,
    eam_error_response,
    eam_response,
    identify_eam_client,
    link_employee,
    parse_eam_request,
)
from idp.oidc.errors import AccessDeniedError, OidcError
from idp.policy import Requirement, Satisfied

if TYPE_CHECKING:
    from idp.oidc.runtime import OidcRuntime
    from idp.runtime import Runtime


@dataclasses.dataclass(frozen=True)
class PendingEam:
    request: EamRequest
    #: the employee the hint was linked to when the request arrived
    employee_id: str
    username: str


class EamSignIn:
    park_prefix = "oidc:eam-pending:"

    def __init__(
        self,
        runtime: Runtime,
        oidc: OidcRuntime,
        engine: SignIn,
        *,
        issuer: str | None = None,
        resume_path: str = "/oidc/eam/resume",
    ) -> None:
        assert oidc.settings.eam is not None and oidc.entra_jwks is not None
        self._rt = runtime
        self._oidc = oidc
        self._eam: EamSettings = oidc.settings.eam
        self._jwks = oidc.entra_jwks
        self._engine = engine
        self.park_ttl = oidc.settings.pending_ttl
        #: the ``iss`` of our answers: the issuer of the discovery document Entra was given
        self.issuer = issuer or oidc.provider.issuer
        self._resume_path = resume_path

    def handles(self, params: Params) -> bool:
        return (params.get("client_id") or [""])[0] in self._eam.client_ids

    def start(self, params: Params, *, browser: Browser) -> Answer:
        target = identify_eam_client(params, settings=self._eam)
        try:
            parsed = parse_eam_request(
                params, target=target, settings=self._eam, jwks=self._jwks, now=self._rt.now()
            )
            choose_acr(parsed, settings=self._eam)
            employee = link_employee(
                parsed.hint,
                linking=self._eam.linking,
                by_entra_id=self._oidc.by_entra_id,
                by_username=self._oidc.by_username,
            )
        except OidcError as exc:
            self._audit_refusal(browser, None, exc)
            return deliver(eam_error_response(target, exc))
        pending = PendingEam(parsed, employee.id, employee.username)
        return self._engine.proceed(self, pending, browser=browser)

    def resume(self, key: str, *, browser: Browser, cancel: bool = False) -> Answer:
        return self._engine.resume(self, key, browser=browser, cancel=cancel)

    # -- SignInProtocol ----------------------------------------------------------------------
    def _fresh_after(self, request: EamRequest) -> dt.datetime:
        received = dt.datetime.fromtimestamp(request.received_at, dt.UTC)
        return received - dt.timedelta(seconds=self._eam.reuse_factor_for)

    def requirement(self, request: PendingEam) -> Requirement:
        return Requirement(
            relying_party=f"entra:{request.request.hint.tid}",
            display_name="Microsoft Entra ID",
            policy=self._oidc.policies.get(self._eam.policy),
            fresh_after=self._fresh_after(request.request),
            login_hint=request.username,
        )

    def resume_url(self, key: str) -> str:
        return f"{self._resume_path}?k={key}"

    def dump(self, request: PendingEam) -> bytes:
        return json.dumps(
            {
                "request": json.loads(request.request.to_json()),
                "employee_id": request.employee_id,
                "username": request.username,
            }
        ).encode()

    def load(self, raw: bytes) -> PendingEam:
        data = json.loads(raw)
        request = EamRequest.from_json(json.dumps(data["request"]).encode())
        return PendingEam(request, data["employee_id"], data["username"])

    def answer(
        self, request: PendingEam, decision: Satisfied, *, browser: Browser, key: str
    ) -> Answer:
        parsed, ctx = request.request, decision.context
        try:
            try:
                self._engine.signed_in_employee(decision)
            except AccessDenied:
                raise AccessDeniedError("the linked employee may not sign in") from None
            if ctx.employee_id != request.employee_id:
                raise AccessDeniedError("you signed in as another person than Microsoft's user")
            answer = eam_response(
                parsed,
                keys=self._oidc.provider.keys,
                issuer=self.issuer,
                acr=choose_acr(parsed, settings=self._eam),
                amr=choose_amr(
                    ctx, requested=parsed.requested_amr, since=self._fresh_after(parsed)
                ),
                auth_time=int(ctx.auth_time.timestamp()),
                now=self._rt.now(),
                lifetime=self._eam.id_token_lifetime,
            )
        except OidcError as exc:
            self._audit_refusal(browser, parsed, exc)
            return deliver(eam_error_response(parsed.target, exc))
        self._engine.record_answer(
            decision,
            protocol="entra-eam",
            relying_party=f"entra:{parsed.hint.tid}",
            participant=None,
            details={"oid": parsed.hint.oid},
        )
        return deliver(answer)

    def refuse(self, request: PendingEam, refusal: Refusal, *, browser: Browser) -> Answer:
        parsed = request.request
        if refusal.kind is RefusalKind.CANCELLED:
            exc = AccessDeniedError("the user cancelled the second factor")
        else:
            exc = AccessDeniedError("the sign-in policy for Entra cannot be satisfied")
        self._audit_refusal(browser, parsed, exc)
        return deliver(eam_error_response(parsed.target, exc))

    def _audit_refusal(self, browser: Browser, parsed: EamRequest | None, exc: OidcError) -> None:
        tenant = parsed.hint.tid if parsed is not None else "unknown"
        self._engine.record_refusal(
            browser=browser,
            protocol="entra-eam",
            relying_party=f"entra:{tenant}",
            reason=f"{exc.error}: {exc.description}",
        )

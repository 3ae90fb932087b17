"""OpenID Connect authorization (code flow) over the sign-in engine, with consent.

Entra's External Authentication Method requests arrive at the same endpoint; they are told
apart by their client id and handled by :mod:`idp.flows.eam`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from idp.errors import AccessDenied, InvalidRequest
from idp.flows.answers import Answer, FormPost, Page, Redirect
from idp.flows.browser import Browser
from idp.flows.signin import Refusal, RefusalKind, SignIn
from idp.oidc.authorize import (
    AuthorizationRequest,
    AuthorizationResponse,
    Params,
    error_response,
    requirement_for,
)
from idp.oidc.claims import consent_lines
from idp.oidc.clients import Client
from idp.oidc.errors import (
    AccessDeniedError,
    ConsentRequiredError,
    LoginRequiredError,
    OidcError,
    UnmetAuthenticationRequirementsError,
)
from idp.oidc.logout_channels import OidcParticipant
from idp.oidc.tokens import subject_for
from idp.policy import Requirement, Satisfied

if TYPE_CHECKING:
    from idp.oidc.runtime import OidcRuntime
    from idp.runtime import Runtime

_CONSENT_GIVEN = "oidc:consent-given:"


def deliver(answer: AuthorizationResponse) -> Answer:
    """A redirect with the parameters, or an auto-posted form (``response_mode=form_post``)."""
    if answer.response_mode == "form_post":
        target = urlsplit(answer.redirect_uri).hostname or answer.redirect_uri
        return Answer(FormPost(answer.redirect_uri, answer.params, target))
    return Answer(Redirect(answer.location(), status=302))


class OidcSignIn:
    park_prefix = "oidc:pending:"

    def __init__(self, runtime: Runtime, oidc: OidcRuntime, engine: SignIn) -> None:
        self._rt = runtime
        self._oidc = oidc
        self._engine = engine
        self.park_ttl = oidc.settings.pending_ttl

    def authorize(self, params: Params, *, browser: Browser) -> Answer:
        oidc = self._oidc
        client, target = oidc.provider.identify(params)
        try:
            parsed = oidc.provider.parse_authorization(
                params, client=client, target=target, now=self._rt.now()
            )
        except OidcError as exc:
            return deliver(error_response(target, exc, issuer=oidc.provider.issuer))
        return self._engine.proceed(self, parsed, browser=browser)

    def resume(self, key: str, *, browser: Browser, cancel: bool = False) -> Answer:
        return self._engine.resume(self, key, browser=browser, cancel=cancel)

    def consent(self, key: str, *, allow: bool, browser: Browser) -> Answer:
        """The consent page's answer; "allow" resumes the parked request, "deny" refuses it."""
        rt, oidc = self._rt, self._oidc
        if browser.session is None:  # checked first: the parked request stays for a new try
            raise InvalidRequest(
                "this sign-in has expired; go back to the application and start again"
            )
        parsed = self._engine.take(self, key, browser=browser)
        if not allow:
            denied = AccessDeniedError("the user did not allow access")
            return deliver(error_response(parsed.target, denied, issuer=oidc.provider.issuer))
        employee_id = browser.session.employee_id
        oidc.consents.remember(
            employee_id=employee_id,
            client_id=parsed.client_id,
            scopes=parsed.scopes,
            now=rt.now(),
            ttl=oidc.settings.lifetimes.consent,
        )
        rt.ephemeral.put(f"{_CONSENT_GIVEN}{key}:{employee_id}", b"1", ttl=self.park_ttl)
        self._engine.park_again(self, parsed, browser=browser, key=key)
        return Answer(Redirect(self.resume_url(key)))

    # -- SignInProtocol ----------------------------------------------------------------------
    def _client(self, request: AuthorizationRequest) -> Client:
        client = self._oidc.settings.clients.get(request.client_id)
        if client is None:
            raise InvalidRequest("the client of this sign-in is no longer registered")
        return client

    def requirement(self, request: AuthorizationRequest) -> Requirement:
        client = self._client(request)
        return requirement_for(
            request, policy=self._oidc.policies.get(client.policy), display_name=client.name
        )

    def resume_url(self, key: str) -> str:
        return f"/oidc/authorize/resume?k={key}"

    def dump(self, request: AuthorizationRequest) -> bytes:
        return request.to_json()

    def load(self, raw: bytes) -> AuthorizationRequest:
        return AuthorizationRequest.from_json(raw)

    def answer(
        self, request: AuthorizationRequest, decision: Satisfied, *, browser: Browser, key: str
    ) -> Answer:
        oidc, client = self._oidc, self._client(request)
        try:
            self._check_subject(request, decision, client)
            if self._needs_consent(request, client, decision, key):
                self._engine.park_again(self, request, browser=browser, key=key)
                return Answer(
                    Page(
                        "consent",
                        {
                            "name": client.name,
                            "key": key,
                            "scopes": ", ".join(consent_lines(request.scopes)) or "your identity",
                        },
                    )
                )
        except OidcError as exc:
            return deliver(error_response(request.target, exc, issuer=oidc.provider.issuer))
        ctx = decision.context
        self._engine.record_answer(
            decision,
            protocol="oidc",
            relying_party=client.client_id,
            participant=OidcParticipant.for_session(
                client_id=client.client_id, session_id=ctx.session_id
            ).encode(),
            details={"acr": decision.acr, "amr": " ".join(decision.amr)},
        )
        return deliver(oidc.provider.complete_authorization(request, satisfied=decision))

    def refuse(
        self, request: AuthorizationRequest, refusal: Refusal, *, browser: Browser
    ) -> Answer:
        exc: OidcError
        if refusal.kind is RefusalKind.PASSIVE:
            exc = LoginRequiredError("prompt=none, but the user has no session that satisfies it")
        elif refusal.kind is RefusalKind.UNSATISFIABLE:
            exc = UnmetAuthenticationRequirementsError(
                f"the essential acr ({', '.join(refusal.requested)[:200]}) cannot be met; "
                f"available: {', '.join(refusal.available)}"
            )
        else:
            exc = AccessDeniedError("the user cancelled the sign-in")
        self._engine.record_refusal(
            browser=browser,
            protocol="oidc",
            relying_party=request.client_id,
            reason=exc.description,
        )
        return deliver(error_response(request.target, exc, issuer=self._oidc.provider.issuer))

    def _check_subject(
        self, request: AuthorizationRequest, decision: Satisfied, client: Client
    ) -> None:
        try:
            employee = self._engine.signed_in_employee(decision)
        except AccessDenied:
            raise AccessDeniedError("this account may not sign in") from None
        if request.hinted_subject is not None:
            sub = subject_for(client, employee.id, salt=self._oidc.settings.pairwise_salt)
            if sub != request.hinted_subject:
                raise LoginRequiredError("the signed-in user is not the one named by id_token_hint")

    def _needs_consent(
        self, request: AuthorizationRequest, client: Client, ok: Satisfied, key: str
    ) -> bool:
        rt, employee_id = self._rt, ok.context.employee_id
        # The marker names the employee who allowed: a resume link passed to someone else must
        # not carry one person's consent over to another's sign-in.
        if rt.ephemeral.take(f"{_CONSENT_GIVEN}{key}:{employee_id}") is not None:
            return False
        allowed = self._oidc.consents.scopes(
            employee_id=employee_id, client_id=client.client_id, now=rt.now()
        )
        remembered = bool(allowed) and set(request.scopes) <= allowed
        if "consent" not in request.prompt and (remembered or not client.require_consent):
            return False
        if "none" in request.prompt:
            raise ConsentRequiredError("consent is required and prompt=none forbids asking")
        return True

"""The OP's endpoints as functions over an :class:`OidcProvider` built once at start.

Each endpoint takes the parsed request (parameters, headers it needs, ``now``) and returns
a JSON-ready dict or an :class:`~idp.oidc.authorize.AuthorizationResponse`; failures raise
:class:`~idp.oidc.errors.OidcError` subclasses that carry their wire code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from idp.config.oidc import OidcSettings
from idp.directory.model import Employee
from idp.oidc.authorize import (
    AuthorizationRequest,
    AuthorizationResponse,
    Params,
    identify_client,
    one,
    parse_authorization_request,
)
from idp.oidc.claims import SUPPORTED_CLAIMS, release
from idp.oidc.clients import AUTH_METHODS, Client, ClientCredentials, authenticate_client
from idp.oidc.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    InvalidTokenError,
    TokenRequestError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)
from idp.oidc.grants import Grant, GrantStore, new_grant_id
from idp.oidc.keys import OidcKeys
from idp.oidc.logout_channels import OidcLogoutPlan, plan_oidc_logout
from idp.oidc.tokens import id_token_claims, subject_for
from idp.policy import Satisfied
from idp.sessions import session_handle
from idp.store.ephemeral.base import EphemeralStore

PROMPT_VALUES = ("none", "login", "consent", "select_account")


@dataclass(frozen=True)
class OidcProvider:
    """Everything the OIDC endpoints need, built once: settings, key objects, stores."""

    settings: OidcSettings
    keys: OidcKeys
    grants: GrantStore
    store: EphemeralStore
    employees: Callable[[str], Employee | None]
    acr_values: tuple[str, ...] = ()

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    # -- discovery (OpenID Connect Discovery 1.0 §3) ---------------------------------------
    def discovery(self) -> dict[str, Any]:
        s = self.settings
        response_types = ["code", "id_token"] if s.eam is not None else ["code"]
        return {
            "issuer": s.issuer,
            "authorization_endpoint": s.endpoint("authorize"),
            "token_endpoint": s.endpoint("token"),
            "userinfo_endpoint": s.endpoint("userinfo"),
            "jwks_uri": s.endpoint("jwks"),
            "end_session_endpoint": s.endpoint("logout"),
            "scopes_supported": ["openid", "profile", "email", "phone", "address", "groups",
                                 "offline_access"],
            "response_types_supported": response_types,
            "response_modes_supported": ["query", "form_post"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": list(self.keys.algorithms),
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "code_challenge_methods_supported": ["S256"],
            "claims_supported": list(SUPPORTED_CLAIMS),
            "claims_parameter_supported": True,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "prompt_values_supported": list(PROMPT_VALUES),
            "acr_values_supported": list(self.acr_values),
            "claim_types_supported": ["normal"],
            "authorization_response_iss_parameter_supported": True,
            # Every id_token carries sid (the session handle), which Logout Tokens and
            # front-channel URLs then name (Back-Channel §2.1, Front-Channel §2.1).
            "backchannel_logout_supported": True,
            "backchannel_logout_session_supported": True,
            "frontchannel_logout_supported": True,
            "frontchannel_logout_session_supported": True,
        }  # fmt: skip

    def jwks(self) -> dict[str, Any]:
        return self.keys.jwks()

    # -- logout channels (Front-Channel and Back-Channel Logout 1.0) -----------------------
    def logout_plan(
        self, *, participants: Iterable[str], employee_id: str | None, now: dt.datetime
    ) -> OidcLogoutPlan:
        """Front-channel URLs and signed Logout Tokens for the session's OIDC clients."""
        return plan_oidc_logout(
            participants=participants, registry=self.settings.clients, issuer=self.issuer,
            keys=self.keys, employee_id=employee_id, pairwise_salt=self.settings.pairwise_salt,
            now=now, token_lifetime=self.settings.backchannel.token_lifetime,
        )  # fmt: skip

    # -- authorization endpoint ------------------------------------------------------------
    def identify(self, params: Params) -> tuple[Client, Any]:
        return identify_client(params, registry=self.settings.clients)

    def parse_authorization(
        self, params: Params, *, client: Client, target: Any, now: dt.datetime
    ) -> AuthorizationRequest:
        return parse_authorization_request(
            params, client=client, target=target, issuer=self.issuer,
            own_keys=self.keys.lookup, now=now,
        )  # fmt: skip

    def complete_authorization(
        self, request: AuthorizationRequest, *, satisfied: Satisfied
    ) -> AuthorizationResponse:
        """Issue the code for a satisfied sign-in (OIDC Core §3.1.2.5)."""
        context = satisfied.context
        grant = Grant(
            grant_id=new_grant_id(),
            client_id=request.client_id,
            employee_id=context.employee_id,
            session_id=context.session_id,
            scopes=request.scopes,
            auth_time=context.auth_time.timestamp(),
            acr=satisfied.acr,
            amr=satisfied.amr,
            redirect_uri=request.redirect_uri,
            nonce=request.nonce,
            code_challenge=request.code_challenge,
        )
        params = [("code", self.grants.issue_code(grant))]
        if request.state is not None:
            params.append(("state", request.state))
        params.append(("iss", self.issuer))  # RFC 9207
        return AuthorizationResponse(request.redirect_uri, request.response_mode, tuple(params))

    # -- token endpoint (RFC 6749 §3.2, OIDC Core §3.1.3) ----------------------------------
    def token(
        self, form: Params, *, credentials: ClientCredentials, now: dt.datetime
    ) -> dict[str, Any]:
        client = authenticate_client(
            credentials=credentials,
            registry=self.settings.clients,
            expected_audiences=(self.settings.endpoint("token"), self.issuer),
            now=now,
            remember_jti=lambda key, ttl: self.store.add_if_absent(
                f"oidc:jti:{key}", b"1", ttl=max(ttl, 1)
            ),
        )
        grant_type = _one(form, "grant_type")
        if grant_type == "authorization_code":
            grant = self.grants.redeem_code(
                code=_one(form, "code") or "",
                client_id=client.client_id,
                redirect_uri=_one(form, "redirect_uri"),
                code_verifier=_one(form, "code_verifier"),
                now=now,
            )
            return self._tokens(client, grant, now=now, nonce=grant.nonce)
        if grant_type == "refresh_token":
            if not client.refresh_tokens:
                raise UnauthorizedClientError("this client may not use refresh tokens")
            scope = _one(form, "scope")

            def check_scope(granted: Grant) -> None:
                _narrowed(granted, scope)  # refused before the token is spent

            grant, refresh = self.grants.rotate_refresh_token(
                token=_one(form, "refresh_token") or "", client_id=client.client_id, now=now,
                check=check_scope,
            )  # fmt: skip
            grant = _narrowed(grant, scope)
            return self._tokens(client, grant, now=now, nonce=None, refresh=refresh)
        raise UnsupportedGrantTypeError(
            f"grant_type must be authorization_code or refresh_token, got {grant_type!r}"[:200]
        )

    def _tokens(
        self,
        client: Client,
        grant: Grant,
        *,
        now: dt.datetime,
        nonce: str | None,
        refresh: str | None = None,
    ) -> dict[str, Any]:
        employee = self.employees(grant.employee_id)
        if employee is None or not employee.can_sign_in:
            self.grants.revoke(grant.grant_id, now=now, reason="account_disabled")
            raise InvalidGrantError("the account behind this grant is disabled or gone")
        access = self.grants.issue_access_token(grant)
        extra = release(employee=employee, scopes=grant.scopes)
        claims = id_token_claims(
            issuer=self.issuer,
            subject=subject_for(client, employee.id, salt=self.settings.pairwise_salt),
            client_id=client.client_id,
            now=int(now.timestamp()),
            lifetime=self.settings.lifetimes.id_token,
            auth_time=int(grant.auth_time),
            acr=grant.acr,
            amr=grant.amr,
            nonce=nonce,
            sid=session_handle(grant.session_id),
            access_token=access,
            extra=extra,
        )  # fmt: skip
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.settings.lifetimes.access_token,
            "id_token": self.keys.sign(claims, alg=client.id_token_signed_response_alg),
            "scope": " ".join(grant.scopes),
        }
        if refresh is None and client.refresh_tokens:
            refresh = self.grants.issue_refresh_token(grant, now=now)
        if refresh is not None:
            body["refresh_token"] = refresh
        return body

    # -- userinfo (OIDC Core §5.3) ---------------------------------------------------------
    def userinfo(self, *, access_token: str) -> dict[str, Any]:
        grant = self.grants.access_token(access_token)
        client = self.settings.clients.get(grant.client_id)
        employee = self.employees(grant.employee_id)
        if client is None or employee is None or not employee.can_sign_in:
            raise InvalidTokenError("the access token's client or account no longer exists")
        claims = release(employee=employee, scopes=grant.scopes)
        claims["sub"] = subject_for(client, employee.id, salt=self.settings.pairwise_salt)
        return claims


def _one(form: Params, name: str) -> str | None:
    try:
        return one(form, name)
    except InvalidRequestError as exc:
        raise TokenRequestError(exc.description) from None


def _narrowed(grant: Grant, scope: str | None) -> Grant:
    """A refresh may ask for fewer scopes, never more (RFC 6749 §6)."""
    if scope is None:
        return grant
    asked = tuple(dict.fromkeys(scope.split()))
    extra = [s for s in asked if s not in grant.scopes]
    if extra:
        raise InvalidScopeError(f"scope {extra[0]!r} was not granted originally")
    return Grant(**{**grant.__dict__, "scopes": asked})


def bearer_token(
    *, authorization: str | None, form: Mapping[str, list[str]], query: Mapping[str, list[str]]
) -> str:
    """The access token of a userinfo request: header or form body, one way only (RFC 6750 §2)."""
    if query.get("access_token"):
        raise TokenRequestError("access_token in the URL query is not accepted (RFC 6750 §2.3)")
    body = form.get("access_token") or []
    if len(body) > 1:
        raise TokenRequestError("access_token appears more than once")
    if authorization is not None:
        if body:
            raise TokenRequestError("send the access token in the header or the body, not both")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise InvalidTokenError("the Authorization header is not a Bearer token")
        return token.strip()
    if body:
        return body[0]
    raise InvalidTokenError("no access token")

"""Authorization requests (OIDC Core §3.1.2): parse, validate, and describe the answer.

:func:`identify_client` establishes the client and its registered ``redirect_uri``; errors up
to that point are never redirected. :func:`parse_authorization_request` checks the rest and
raises redirectable errors, which :func:`error_response` turns into the answer the client
expects. :func:`requirement_for` turns a request into the core's :class:`Requirement`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from idp.oidc.claims import RequestedClaims, parse_claims_parameter, scopes_with_claims
from idp.oidc.clients import Client, ClientRegistry
from idp.oidc.errors import (
    InvalidRedirectUriError,
    InvalidRequestError,
    InvalidScopeError,
    JwtError,
    OidcError,
    RequestNotSupportedError,
    RequestUriNotSupportedError,
    UnknownClientError,
    UnsupportedResponseTypeError,
)
from idp.oidc.keys import JoseKey, verify_jwt
from idp.policy import Policy, Requirement

Params = Mapping[str, Sequence[str]]
PROMPTS = ("none", "login", "consent", "select_account")
RESPONSE_MODES = ("query", "form_post")
#: longest accepted value per parameter; anything else is capped at DEFAULT_MAX
MAX_LENGTHS: Mapping[str, int] = {
    "id_token_hint": 16 * 1024,
    "claims": 4096,
    "state": 2048,
    "redirect_uri": 2048,
    "nonce": 512,
    "login_hint": 256,
    "client_id": 256,
}
DEFAULT_MAX = 1024
_PKCE = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


@dataclass(frozen=True)
class ErrorTarget:
    """Where an authorization error goes once the client and redirect_uri are established."""

    redirect_uri: str
    response_mode: str
    state: str | None


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated authorization request, kept in the short-lived store across sign-in."""

    client_id: str
    redirect_uri: str
    response_mode: str
    scopes: tuple[str, ...]
    received_at: float
    state: str | None = None
    nonce: str | None = None
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    acr_values: tuple[str, ...] = ()
    claims: RequestedClaims = field(default_factory=RequestedClaims)
    login_hint: str | None = None
    hinted_subject: str | None = None
    code_challenge: str | None = None

    @property
    def target(self) -> ErrorTarget:
        return ErrorTarget(self.redirect_uri, self.response_mode, self.state)

    @property
    def requested_acr(self) -> tuple[tuple[str, ...], bool]:
        """The acr values asked for and whether they are essential (§5.5.1.1)."""
        essential = self.claims.id_token.get("acr")
        if essential is not None and essential.values:
            return essential.values, essential.essential
        return self.acr_values, False

    def to_json(self) -> bytes:
        data = asdict(self)
        data["claims"] = self.claims.to_json()
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> AuthorizationRequest:
        data: dict[str, Any] = json.loads(raw)
        data["claims"] = RequestedClaims.from_json(data["claims"])
        for name in ("scopes", "prompt", "acr_values"):
            data[name] = tuple(data[name])
        return cls(**data)


@dataclass(frozen=True)
class AuthorizationResponse:
    """The answer to deliver: redirect with a query, or an auto-posted form (form_post)."""

    redirect_uri: str
    response_mode: str
    params: tuple[tuple[str, str], ...]

    def location(self) -> str:
        separator = "&" if urlsplit(self.redirect_uri).query else "?"
        return self.redirect_uri + separator + urlencode(self.params)


def one(params: Params, name: str, *, redirectable: bool = True) -> str | None:
    """The single value of ``name`` (RFC 6749 §3.1: a parameter must not repeat), size-checked."""
    values = params.get(name) or []
    error: type[OidcError] = InvalidRequestError if redirectable else InvalidRedirectUriError
    if len(values) > 1:
        raise error(f"parameter {name} appears {len(values)} times; it must appear once")
    if not values or values[0] == "":
        return None
    limit = MAX_LENGTHS.get(name, DEFAULT_MAX)
    if len(values[0]) > limit:
        raise error(f"parameter {name} is longer than {limit} characters")
    return values[0]


def identify_client(params: Params, *, registry: ClientRegistry) -> tuple[Client, ErrorTarget]:
    """The registered client and the verified redirect target; nothing here is redirected."""
    client_id = one(params, "client_id", redirectable=False)
    if client_id is None:
        raise UnknownClientError("client_id is missing")
    client = registry.get(client_id)
    if client is None:
        raise UnknownClientError(f"unknown client_id {client_id[:64]!r}")
    redirect_uri = one(params, "redirect_uri", redirectable=False)
    if redirect_uri is None:
        raise InvalidRedirectUriError("redirect_uri is missing (OIDC Core §3.1.2.1 requires it)")
    if redirect_uri not in client.redirect_uris:
        # Exact string comparison (OIDC Core §3.1.2.1, RFC 6749 §3.1.2.3).
        raise InvalidRedirectUriError(
            f"redirect_uri {redirect_uri[:200]!r} is not registered for client {client_id!r}"
        )
    mode = one(params, "response_mode", redirectable=False) or "query"
    return client, ErrorTarget(
        redirect_uri,
        mode if mode in RESPONSE_MODES else "query",
        one(params, "state", redirectable=False),
    )


def parse_authorization_request(
    params: Params,
    *,
    client: Client,
    target: ErrorTarget,
    issuer: str,
    own_keys: Callable[[str], JoseKey | None],
    now: dt.datetime,
) -> AuthorizationRequest:
    """Check everything past the client and redirect_uri (redirectable errors)."""
    for name in params:
        one(params, name)
    if one(params, "request") is not None:
        raise RequestNotSupportedError("request objects are not supported; send plain parameters")
    if one(params, "request_uri") is not None:
        raise RequestUriNotSupportedError("request_uri is not supported")
    response_type = one(params, "response_type")
    if response_type != "code":
        raise UnsupportedResponseTypeError(
            f"expected response_type=code, got {(response_type or '')[:40]!r}"
        )
    if (one(params, "response_mode") or "query") not in RESPONSE_MODES:
        raise InvalidRequestError(f"response_mode must be one of {', '.join(RESPONSE_MODES)}")
    claims = parse_claims_parameter(one(params, "claims"))
    scopes = scopes_with_claims(_scopes(one(params, "scope"), client), claims,
                                allowed=client.scopes)  # fmt: skip
    prompt = _prompt(one(params, "prompt"))
    hint = one(params, "id_token_hint")
    return AuthorizationRequest(
        client_id=client.client_id,
        redirect_uri=target.redirect_uri,
        response_mode=target.response_mode,
        scopes=scopes,
        received_at=now.timestamp(),
        state=target.state,
        nonce=one(params, "nonce"),
        prompt=prompt,
        max_age=_max_age(one(params, "max_age")),
        acr_values=tuple((one(params, "acr_values") or "").split()),
        claims=claims,
        login_hint=one(params, "login_hint"),
        hinted_subject=None if hint is None else _hint_subject(hint, client, issuer, own_keys),
        code_challenge=_pkce(params, client),
    )


def _scopes(raw: str | None, client: Client) -> tuple[str, ...]:
    asked = (raw or "").split()
    if "openid" not in asked:
        raise InvalidScopeError("scope must include openid")
    # Scopes the client may not have, or that we do not know, are dropped (RFC 6749 §3.3).
    return tuple(dict.fromkeys(s for s in asked if s in client.scopes or s == "openid"))


def _prompt(raw: str | None) -> tuple[str, ...]:
    values = tuple(dict.fromkeys((raw or "").split()))
    unknown = [v for v in values if v not in PROMPTS]
    if unknown:
        raise InvalidRequestError(f"unknown prompt value {unknown[0][:40]!r}")
    if "none" in values and len(values) > 1:
        raise InvalidRequestError("prompt=none cannot be combined with other values")
    return values


def _max_age(raw: str | None) -> int | None:
    if raw is None:
        return None
    # isdigit() alone lets through "²" (int() then raises) and other scripts' digits.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        raise InvalidRequestError(f"max_age must be a non-negative integer, got {raw[:20]!r}")
    return int(raw)


def _pkce(params: Params, client: Client) -> str | None:
    challenge = one(params, "code_challenge")
    method = one(params, "code_challenge_method")
    if challenge is None:
        if client.pkce_required:
            raise InvalidRequestError("this client must use PKCE: code_challenge is missing")
        return None
    if method != "S256":
        raise InvalidRequestError(
            f"code_challenge_method must be S256, got {(method or 'plain (default)')[:20]!r}"
        )
    if not _PKCE.fullmatch(challenge):
        raise InvalidRequestError("code_challenge must be 43-128 unreserved characters")
    return challenge


def _hint_subject(
    token: str, client: Client, issuer: str, own_keys: Callable[[str], JoseKey | None]
) -> str:
    """The ``sub`` of an id_token we issued to this client; expiry does not matter (§3.1.2.1)."""
    try:
        claims = verify_jwt(
            token, lookup=own_keys, algorithms=("RS256", "ES256"), what="id_token_hint"
        ).claims
    except JwtError as exc:
        raise InvalidRequestError(exc.description) from None
    aud = claims.get("aud")
    if claims.get("iss") != issuer or client.client_id not in (
        aud if isinstance(aud, list) else [aud]
    ):
        raise InvalidRequestError("id_token_hint was not issued by us to this client")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise InvalidRequestError("id_token_hint has no sub")
    return sub


def requirement_for(
    request: AuthorizationRequest, *, policy: Policy, display_name: str | None = None
) -> Requirement:
    """The core requirement: prompt=login and max_age become a freshness bound.

    Both are anchored to when the request arrived, not to "now", so that resuming after the
    sign-in does not ask for yet another one.
    """
    received = dt.datetime.fromtimestamp(request.received_at, dt.UTC)
    fresh_after = None
    if "login" in request.prompt or "select_account" in request.prompt:
        fresh_after = received
    if request.max_age is not None:
        bound = received - dt.timedelta(seconds=request.max_age)
        fresh_after = bound if fresh_after is None else max(fresh_after, bound)
    acr, essential = request.requested_acr
    return Requirement(
        relying_party=request.client_id,
        display_name=display_name,
        policy=policy,
        fresh_after=fresh_after,
        passive="none" in request.prompt,
        requested_contexts=acr,
        essential=essential,
        login_hint=request.login_hint,
    )


def error_response(target: ErrorTarget, exc: OidcError, *, issuer: str) -> AuthorizationResponse:
    """The redirect (or form_post) carrying ``exc`` back to the client (§3.1.2.6)."""
    params = [("error", exc.error), ("error_description", exc.description)]
    if target.state is not None:
        params.append(("state", target.state))
    params.append(("iss", issuer))  # RFC 9207
    return AuthorizationResponse(target.redirect_uri, target.response_mode, tuple(params))

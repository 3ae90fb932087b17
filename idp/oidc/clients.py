"""Registered relying parties and client authentication at the token endpoint.

Clients come from the clients YAML file (parsed by :mod:`idp.config.oidc`). Authentication
follows RFC 6749 §2.3 and OIDC Core §9: ``client_secret_basic``, ``client_secret_post``,
``private_key_jwt`` (RFC 7523 §3), or ``none`` for public clients (which must then use PKCE).
A client uses exactly the method it was registered with, and one method per request.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import unquote_plus

from idp.oidc.errors import InvalidClientError, JwtError, TokenRequestError
from idp.oidc.keys import MAX_JWT_BYTES, JoseKey, numeric_date, verify_jwt

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
STANDARD_SCOPES = ("openid", "profile", "email", "phone", "address", "groups", "offline_access")
MIN_SECRET_LENGTH = 32
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LIFETIME = 600
#: seconds a client's clock may run ahead of ours for an assertion's iat and nbf
ASSERTION_CLOCK_SKEW = 60


@dataclass(frozen=True)
class Client:
    """One registered relying party."""

    client_id: str
    name: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str = "client_secret_basic"
    secret: str | None = None
    scopes: frozenset[str] = frozenset(STANDARD_SCOPES)
    policy: str | None = None
    jwks: Mapping[str, JoseKey] = field(default_factory=lambda: MappingProxyType({}))
    post_logout_redirect_uris: tuple[str, ...] = ()
    id_token_signed_response_alg: str = "RS256"
    subject_type: str = "public"
    require_pkce: bool = False
    refresh_tokens: bool = True
    require_consent: bool = False
    #: OpenID Connect Back-Channel Logout 1.0 §2.2 and Front-Channel Logout 1.0 §2
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool = False
    frontchannel_logout_uri: str | None = None
    frontchannel_logout_session_required: bool = False

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def pkce_required(self) -> bool:
        # OAuth 2.0 Security BCP §2.1.1: public clients must use PKCE.
        return self.public or self.require_pkce


@dataclass(frozen=True)
class ClientRegistry:
    clients: Mapping[str, Client]

    def get(self, client_id: str | None) -> Client | None:
        if not client_id:
            return None
        return self.clients.get(client_id)


@dataclass(frozen=True)
class ClientCredentials:
    """What a token request carried to identify its client (header and form fields)."""

    authorization: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    client_assertion_type: str | None = None
    client_assertion: str | None = None


def authenticate_client(
    *,
    credentials: ClientCredentials,
    registry: ClientRegistry,
    expected_audiences: tuple[str, ...],
    now: dt.datetime,
    remember_jti: Callable[[str, int], bool],
) -> Client:
    """The authenticated client, or :class:`InvalidClientError` saying why not.

    ``expected_audiences`` are the values a ``private_key_jwt`` assertion's ``aud`` may name
    (the token endpoint URL and the issuer, RFC 7523 §3 item 3); ``remember_jti(key, ttl)``
    is the replay cache (set-if-absent), True the first time a value is seen.
    """
    method, client_id = _presented_method(credentials)
    client = registry.get(client_id)
    if client is None:
        raise InvalidClientError(f"unknown client {client_id[:64]!r}")
    if method != client.token_endpoint_auth_method:
        raise InvalidClientError(
            f"client {client.client_id!r} is registered for {client.token_endpoint_auth_method}, "
            f"but the request used {method}"
        )
    if method in SECRET_METHODS:
        secret = (
            _basic(credentials.authorization)[1]
            if method == "client_secret_basic"
            else (credentials.client_secret or "")
        )
        if client.secret is None or not hmac.compare_digest(
            secret.encode(), client.secret.encode()
        ):
            raise InvalidClientError(f"wrong client secret for {client.client_id!r}")
    elif method == "private_key_jwt":
        _check_assertion(
            client, credentials.client_assertion or "", expected_audiences, now, remember_jti
        )
    return client


def _presented_method(credentials: ClientCredentials) -> tuple[str, str]:
    methods: list[tuple[str, str]] = []
    if credentials.authorization is not None:
        methods.append(("client_secret_basic", _basic(credentials.authorization)[0]))
    if credentials.client_secret is not None:
        methods.append(("client_secret_post", credentials.client_id or ""))
    if credentials.client_assertion is not None or credentials.client_assertion_type is not None:
        if credentials.client_assertion_type != CLIENT_ASSERTION_TYPE:
            raise InvalidClientError(
                f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}, got "
                f"{(credentials.client_assertion_type or '')[:80]!r}"
            )
        methods.append(("private_key_jwt", _assertion_subject(credentials)))
    if len(methods) > 1:
        raise TokenRequestError(
            "the request used more than one client authentication method "
            f"({', '.join(m for m, _ in methods)}); RFC 6749 §2.3 allows one"
        )
    if methods:
        method, client_id = methods[0]
        if credentials.client_id and credentials.client_id != client_id:
            raise InvalidClientError("client_id does not match the authenticated client")
        return method, client_id
    if not credentials.client_id:
        raise InvalidClientError("no client authentication and no client_id")
    return "none", credentials.client_id


def _basic(header: str | None) -> tuple[str, str]:
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
    if header is None or not header.startswith("Basic ") or len(header) > 2048:
        raise InvalidClientError("the Authorization header is not HTTP Basic")
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClientError("the Basic credentials are not base64 UTF-8") from None
    if ":" not in decoded:
        raise InvalidClientError("the Basic credentials have no ':' separator")
    user, _, password = decoded.partition(":")
    return unquote_plus(user), unquote_plus(password)


def _assertion_subject(credentials: ClientCredentials) -> str:
    # The client is named by the assertion's iss/sub; read unverified only to find its keys.
    token = credentials.client_assertion or ""
    if len(token) > MAX_JWT_BYTES or token.count(".") != 2:
        raise InvalidClientError("client_assertion is not a compact JWT")
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
        raise InvalidClientError("client_assertion payload is not base64url JSON") from None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    if not isinstance(subject, str) or not subject:
        raise InvalidClientError("client_assertion has no sub")
    return subject


def _check_assertion(
    client: Client,
    token: str,
    audiences: tuple[str, ...],
    now: dt.datetime,
    remember_jti: Callable[[str, int], bool],
) -> None:
    """RFC 7523 §3 checks of a ``private_key_jwt`` client assertion."""
    try:
        verified = verify_jwt(
            token, lookup=client.jwks.get, algorithms=("RS256", "ES256"), what="client_assertion"
        )
    except JwtError as exc:
        raise InvalidClientError(exc.description) from None
    claims = verified.claims
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise InvalidClientError("client_assertion iss and sub must both be the client_id")
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(a in audiences for a in auds):
        raise InvalidClientError(f"client_assertion aud must name one of {', '.join(audiences)}")
    stamp = int(now.timestamp())
    try:
        exp = numeric_date(claims, "exp", what="client_assertion")
        not_before = numeric_date(claims, "nbf", what="client_assertion")
        issued = numeric_date(claims, "iat", what="client_assertion")
    except JwtError as exc:
        raise InvalidClientError(exc.description) from None
    if exp is None:
        raise InvalidClientError("client_assertion has no exp")
    if exp <= stamp:
        raise InvalidClientError("client_assertion has expired")
    if exp > stamp + MAX_ASSERTION_LIFETIME:
        raise InvalidClientError(
            f"client_assertion exp is more than {MAX_ASSERTION_LIFETIME} s in the future"
        )
    for name, value in (("nbf", not_before), ("iat", issued)):
        if value is not None and value > stamp + ASSERTION_CLOCK_SKEW:
            raise InvalidClientError(f"client_assertion {name} is {value - stamp} s in the future")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > 256:
        raise InvalidClientError("client_assertion has no jti")
    if not remember_jti(f"{client.client_id}:{jti}", exp - stamp + 1):
        raise InvalidClientError("client_assertion jti was already used (replay)")

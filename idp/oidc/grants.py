"""Authorization codes, access tokens and refresh tokens over the short-lived store.

Every token is 256 random bits; the store keys are their SHA-256 so that a store dump holds
nothing usable. One sign-in for one client is a *grant*; its codes, access tokens and refresh
tokens all carry the grant id, so revoking the grant revokes everything it issued:

- a code is taken atomically (``GETDEL``); a second presentation finds the "used" marker and
  revokes the grant (RFC 6749 §4.1.2, OAuth 2.0 Security BCP §4.5);
- a refresh token is rotated on each use; presenting a rotated one again revokes the whole
  family, i.e. the grant (Security BCP §4.14.2).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Any

from idp.oidc.claims import RequestedClaims
from idp.oidc.errors import InvalidGrantError, InvalidTokenError
from idp.store.ephemeral.base import EphemeralStore

_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_TOKEN = re.compile(r"[A-Za-z0-9\-_]{20,128}")
_P = "oidc:"


@dataclass(frozen=True)
class Grant:
    """What one sign-in for one client allows; codes and tokens point at it."""

    grant_id: str
    client_id: str
    employee_id: str
    session_id: str
    scopes: tuple[str, ...]
    auth_time: float
    acr: str
    amr: tuple[str, ...]
    redirect_uri: str
    nonce: str | None = None
    code_challenge: str | None = None
    claims: RequestedClaims = field(default_factory=RequestedClaims)

    def to_json(self) -> bytes:
        data = asdict(self)
        data["claims"] = self.claims.to_json()
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Grant:
        data: dict[str, Any] = json.loads(raw)
        data["claims"] = RequestedClaims.from_json(data["claims"])
        data["scopes"] = tuple(data["scopes"])
        data["amr"] = tuple(data["amr"])
        return cls(**data)


def new_grant_id() -> str:
    return secrets.token_urlsafe(16)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def s256(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2): BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class GrantStore:
    store: EphemeralStore
    code_ttl: int = 60
    access_ttl: int = 3600
    refresh_ttl: int = 30 * 86400

    @property
    def _revocation_ttl(self) -> int:
        return max(self.access_ttl, self.refresh_ttl, self.code_ttl)

    # -- codes -----------------------------------------------------------------------------
    def issue_code(self, grant: Grant) -> str:
        code = secrets.token_urlsafe(32)
        self.store.put(f"{_P}code:{_digest(code)}", grant.to_json(), ttl=self.code_ttl)
        return code

    def redeem_code(
        self, *, code: str, client_id: str, redirect_uri: str | None, code_verifier: str | None
    ) -> Grant:
        """The grant behind ``code``; a replayed code revokes what the first use issued."""
        if not _TOKEN.fullmatch(code):
            raise InvalidGrantError("the authorization code is malformed")
        key = _digest(code)
        raw = self.store.take(f"{_P}code:{key}")
        if raw is None:
            first_use = self.store.get(f"{_P}code-used:{key}")
            if first_use is not None:
                self.revoke(first_use.decode())
                raise InvalidGrantError(
                    "the authorization code was already used; the tokens issued for it are revoked"
                )
            raise InvalidGrantError("the authorization code is unknown or expired")
        grant = Grant.from_json(raw)
        used_ttl = max(self.code_ttl, self.access_ttl)
        self.store.put(f"{_P}code-used:{key}", grant.grant_id.encode(), ttl=used_ttl)
        if grant.client_id != client_id:
            raise InvalidGrantError("the authorization code was issued to another client")
        if redirect_uri != grant.redirect_uri:
            raise InvalidGrantError(
                "redirect_uri must be the one of the authorization request (RFC 6749 §4.1.3)"
            )
        _check_pkce(grant.code_challenge, code_verifier)
        return grant

    # -- access tokens ---------------------------------------------------------------------
    def issue_access_token(self, grant: Grant) -> str:
        token = secrets.token_urlsafe(32)
        self.store.put(f"{_P}at:{_digest(token)}", grant.to_json(), ttl=self.access_ttl)
        return token

    def access_token(self, token: str) -> Grant:
        if not _TOKEN.fullmatch(token):
            raise InvalidTokenError("the access token is malformed")
        raw = self.store.get(f"{_P}at:{_digest(token)}")
        if raw is None:
            raise InvalidTokenError("the access token is unknown or expired")
        grant = Grant.from_json(raw)
        if self.revoked(grant.grant_id):
            raise InvalidTokenError("the access token was revoked")
        return grant

    # -- refresh tokens --------------------------------------------------------------------
    def issue_refresh_token(self, grant: Grant) -> str:
        token = secrets.token_urlsafe(32)
        self.store.put(f"{_P}rt:{_digest(token)}", grant.to_json(), ttl=self.refresh_ttl)
        return token

    def rotate_refresh_token(self, *, token: str, client_id: str) -> tuple[Grant, str]:
        """Spend ``token`` and return its grant with the next token of the family."""
        if not _TOKEN.fullmatch(token):
            raise InvalidGrantError("the refresh token is malformed")
        key = _digest(token)
        raw = self.store.take(f"{_P}rt:{key}")
        if raw is None:
            family = self.store.get(f"{_P}rt-used:{key}")
            if family is not None:
                self.revoke(family.decode())
                raise InvalidGrantError(
                    "the refresh token was already used; every token of this sign-in is revoked"
                )
            raise InvalidGrantError("the refresh token is unknown or expired")
        grant = Grant.from_json(raw)
        self.store.put(f"{_P}rt-used:{key}", grant.grant_id.encode(), ttl=self.refresh_ttl)
        if grant.client_id != client_id:
            self.revoke(grant.grant_id)
            raise InvalidGrantError("the refresh token was issued to another client")
        if self.revoked(grant.grant_id):
            raise InvalidGrantError("the refresh token was revoked")
        return grant, self.issue_refresh_token(grant)

    # -- revocation ------------------------------------------------------------------------
    def revoke(self, grant_id: str) -> None:
        self.store.put(f"{_P}revoked:{grant_id}", b"1", ttl=self._revocation_ttl)

    def revoked(self, grant_id: str) -> bool:
        return self.store.get(f"{_P}revoked:{grant_id}") is not None


def _check_pkce(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier is not None:
            # A verifier without a challenge hints at a PKCE downgrade (Security BCP §4.8.2).
            raise InvalidGrantError("code_verifier sent, but the authorization had no challenge")
        return
    if verifier is None:
        raise InvalidGrantError("code_verifier is missing (the authorization used PKCE)")
    if not _VERIFIER.fullmatch(verifier):
        raise InvalidGrantError("code_verifier must be 43-128 unreserved characters")
    if not hmac.compare_digest(s256(verifier), challenge):
        raise InvalidGrantError("code_verifier does not match the code_challenge")

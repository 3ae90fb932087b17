"""Authorization codes, access tokens and refresh tokens over the short-lived store.

Every token is 256 random bits; the stores keep their SHA-256 so that a dump holds nothing
usable. One sign-in for one client is a *grant*; its codes, access tokens and refresh tokens
all carry the grant id, so revoking the grant revokes everything it issued:

- a code is taken atomically (``GETDEL``) from the short-lived store; a second presentation
  finds the "used" marker and revokes the grant (RFC 6749 §4.1.2, OAuth 2.0 Security BCP §4.5);
- access tokens live in the short-lived store; a revoked grant leaves a marker there that
  outlives them;
- refresh tokens form a *family* per grant in the relational database (they live for weeks
  and must survive a restart of the short-lived store): each use rotates the token, and
  presenting a spent one again revokes the whole family (Security BCP §4.14.2).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import KW_ONLY, asdict, dataclass
from typing import Any, Protocol

from idp.oidc.errors import FamilyRevokedError, InvalidGrantError, InvalidTokenError
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

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Grant:
        data: dict[str, Any] = json.loads(raw)
        # Refresh families written before the scopes alone decided the release still carry
        # the request's claims member; what they released is in their scopes now.
        data.pop("claims", None)
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


class RefreshFamilies(Protocol):
    """Where refresh-token families live (:class:`idp.oidc.store.SqlRefreshFamilies`).

    Token values never reach it, only their SHA-256. ``rotate`` spends a token atomically
    (exactly one of two racing presentations wins) and raises :class:`InvalidGrantError`; when
    the presentation revokes the family (reuse, another client) it raises
    :class:`FamilyRevokedError` after the revocation is stored. ``check(grant)`` runs before
    the token is spent for good: when it raises, the token stays unspent.
    """

    def start(self, grant: Grant, *, token_hash: str, now: dt.datetime, ttl: int) -> None: ...

    def rotate(
        self,
        *,
        token_hash: str,
        next_hash: str,
        client_id: str,
        now: dt.datetime,
        ttl: int,
        check: Callable[[Grant], None] | None = None,
    ) -> Grant: ...

    def revoke(self, grant_id: str, *, now: dt.datetime, reason: str) -> bool: ...

    def revoke_for_employee(self, employee_id: str, *, now: dt.datetime, reason: str) -> int: ...


@dataclass(frozen=True)
class GrantStore:
    """Codes and access tokens in the short-lived store; refresh families in ``families``."""

    store: EphemeralStore
    code_ttl: int = 60
    access_ttl: int = 3600
    refresh_ttl: int = 30 * 86400
    _: KW_ONLY
    families: RefreshFamilies

    @property
    def _revocation_ttl(self) -> int:
        # The marker only has to outlive codes and access tokens; families keep their own.
        return max(self.access_ttl, self.code_ttl)

    # -- codes -----------------------------------------------------------------------------
    def issue_code(self, grant: Grant) -> str:
        code = secrets.token_urlsafe(32)
        self.store.put(f"{_P}code:{_digest(code)}", grant.to_json(), ttl=self.code_ttl)
        return code

    def redeem_code(
        self,
        *,
        code: str,
        client_id: str,
        redirect_uri: str | None,
        code_verifier: str | None,
        now: dt.datetime,
    ) -> Grant:
        """The grant behind ``code``; a replayed code revokes what the first use issued."""
        if not _TOKEN.fullmatch(code):
            raise InvalidGrantError("the authorization code is malformed")
        key = _digest(code)
        raw = self.store.take(f"{_P}code:{key}")
        if raw is None:
            first_use = self.store.get(f"{_P}code-used:{key}")
            if first_use is not None:
                self.revoke(first_use.decode(), now=now, reason="code_reused")
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

    # -- refresh tokens (families in the relational database) -------------------------------
    def issue_refresh_token(self, grant: Grant, *, now: dt.datetime) -> str:
        """The first refresh token of ``grant``'s family."""
        token = secrets.token_urlsafe(32)
        self.families.start(grant, token_hash=_digest(token), now=now, ttl=self.refresh_ttl)
        if self.revoked(grant.grant_id):
            # A replayed code may have revoked the grant while this family was being written.
            self.families.revoke(grant.grant_id, now=now, reason="code_reused")
        return token

    def rotate_refresh_token(
        self,
        *,
        token: str,
        client_id: str,
        now: dt.datetime,
        check: Callable[[Grant], None] | None = None,
    ) -> tuple[Grant, str]:
        """Spend ``token`` and return its grant with the next token of the family.

        ``check(grant)`` validates the rest of the request against the grant (a narrowed
        ``scope``); when it raises, nothing is spent, so a refused request is not later
        mistaken for reuse.
        """
        if not _TOKEN.fullmatch(token):
            raise InvalidGrantError("the refresh token is malformed")
        following = secrets.token_urlsafe(32)
        try:
            grant = self.families.rotate(
                token_hash=_digest(token),
                next_hash=_digest(following),
                client_id=client_id,
                now=now,
                ttl=self.refresh_ttl,
                check=check,
            )
        except FamilyRevokedError as exc:
            # The family was revoked just now (reuse): the access tokens it issued go too.
            self.store.put(f"{_P}revoked:{exc.grant_id}", b"1", ttl=self._revocation_ttl)
            raise
        return grant, following

    # -- revocation ------------------------------------------------------------------------
    def revoke(self, grant_id: str, *, now: dt.datetime, reason: str) -> None:
        """Revoke everything ``grant_id`` issued: codes and access tokens, and its family."""
        self.store.put(f"{_P}revoked:{grant_id}", b"1", ttl=self._revocation_ttl)
        self.families.revoke(grant_id, now=now, reason=reason)

    def revoked(self, grant_id: str) -> bool:
        """Whether access tokens of ``grant_id`` are revoked (the short-lived marker)."""
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

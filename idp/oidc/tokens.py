"""id_token contents (OIDC Core §2, §3.1.3.6) and subject identifiers (§8)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from idp.oidc.clients import Client


def subject_for(client: Client, employee_id: str, *, salt: str) -> str:
    """``public``: our employee id (stable, never reused); ``pairwise``: per sector (§8.1)."""
    if client.subject_type != "pairwise":
        return employee_id
    sector = urlsplit(client.redirect_uris[0]).hostname or client.client_id
    mac = hmac.new(salt.encode(), f"{sector}|{employee_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def token_hash(token: str) -> str:
    """``at_hash`` for RS256/ES256: left half of SHA-256, base64url (OIDC Core §3.1.3.6)."""
    digest = hashlib.sha256(token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode("ascii")


def id_token_claims(
    *,
    issuer: str,
    subject: str,
    client_id: str,
    now: int,
    lifetime: int,
    auth_time: int | None,
    acr: str | None,
    amr: tuple[str, ...],
    nonce: str | None = None,
    sid: str | None = None,
    access_token: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claims of one id_token; ``extra`` (user claims) never overrides the protocol ones."""
    claims: dict[str, Any] = dict(extra or {})
    claims.update(iss=issuer, sub=subject, aud=client_id, iat=now, exp=now + lifetime)
    if auth_time is not None:
        claims["auth_time"] = auth_time
    if nonce is not None:
        claims["nonce"] = nonce
    if acr is not None:
        claims["acr"] = acr
    if amr:
        claims["amr"] = list(amr)
    if sid is not None:
        claims["sid"] = sid
    if access_token is not None:
        claims["at_hash"] = token_hash(access_token)
    claims["azp"] = client_id
    return claims

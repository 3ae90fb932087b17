"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2–§3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from idp.oidc.authorize import Params, one
from idp.oidc.clients import Client, ClientRegistry
from idp.oidc.errors import InvalidRedirectUriError, JwtError
from idp.oidc.keys import JoseKey, verify_jwt


@dataclass(frozen=True)
class LogoutRequest:
    client: Client | None
    #: the ``sub`` of a valid id_token_hint: the RP vouches for which user is leaving
    hinted_subject: str | None
    post_logout_redirect_uri: str | None
    state: str | None

    def location(self) -> str | None:
        if self.post_logout_redirect_uri is None:
            return None
        if self.state is None:
            return self.post_logout_redirect_uri
        separator = "&" if urlsplit(self.post_logout_redirect_uri).query else "?"
        return self.post_logout_redirect_uri + separator + urlencode({"state": self.state})


def parse_logout_request(
    params: Params,
    *,
    registry: ClientRegistry,
    issuer: str,
    own_keys: Callable[[str], JoseKey | None],
) -> LogoutRequest:
    """Identify the client (hint ``aud`` or ``client_id``) and check the return URI exactly."""
    hint = one(params, "id_token_hint", redirectable=False)
    client_id = one(params, "client_id", redirectable=False)
    subject = None
    if hint is not None:
        try:
            claims = verify_jwt(
                hint, lookup=own_keys, algorithms=("RS256", "ES256"), what="id_token_hint"
            ).claims
        except JwtError as exc:
            raise InvalidRedirectUriError(exc.description) from None
        aud = claims.get("aud")
        hinted = aud[0] if isinstance(aud, list) and aud else aud
        if claims.get("iss") != issuer or not isinstance(hinted, str):
            raise InvalidRedirectUriError("id_token_hint was not issued by this provider")
        if client_id is not None and client_id != hinted:
            raise InvalidRedirectUriError("client_id does not match the id_token_hint audience")
        client_id = hinted
        sub = claims.get("sub")
        subject = sub if isinstance(sub, str) else None
    client = registry.get(client_id)
    if client_id is not None and client is None:
        raise InvalidRedirectUriError(f"unknown client_id {client_id[:64]!r}")
    uri = one(params, "post_logout_redirect_uri", redirectable=False)
    if uri is not None and (client is None or uri not in client.post_logout_redirect_uris):
        raise InvalidRedirectUriError(
            "post_logout_redirect_uri is not registered for the client named by "
            "id_token_hint or client_id"
        )
    return LogoutRequest(client, subject, uri, one(params, "state", redirectable=False))

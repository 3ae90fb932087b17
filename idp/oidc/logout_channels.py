"""OpenID Connect Front-Channel Logout 1.0 and Back-Channel Logout 1.0, sans-IO.

When a session ends, every OIDC client it signed in to is told through the channel the client
registered: a ``frontchannel_logout_uri`` is loaded by the browser in an iframe (Front-Channel
§3, with ``iss`` and ``sid`` when the client requires them); a ``backchannel_logout_uri``
receives a signed Logout Token by a server-to-server POST (Back-Channel §2.4–§2.5; the POST
itself is :mod:`idp.oidc.backchannel`). The session records each client as an
:class:`OidcParticipant`; :func:`plan_oidc_logout` turns those records into the URLs to load
and the tokens to send, and names the clients that registered neither channel.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from idp.oidc.clients import Client, ClientRegistry
from idp.oidc.errors import LogoutChannelError
from idp.oidc.keys import OidcKeys
from idp.oidc.tokens import subject_for
from idp.sessions import session_handle

#: the only member of a Logout Token's ``events`` claim (Back-Channel §2.4)
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: the JOSE ``typ`` of a Logout Token (Back-Channel §2.4, RFC 8725 §3.11)
LOGOUT_TOKEN_TYPE = "logout+jwt"
#: Back-Channel §2.4 asks for a short ``exp``; two minutes leaves room for clock skew
LOGOUT_TOKEN_LIFETIME = 120

_CLIENT_ID = re.compile(r"[A-Za-z0-9._~\-]{3,128}")
_SID = re.compile(r"[A-Za-z0-9_\-]{16,64}")


@dataclass(frozen=True)
class BackchannelSettings:
    """How Logout Tokens are sent (``oidc.backchannel_logout`` in idp.yaml)."""

    connect_timeout: float = 2.0
    read_timeout: float = 5.0
    concurrency: int = 8
    token_lifetime: int = LOGOUT_TOKEN_LIFETIME


@dataclass(frozen=True)
class OidcParticipant:
    """An OIDC client a session signed in to, as the session records it.

    Encoded ``oidc:<client_id>|<sid>``: a client id has no ``|`` (the clients file allows
    ``A-Z a-z 0-9 . _ ~ -``) and ``sid`` is base64url, so the split is unambiguous.
    """

    client_id: str
    sid: str

    PREFIX = "oidc:"

    @classmethod
    def for_session(cls, *, client_id: str, session_id: str) -> OidcParticipant:
        return cls(client_id, session_handle(session_id))

    def encode(self) -> str:
        return f"{self.PREFIX}{self.client_id}|{self.sid}"

    @classmethod
    def decode(cls, value: str) -> OidcParticipant | None:
        """The participant, or None for another protocol's (or a malformed) entry."""
        if not value.startswith(cls.PREFIX):
            return None
        client_id, separator, sid = value[len(cls.PREFIX) :].partition("|")
        if not separator or not _CLIENT_ID.fullmatch(client_id) or not _SID.fullmatch(sid):
            return None
        return cls(client_id, sid)


def build_logout_token(
    *,
    client: Client,
    subject: str | None,
    sid: str | None,
    issuer: str,
    keys: OidcKeys,
    now: dt.datetime,
    lifetime: int = LOGOUT_TOKEN_LIFETIME,
) -> str:
    """The signed Logout Token for ``client`` (Back-Channel Logout 1.0 §2.4).

    It carries ``iss``, ``aud`` (the client id), ``iat``, a short ``exp``, a fresh ``jti``,
    the back-channel ``events`` member, and ``sub`` and/or ``sid`` — never a ``nonce``, so it
    cannot pass as an id_token. It is signed with the provider's current key object for the
    client's ``id_token_signed_response_alg`` (the RP checks it like an id_token, §2.6), with
    the header ``typ: logout+jwt``.
    """
    if client.backchannel_logout_uri is None:
        raise LogoutChannelError(
            f"client {client.client_id!r} registered no backchannel_logout_uri"
        )
    if subject is None and sid is None:
        raise LogoutChannelError("a Logout Token needs sub or sid (Back-Channel §2.4); got neither")
    if sid is None and client.backchannel_logout_session_required:
        raise LogoutChannelError(
            f"client {client.client_id!r} requires sid in Logout Tokens, but no session is known"
        )
    issued = int(now.timestamp())
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": client.client_id,
        "iat": issued,
        "exp": issued + lifetime,
        "jti": secrets.token_urlsafe(16),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    if subject is not None:
        claims["sub"] = subject
    if sid is not None:
        claims["sid"] = sid
    return keys.sign(claims, alg=client.id_token_signed_response_alg, typ=LOGOUT_TOKEN_TYPE)


def frontchannel_logout_url(*, client: Client, issuer: str, sid: str | None) -> str:
    """The URL the logout page loads in an iframe for ``client`` (Front-Channel Logout 1.0 §3).

    With ``frontchannel_logout_session_required`` the URL carries ``iss`` and ``sid`` (both or
    neither, §2), appended to any query the registered URI already has (which is kept).
    """
    uri = client.frontchannel_logout_uri
    if uri is None:
        raise LogoutChannelError(
            f"client {client.client_id!r} registered no frontchannel_logout_uri"
        )
    if not client.frontchannel_logout_session_required:
        return uri
    if sid is None:
        raise LogoutChannelError(
            f"client {client.client_id!r} requires iss and sid, but no session is known"
        )
    separator = "&" if urlsplit(uri).query else "?"
    return uri + separator + urlencode({"iss": issuer, "sid": sid})


@dataclass(frozen=True)
class FrontchannelLogout:
    client_id: str
    client_name: str
    url: str


@dataclass(frozen=True)
class BackchannelLogout:
    """One Logout Token to POST to one client's ``backchannel_logout_uri``."""

    client_id: str
    client_name: str
    uri: str
    logout_token: str


@dataclass(frozen=True)
class OidcLogoutPlan:
    frontchannel: tuple[FrontchannelLogout, ...]
    backchannel: tuple[BackchannelLogout, ...]
    #: clients the session used that registered no logout channel (or left the clients file):
    #: they cannot be told, and the signed-out page should say so
    not_notified: tuple[str, ...]

    @property
    def frontchannel_origins(self) -> tuple[str, ...]:
        """The origins the logout page frames (its Content-Security-Policy ``frame-src``)."""
        seen: dict[str, None] = {}
        for entry in self.frontchannel:
            parts = urlsplit(entry.url)
            seen.setdefault(f"{parts.scheme}://{parts.netloc}", None)
        return tuple(seen)


def plan_oidc_logout(
    *,
    participants: Iterable[str],
    registry: ClientRegistry,
    issuer: str,
    keys: OidcKeys,
    employee_id: str | None,
    pairwise_salt: str,
    now: dt.datetime,
    token_lifetime: int = LOGOUT_TOKEN_LIFETIME,
) -> OidcLogoutPlan:
    """What to do for each OIDC client among a session's ``participants`` (other protocols'
    entries are skipped), each client and session once, in the given order.

    ``employee_id`` gives the Logout Token its ``sub`` (as the client knows the user: public
    or pairwise); None when the session's owner is no longer known, so only ``sid`` is sent.
    """
    front: list[FrontchannelLogout] = []
    back: list[BackchannelLogout] = []
    untold: dict[str, None] = {}
    seen: set[OidcParticipant] = set()
    for value in participants:
        participant = OidcParticipant.decode(value)
        if participant is None or participant in seen:
            continue
        seen.add(participant)
        client = registry.get(participant.client_id)
        if client is None or (
            client.frontchannel_logout_uri is None and client.backchannel_logout_uri is None
        ):
            untold.setdefault(participant.client_id, None)
            continue
        if client.frontchannel_logout_uri is not None:
            url = frontchannel_logout_url(client=client, issuer=issuer, sid=participant.sid)
            front.append(FrontchannelLogout(client.client_id, client.name, url))
        if client.backchannel_logout_uri is not None:
            subject = (
                None
                if employee_id is None
                else subject_for(client, employee_id, salt=pairwise_salt)
            )
            token = build_logout_token(
                client=client, subject=subject, sid=participant.sid, issuer=issuer, keys=keys,
                now=now, lifetime=token_lifetime,
            )  # fmt: skip
            uri = client.backchannel_logout_uri
            back.append(BackchannelLogout(client.client_id, client.name, uri, token))
    return OidcLogoutPlan(tuple(front), tuple(back), tuple(untold))

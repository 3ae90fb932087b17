"""Parsing and checking passive requestor messages (WS-Federation 1.2 §13).

:func:`parse_request` turns the query/form parameters of one request to the passive endpoint
into a :class:`SignInRequest` or a :class:`SignOutRequest`. Nothing here does IO: the caller
passes the parameters, the settings and the time. Every refusal is a typed
:class:`~idp.wsfed.errors.WsFedError` that names what was expected and what arrived; none of
them leads to a redirect, because an unchecked ``wreply`` must never receive the browser.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from idp.wsfed import constants as c
from idp.wsfed.errors import (
    ContextTooLarge,
    MalformedRequest,
    MissingAction,
    UnknownRealm,
    UnregisteredReply,
    UnsupportedAction,
)
from idp.wsfed.model import RelyingParty, WsFedSettings

MAX_URL_CHARS = 2048
MAX_SHORT_CHARS = 256
# Parameters we do not read (``wauth``, ``wreq``, ``wp``, …) are accepted and ignored, as
# WS-Federation 1.2 §13.2 asks of a requestor that does not support them.


@dataclass(frozen=True)
class SignInRequest:
    """A checked ``wsignin1.0``: the relying party, where to post, and what the RP asked."""

    relying_party: RelyingParty
    #: the realm exactly as the RP sent it: AppliesTo and Audience carry this value
    realm: str
    #: the registered reply URL the answer is posted to (never the raw ``wreply``)
    reply_url: str
    context: str | None
    #: ``wfresh=0``: the RP wants a new sign-in, whatever the session holds
    force_fresh: bool
    #: ``wfresh=N`` (N > 0): a sign-in older than N minutes does not count
    max_age: int | None
    rp_time: dt.datetime | None
    home_realm: str | None
    received_at: dt.datetime


@dataclass(frozen=True)
class SignOutRequest:
    """A ``wsignout1.0`` (end the session everywhere) or ``wsignoutcleanup1.0`` (only here)."""

    cleanup_only: bool
    #: a registered URL to continue to afterwards, or None (show our signed-out page)
    reply_url: str | None
    realm: str | None


Request = SignInRequest | SignOutRequest


def parse_request(
    params: Mapping[str, Sequence[str]], *, settings: WsFedSettings, now: dt.datetime
) -> Request:
    """Check the parameters of one passive-requestor request.

    ``params`` maps each parameter name to every value it arrived with (query and form
    together); a parameter we read that arrives twice is refused, since the two copies could
    be read differently by different components.
    """
    action = _param(params, "wa", max_chars=MAX_SHORT_CHARS)
    if action is None:
        raise MissingAction(
            "not a WS-Federation request: the wa parameter is missing (expected "
            f"{' or '.join(c.ACTIONS)})"
        )
    if action not in c.ACTIONS:
        raise UnsupportedAction(
            f"unsupported wa={_shown(action)}; expected one of {', '.join(c.ACTIONS)}"
        )
    if action == c.WA_SIGNIN:
        return _sign_in(params, settings=settings, now=now)
    return _sign_out(params, settings=settings, cleanup_only=action == c.WA_SIGNOUT_CLEANUP)


def _sign_in(
    params: Mapping[str, Sequence[str]], *, settings: WsFedSettings, now: dt.datetime
) -> SignInRequest:
    realm = _param(params, "wtrealm", max_chars=MAX_URL_CHARS)
    if realm is None:
        raise MalformedRequest("wsignin1.0 needs wtrealm (the relying party's realm)")
    rp = settings.relying_party(realm)
    if rp is None:
        raise UnknownRealm(f"no relying party is configured for the realm {_shown(realm)}")
    wreply = _param(params, "wreply", max_chars=MAX_URL_CHARS)
    if wreply is None:
        reply = rp.reply_urls[0]
    else:
        found = rp.registered_reply(wreply)
        if found is None:
            raise UnregisteredReply(
                f"wreply {_shown(wreply)} is not registered for the realm {_shown(realm)}; "
                f"registered: {', '.join(rp.reply_urls)}"
            )
        reply = found
    fresh = _wfresh(_param(params, "wfresh", max_chars=16))
    return SignInRequest(
        relying_party=rp,
        realm=realm,
        reply_url=reply,
        context=_wctx(params, limit=settings.max_context_bytes),
        force_fresh=fresh == 0,
        max_age=fresh * 60 if fresh else None,
        rp_time=_wct(_param(params, "wct", max_chars=64)),
        home_realm=_param(params, "whr", max_chars=MAX_URL_CHARS),
        received_at=now,
    )


def _sign_out(
    params: Mapping[str, Sequence[str]], *, settings: WsFedSettings, cleanup_only: bool
) -> SignOutRequest:
    realm = _param(params, "wtrealm", max_chars=MAX_URL_CHARS)
    wreply = _param(params, "wreply", max_chars=MAX_URL_CHARS)
    reply = None
    if wreply is not None:
        rp = settings.relying_party(realm) if realm is not None else None
        reply = rp.registered_reply(wreply) if rp is not None else None
        reply = reply or settings.signout_reply(wreply)
        if reply is None:
            raise UnregisteredReply(
                f"wreply {_shown(wreply)} is not a registered reply URL of any relying party"
            )
    return SignOutRequest(cleanup_only=cleanup_only, reply_url=reply, realm=realm)


def _param(params: Mapping[str, Sequence[str]], name: str, *, max_chars: int) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if isinstance(values, str):
        raise TypeError(f"parameter {name} must map to a list of values, not a string")
    if len(values) != 1:
        raise MalformedRequest(f"{name} must appear once, it appeared {len(values)} times")
    value = values[0]
    if not isinstance(value, str):
        raise MalformedRequest(f"{name} must be text")
    if len(value) > max_chars:
        raise MalformedRequest(f"{name} is longer than {max_chars} characters ({len(value)})")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise MalformedRequest(f"{name} contains control characters")
    return value or None


def _wctx(params: Mapping[str, Sequence[str]], *, limit: int) -> str | None:
    # Checked in bytes before anything else: wctx is echoed back verbatim in the answer form.
    values = params.get("wctx") or ()
    for value in values:
        size = len(value.encode("utf-8", "surrogatepass")) if isinstance(value, str) else 0
        if size > limit:
            raise ContextTooLarge(f"wctx is {size} bytes; at most {limit} bytes are echoed back")
    return _param(params, "wctx", max_chars=limit)


def _wfresh(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise MalformedRequest(f"wfresh must be a whole number of minutes, got {_shown(value)}")
    return int(value)


def _wct(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MalformedRequest(
            f"wct must be an xs:dateTime such as 2024-05-01T10:00:00Z, got {_shown(value)}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _shown(value: str, limit: int = 120) -> str:
    """A caller-supplied value, quoted and shortened, for error messages."""
    return repr(value if len(value) <= limit else value[:limit] + "…")

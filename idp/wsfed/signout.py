"""Sign-out (WS-Federation 1.2 §13.2.4): which relying parties to clean up, where to go next.

The session remembers each relying party it signed in to (as :func:`participant_key`). On
``wsignout1.0`` the shell ends the session and shows a page that loads
``<cleanup URL>?wa=wsignoutcleanup1.0`` for each of them (hidden images, as ADFS does), then
follows the registered ``wreply``. ``wsignoutcleanup1.0`` sent to us ends our session only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from idp.wsfed import constants as c
from idp.wsfed.model import RelyingParty, WsFedSettings
from idp.wsfed.requests import SignOutRequest

_PREFIX = "wsfed|"


def participant_key(rp: RelyingParty) -> str:
    """How a WS-Fed relying party is recorded among a session's participants."""
    return _PREFIX + rp.name


def participant_name(value: str) -> str | None:
    """The relying party's name a :func:`participant_key` names, or None for another entry."""
    if not value.startswith(_PREFIX):
        return None
    return value[len(_PREFIX) :] or None


@dataclass(frozen=True)
class SignOutPlan:
    cleanup_urls: tuple[str, ...]
    continue_to: str | None

    @property
    def cleanup_origins(self) -> tuple[str, ...]:
        """The origins the cleanup page loads from (its Content-Security-Policy lists them)."""
        seen: dict[str, None] = {}
        for url in self.cleanup_urls:
            parts = urlsplit(url)
            seen.setdefault(f"{parts.scheme}://{parts.netloc}", None)
        return tuple(seen)


def plan_signout(
    *, request: SignOutRequest, participants: Iterable[str], settings: WsFedSettings
) -> SignOutPlan:
    """The cleanup URLs for the session's WS-Fed relying parties (each once, in the given order)."""
    if request.cleanup_only:
        return SignOutPlan(cleanup_urls=(), continue_to=request.reply_url)
    by_name = {participant_key(rp): rp for rp in settings.relying_parties}
    urls: dict[str, None] = {}
    for key in participants:
        rp = by_name.get(key)
        if rp is not None:
            urls.setdefault(cleanup_url(rp), None)
    return SignOutPlan(cleanup_urls=tuple(urls), continue_to=request.reply_url)


def cleanup_url(rp: RelyingParty) -> str:
    base = rp.cleanup_url
    separator = "&" if urlsplit(base).query else "?"
    return base + separator + urlencode({"wa": c.WA_SIGNOUT_CLEANUP})

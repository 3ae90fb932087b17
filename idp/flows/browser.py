"""The browser as the flow sees it: who it is (bound), its session, where it comes from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from idp.sessions import AuthContext


@dataclass(frozen=True)
class Browser:
    """One browser's request, as the shell read it.

    ``binding`` ties single-use state (login tickets, parked requests, challenges) to the
    browser that began a sign-in: derived from a random per-browser cookie the shell keeps
    (see :func:`binding_of`), so a link passed to someone else cannot finish a sign-in.
    """

    binding: str
    session: AuthContext | None
    ip: str = "unknown"
    #: an auto-posted cross-site form arrived without the (SameSite=Lax) session cookie
    cookies_withheld: bool = False


def binding_of(browser_cookie: str) -> str:
    return hashlib.sha256(b"login-ticket|" + browser_cookie.encode()).hexdigest()[:32]

"""What a flow step asks the shell to send back to the browser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from idp.sessions import AuthContext


@dataclass(frozen=True)
class Redirect:
    location: str
    status: int = 303


@dataclass(frozen=True)
class FormPost:
    """An auto-posted form to another site (SAML POST binding, form_post, WS-Fed wresult)."""

    url: str
    fields: tuple[tuple[str, str], ...]
    #: the relying party's name as the "continue" button names it when scripts are off
    target_name: str


@dataclass(frozen=True)
class Page:
    """One of the IdP's own pages, by name; the shell owns the templates."""

    name: str
    values: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200
    #: extra origins the page loads images from (the WS-Fed cleanup page, front-channel logout)
    frame_origins: tuple[str, ...] = ()
    image_origins: tuple[str, ...] = ()
    #: seconds after which the page moves on to ``refresh_to``
    refresh_to: str | None = None


@dataclass(frozen=True)
class Json:
    body: Mapping[str, Any]
    status: int = 200


Body = Redirect | FormPost | Page | Json


@dataclass(frozen=True)
class Answer:
    """The body plus what becomes of the browser's session cookie."""

    body: Body
    #: set the session cookie to this session
    session: AuthContext | None = None
    #: remove the session cookie (the session ended)
    end_session: bool = False

"""Who performs an administrative action, and the proof of a fresh authentication.

The roles follow the Hideez server: an *admin* may do everything; *helpdesk* everything but
secrets and lifting the emergency alarm; an *auditor* only reads. The shells build the actor
from who is signed in (the CLI operator is an admin of the server they run on).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from idp.errors import AccessDenied, Unauthorized

#: how long an authentication counts as fresh for a re-authentication-gated action
FRESH_FOR = dt.timedelta(minutes=5)


class AdminRole(StrEnum):
    ADMIN = "admin"
    HELPDESK = "helpdesk"
    AUDITOR = "auditor"


class NotPermitted(AccessDenied):
    """The acting admin's role does not allow this action."""

    error = "not_permitted"


class ReauthenticationRequired(Unauthorized):
    """The action needs a fresh authentication of the acting admin."""

    error = "reauthentication_required"


@dataclass(frozen=True)
class AdminActor:
    name: str
    role: AdminRole

    @property
    def audit_actor(self) -> str:
        return f"admin:{self.name}"

    def require(self, *roles: AdminRole, action: str) -> None:
        if self.role not in roles:
            allowed = " or ".join(r.value for r in roles)
            raise NotPermitted(f"{action} needs the {allowed} role; {self.name} is {self.role}")


@dataclass(frozen=True)
class FreshAuthentication:
    """An admin authenticated at ``authenticated_at`` with ``method`` (a shell checked it)."""

    admin: str
    authenticated_at: dt.datetime
    method: str

    def check(self, actor: AdminActor, *, now: dt.datetime, action: str) -> None:
        if self.admin != actor.name:
            raise ReauthenticationRequired(
                f"{action}: the re-authentication is {self.admin!r}'s, not {actor.name!r}'s"
            )
        age = now - self.authenticated_at
        if age > FRESH_FOR or age < -dt.timedelta(seconds=30):
            raise ReauthenticationRequired(
                f"{action} needs an authentication from the last {int(FRESH_FOR.seconds / 60)} "
                f"minutes; the last one was {int(age.total_seconds())} s ago"
            )

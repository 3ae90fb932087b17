"""Who may do what: the roles, the permissions, and the one table between them.

Every admin action is a method decorated with :func:`requires` (or, for keyword-only
actions, calls :func:`check` first); either checks the acting :class:`Actor` against
:data:`ROLE_PERMISSIONS` (and, for an API key, its scopes) before anything changes, so a
refused action has touched nothing. Roles follow the Hideez server: ``admin`` may do
everything; ``helpdesk`` manages people, their factors and workstations (and may raise the
emergency alarm) but never sees or changes secrets, admin accounts or lifts the alarm;
``auditor`` reads only. This is the one role model of the CLI, the REST API, the console and
the workstation actions.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Concatenate, ParamSpec, TypeVar

from idp.errors import AccessDenied, Unauthorized


class Role(StrEnum):
    ADMIN = "admin"
    HELPDESK = "helpdesk"
    AUDITOR = "auditor"


class Permission(StrEnum):
    """One permission per kind of action; API-key scopes are these same names."""

    EMPLOYEES_READ = "employees:read"
    EMPLOYEES_WRITE = "employees:write"
    #: deleting an employee (with every factor) cannot be undone
    EMPLOYEES_DELETE = "employees:delete"
    #: companies, departments and positions (read with employees:read)
    ORGANISATION_WRITE = "organisation:write"
    FACTORS_READ = "factors:read"
    FACTORS_WRITE = "factors:write"
    SESSIONS_READ = "sessions:read"
    SESSIONS_WRITE = "sessions:write"
    AUDIT_READ = "audit:read"
    CONFIG_READ = "config:read"
    ADMINS_READ = "admins:read"
    ADMINS_WRITE = "admins:write"
    API_KEYS_WRITE = "api_keys:write"
    #: secrets at rest: OIDC client secrets, data protection, backup passphrases
    SECRETS = "secrets"
    #: workstations: approve, unapprove, remove, lock, proximity settings
    #: Hideez Keys: their lifecycle, profiles, accounts and templates (idp/vault/)
    KEYS_READ = "keys:read"
    KEYS_WRITE = "keys:write"
    WORKSTATIONS_READ = "workstations:read"
    WORKSTATIONS_WRITE = "workstations:write"
    #: raising the emergency alarm locks every workstation at once
    ALARM_RAISE = "alarm:raise"
    #: lifting it needs an admin who has just re-authenticated (see require_recent_sign_in)
    ALARM_LIFT = "alarm:lift"
    #: starting a directory sync run (it creates, changes and disables employees)
    DIRECTORY_SYNC = "directory:sync"


_READ = frozenset(
    {
        Permission.EMPLOYEES_READ,
        Permission.FACTORS_READ,
        Permission.SESSIONS_READ,
        Permission.AUDIT_READ,
        Permission.CONFIG_READ,
        Permission.ADMINS_READ,
        Permission.WORKSTATIONS_READ,
        Permission.KEYS_READ,
    }
)
#: The one table of who may do what. Issues adding resources add their permissions here.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.HELPDESK: _READ
    | {
        Permission.EMPLOYEES_WRITE,
        Permission.FACTORS_WRITE,
        Permission.SESSIONS_WRITE,
        Permission.API_KEYS_WRITE,
        Permission.WORKSTATIONS_WRITE,
        Permission.ALARM_RAISE,
        Permission.KEYS_WRITE,
    },
    Role.AUDITOR: _READ,
}


@dataclass(frozen=True)
class Actor:
    """Who is acting: an admin account (through the console or an API key) or the CLI.

    ``name`` is what the audit trail records as the actor (``admin:<username>``, ``cli``);
    ``scopes`` narrows an API key to some of its admin's permissions (``None``: all of them).
    ``auth_time`` is when this person last proved who they are (the console session's
    sign-in, or a password the CLI just checked) and ``auth_method`` how (an amr value such
    as ``pwd`` or ``hwk``): what the re-authentication check reads.
    """

    name: str
    role: Role
    admin_id: str | None = None
    employee_id: str | None = None
    scopes: frozenset[Permission] | None = None
    auth_time: dt.datetime | None = None
    auth_method: str | None = None

    @property
    def username(self) -> str:
        """The name without its ``admin:`` prefix (what registries record as "by")."""
        return self.name.removeprefix("admin:")

    def permissions(self) -> frozenset[Permission]:
        granted = ROLE_PERMISSIONS[self.role]
        return granted if self.scopes is None else granted & self.scopes

    def may(self, permission: Permission) -> bool:
        return permission in self.permissions()


#: The operator at a shell owns the database the CLI opens: they act as an admin.
CLI = Actor(name="cli", role=Role.ADMIN)


class PermissionDenied(AccessDenied):
    """The acting admin's role (or API key's scopes) does not allow this action."""

    error = "permission_denied"

    def __init__(self, description: str, *, permission: Permission) -> None:
        super().__init__(description)
        self.permission = permission


class ReauthenticationRequired(Unauthorized):
    """A sensitive action needs a sign-in more recent than the session has."""

    error = "reauthentication_required"


def check(actor: Actor, permission: Permission) -> None:
    if actor.may(permission):
        return
    if permission in ROLE_PERMISSIONS[actor.role]:
        raise PermissionDenied(
            f"this API key lacks the scope {permission.value!r}", permission=permission
        )
    raise PermissionDenied(
        f"the {actor.role.value} role may not do this (needs {permission.value!r})",
        permission=permission,
    )


#: how recent a sign-in the sensitive actions need (the console and the CLI alike)
REAUTH_MAX_AGE = dt.timedelta(minutes=5)
#: a sign-in "from the future" beyond this clock skew is not believed
_CLOCK_SKEW = dt.timedelta(seconds=30)


def require_recent_sign_in(
    actor: Actor, *, now: dt.datetime, max_age: dt.timedelta = REAUTH_MAX_AGE
) -> None:
    """The re-authentication check for sensitive actions (alarm lift, data protection, a
    compromised key): the actor must have proved who they are within ``max_age``. API keys
    and the bare CLI operator never pass it — these actions need a person who has just proved
    who they are (the CLI asks for a password and builds such an actor).
    """
    if actor.auth_time is None:
        raise ReauthenticationRequired(
            "this action needs an admin who proved who they are moments ago (a console "
            "sign-in, or --admin with their password at the shell); an API key cannot do it"
        )
    age = now - actor.auth_time
    if age < -_CLOCK_SKEW:
        raise ReauthenticationRequired(
            f"the sign-in time lies {int(-age.total_seconds())} s in the future; sign in again"
        )
    if age > max_age:
        raise ReauthenticationRequired(
            f"sign in again: this action needs a sign-in within the last "
            f"{int(max_age.total_seconds() // 60)} minutes, the last was "
            f"{int(age.total_seconds() // 60)} minutes ago"
        )


S = TypeVar("S")
P = ParamSpec("P")
R = TypeVar("R")


def requires(
    permission: Permission,
) -> Callable[[Callable[Concatenate[S, Actor, P], R]], Callable[Concatenate[S, Actor, P], R]]:
    """Mark a service method ``(self, actor, ...)`` as needing ``permission``.

    The permission is also kept on the function (``__permission__``) so the REST API and the
    documentation can list which permission each operation needs without repeating it.
    """

    def decorate(
        method: Callable[Concatenate[S, Actor, P], R],
    ) -> Callable[Concatenate[S, Actor, P], R]:
        @functools.wraps(method)
        def checked(self: S, actor: Actor, /, *args: P.args, **kwargs: P.kwargs) -> R:
            check(actor, permission)
            return method(self, actor, *args, **kwargs)

        checked.__permission__ = permission  # type: ignore[attr-defined]
        return checked

    return decorate

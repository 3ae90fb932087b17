"""The admin console under ``/console``: server-rendered pages over the admin services.

An admin signs in either the way every employee does — the core sign-in flow (``/login`` with
a ticket that resumes at the console, a passkey with user verification) — or with the admin
account's own password and a TOTP or recovery code (:mod:`flask_idp.console.views_signin`),
and is an admin when their employee has an admin account. Every form carries the CSRF token
of the sign-in pages; every action is a service method, so the role checks, validation and
audit are those of the CLI and the API. Sensitive actions ask for a sign-in within the last minutes
(:func:`idp.admin.access.require_recent_sign_in`); the page sends the admin to sign in again
and back. Templates live in ``templates/console/``, apart from the sign-in pages.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, g, make_response, redirect, render_template, request

from flask_idp.api import services
from flask_idp.web import check_csrf, csrf_token, current_context, runtime
from idp.admin.access import (
    REAUTH_MAX_AGE,
    Actor,
    ReauthenticationRequired,
    require_recent_sign_in,
)
from idp.errors import AccessDenied

bp = Blueprint("console", __name__, url_prefix="/console")
NOTICES = {
    "created": "The employee was added.",
    "saved": "The changes were saved.",
    "disabled": "The employee was disabled; their sessions ended.",
    "enabled": "The employee was enabled.",
    "deleted": "The employee was deleted.",
    "revoked": "The passkey was revoked.",
    "ended": "The session(s) ended.",
    "unlocked": "The password lock was lifted.",
    "ws_status": "The workstation's status was changed.",
    "ws_locked": "The lock was sent to the workstation.",
    "added": "It was added.",
    "alarm_on": "The alarm is on: every connected workstation was told to lock.",
    "alarm_off": "The alarm was lifted.",
    "app_disabled": "The authenticator app was disabled.",
    "app_enabled": "The authenticator app was enabled.",
    "app_removed": "The authenticator app was removed.",
    "totp_removed": "The one-time code set-up was removed.",
    "deleted_it": "It was deleted.",
    "keys_imported": "The keys were imported as ready.",
    "key_cancelled": "The assignment was cancelled; the key is ready again.",
    "key_deactivated": "The key was deactivated; it is wiped at its next connection.",
    "key_compromised": "The key was marked compromised: every connection is refused.",
    "account_primary": "The account is now the one for Windows logon.",
    "account_delete": "The account was deleted (from the key at its next connection).",
}


#: the sign-in pages, the only console pages without a signed-in admin
_PUBLIC = frozenset({"console.signin", "console.signin_passkey", "console.signin_password"})


class NotAnAdmin(AccessDenied):
    error = "not_an_admin"


def actor() -> Actor:
    found: Actor = g.console_actor
    return found


def page(template: str, status: int = 200, **values: object) -> Response:
    html = render_template(
        f"console/{template}",
        actor=actor(),
        csrf=csrf_token(),
        notice=NOTICES.get(request.args.get("done", "")),
        **values,
    )
    return make_response(html, status)


def sign_in_again(next_path: str) -> Response:
    return make_response(redirect(f"/console/signin?next={quote(next_path)}", code=303))


def sensitive() -> None:
    """Raise :class:`ReauthenticationRequired` unless the admin signed in moments ago."""
    require_recent_sign_in(actor(), now=runtime().now(), max_age=REAUTH_MAX_AGE)


def posted() -> None:
    check_csrf(request.form.get("csrf"))


def done(path: str, what: str) -> Response:
    """After an action: back to ``path`` with the notice ``what`` (303, so a reload is a GET)."""
    return make_response(redirect(f"{path}?done={what}", code=303))


@bp.before_request
def _require_admin() -> Response | None:
    if request.endpoint in _PUBLIC:
        return None
    ctx = current_context()
    if ctx is None:
        return sign_in_again(request.path if request.method == "GET" else "/console")
    found = services().accounts.actor_for_employee(ctx.employee_id, auth_time=ctx.auth_time)
    if found is None:
        raise NotAnAdmin("you are signed in, but your account is not an admin of this IdP")
    g.console_actor = found
    return None


@bp.errorhandler(ReauthenticationRequired)
def _reauthenticate(exc: ReauthenticationRequired) -> Response:
    # back to the page the action was on (a POST to …/<action>), after a fresh sign-in
    back = request.path.rsplit("/", 1)[0] if request.method == "POST" else request.path
    return sign_in_again(back)


def _load_views() -> None:
    from flask_idp.console import (  # noqa: F401
        views_audit,
        views_backup,
        views_employees,
        views_keys,
        views_keys_accounts,
        views_organisation,
        views_signin,
        views_sync_jobs,
        views_workstation_audit,
        views_workstations,
    )


_load_views()

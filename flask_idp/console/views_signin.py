"""The console's sign-in page: a passkey (the core sign-in flow) or the admin password plus a
TOTP or recovery code (:func:`idp.admin.signin.sign_in`). Both end in a session of the
admin's employee; every password attempt is audited, refused or not."""

from __future__ import annotations

from flask import Response, make_response, redirect, render_template, request

from flask_idp.api import services
from flask_idp.console import bp
from flask_idp.flows import browser
from flask_idp.web import check_csrf, client_ip, csrf_token, runtime, set_session_cookie
from idp.admin.signin import AdminSignIn, AdminSignInRejected, sign_in
from idp.audit import AuditKind, Outcome
from idp.errors import IdpError
from idp.flows.parking import LoginTicket

#: the form's fields are small; a bigger field is refused before anything is hashed
_MAX_FIELD = 1024


def safe_next(value: str | None) -> str:
    """Only a console path (no open redirect through ``next``)."""
    path = value or "/console"
    if not path.startswith("/console") or "//" in path or "\\" in path or len(path) > 512:
        return "/console"
    return path


def _page(*, next_path: str, status: int = 200, error: str = "", username: str = "") -> Response:
    html = render_template(
        "console/signin.html", csrf=csrf_token(), next=next_path, error=error, username=username
    )
    response = make_response(html, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/signin")
def signin() -> Response:
    return _page(next_path=safe_next(request.args.get("next")))


@bp.get("/signin/passkey")
def signin_passkey() -> Response:
    """Start the core sign-in flow with a ticket that resumes at the console page asked for."""
    ticket = LoginTicket(
        resume_url=safe_next(request.args.get("next")),
        relying_party="console",
        factors=("passkey",),
        require_user_verification=True,
        login_hint=None,
        browser=browser().binding,
        display_name="the admin console",
    )
    handle = runtime().tickets.issue(ticket)
    return make_response(redirect(f"/login?ticket={handle}", code=303))


@bp.post("/signin")
def signin_password() -> Response:
    form = request.form
    next_path = safe_next(form.get("next"))
    username = form.get("username", "")[:256]
    check_csrf(form.get("csrf"))
    try:
        if any(len(form.get(f, "")) > _MAX_FIELD for f in ("username", "password", "code")):
            raise AdminSignInRejected("field_too_long")
        done = sign_in(
            stores=services().signin, username=username, password=form.get("password", ""),
            code=form.get("code", ""), client_ip=client_ip(), now=runtime().now(),
        )  # fmt: skip
    except IdpError as exc:
        _audit_failure(username, exc)
        return _page(next_path=next_path, status=exc.status, error=exc.description,
                     username=username)  # fmt: skip
    return _signed_in(done, next_path)


def _signed_in(done: AdminSignIn, next_path: str) -> Response:
    rt = runtime()
    ctx = rt.sessions.create(employee_id=done.employee.id, now=rt.now(), factors=done.factors)
    recovery = done.factors[1].credential_id.startswith("admin-recovery:")
    rt.audit.append_event(
        kind=AuditKind.ADMIN_LOGIN_SUCCESS, at=rt.now(), actor=f"admin:{done.employee.username}",
        employee_id=done.employee.id, outcome=Outcome.SUCCESS, relying_party="console",
        details={"method": "password+recovery_code" if recovery else "password+totp",
                 "recovery_codes_left": str(done.recovery_codes_left)},
    )  # fmt: skip
    response = make_response(redirect(next_path, code=303))
    set_session_cookie(response, ctx)
    return response


def _audit_failure(username: str, exc: IdpError) -> None:
    rt = runtime()
    details = {"username": username[:128], "error": exc.error}
    if isinstance(exc, AdminSignInRejected) and exc.locked_until is not None:
        details["locked_until"] = exc.locked_until.isoformat()
    rt.audit.append_event(
        kind=AuditKind.ADMIN_LOGIN_FAILURE, at=rt.now(), actor="anonymous",
        outcome=Outcome.FAILURE, relying_party="console",
        reason=exc.why if isinstance(exc, AdminSignInRejected) else exc.error, details=details,
    )  # fmt: skip

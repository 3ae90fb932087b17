"""HTML pages: sign-in, enrolment (first passkey), account, sign-out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, Response, make_response, redirect, render_template, request

from flask_idp.blueprints.authenticator_pages import (
    authenticator_account_values,
    authenticator_login_values,
)
from flask_idp.flows import browser, flows, send
from flask_idp.web import check_csrf, clear_session_cookie, csrf_token, runtime
from idp.audit import AuditKind, Outcome
from idp.directory.enrolment import EnrolmentError
from idp.directory.model import SsoMode
from idp.errors import Conflict, NotFound
from idp.flows.logout import Origin
from idp.flows.parking import SignInExpired

bp = Blueprint("pages", __name__)


def _wrong_host() -> Response | None:
    """A passkey made for the RP ID works only there: say which address to use."""
    rp_id = runtime().config.webauthn.rp_id
    host = (urlsplit(f"//{request.host}").hostname or "").lower()
    if host == rp_id or host.endswith("." + rp_id):
        return None
    origin = runtime().config.webauthn.origins[0]
    html = render_template("wrong_host.html", host=host, origin=origin)
    return make_response(html, 400)


@bp.get("/login")
def login() -> Response:
    wrong = _wrong_host()
    if wrong is not None:
        return wrong
    here = browser()
    handle = request.args.get("ticket")
    try:
        ticket = flows().steps.ticket(handle, browser=here)
    except SignInExpired:
        if here.session is None:
            raise
        # Back after a finished sign-in: the ticket was used; say so instead of an error.
        return send(flows().engine.signed_in_page())
    return make_response(
        render_template(
            "login.html",
            ticket=handle or "",
            relying_party=(ticket.display_name or ticket.relying_party) if ticket else None,
            login_hint=ticket.login_hint if ticket else "",
            cancel_url=ticket.cancel_url if ticket else None,
            notice=ticket.notice if ticket else None,
            password_first=bool(ticket and ticket.login_hint and _uses_password(ticket.login_hint)),
            csrf=csrf_token(),
            **authenticator_login_values(ticket),
        )
    )


def _uses_password(username: str) -> bool:
    employees = runtime().employees
    employee = employees.get_by_username(username) or employees.get_by_email(username)
    return employee is not None and employee.sso_mode is SsoMode.TWO_FACTOR


@bp.get("/enrol/<token>")
def enrol(token: str) -> Response:
    wrong = _wrong_host()
    if wrong is not None:
        return wrong
    rt = runtime()
    try:
        employee_id = rt.enrolment.peek(token, now=rt.now()).employee_id
    except EnrolmentError as exc:
        html = render_template(
            "enrol_invalid.html", reason=exc.description, error=exc.error, error_id=exc.error_id
        )
        return make_response(html, exc.status)
    employee = rt.employees.get(employee_id)
    if employee is None:
        raise NotFound("this enrolment link belongs to an account that no longer exists")
    return make_response(
        render_template(
            "enrol.html",
            token=token,
            employee=employee,
            csrf=csrf_token(),
            min_length=rt.config.passwords.min_length,
        )
    )


@bp.get("/")
def account() -> Response:
    rt, here = runtime(), browser()
    ctx = here.session
    if ctx is None:
        return make_response(redirect("/login", code=303))
    employee = rt.employees.get(ctx.employee_id)
    if employee is None:
        response = make_response(redirect("/login", code=303))
        clear_session_cookie(response)
        return response
    saml = rt.protocols.saml
    apps = sorted(
        (sp.name, sp.entity_id)
        for sp in (saml.service_providers.values() if saml is not None else ())
        if sp.allow_idp_initiated
    )
    recent = (rt.now() - ctx.auth_time).total_seconds() <= 600
    return make_response(
        render_template(
            "account.html",
            employee=employee,
            context=ctx,
            passkeys=rt.passkeys.list_for_employee(employee.id),
            apps=apps,
            recent_sign_in=recent,
            notice=_NOTICES.get(request.args.get("done", "")),
            csrf=csrf_token(),
            **authenticator_account_values(employee.id),
        )
    )


_NOTICES = {
    "removed": "The passkey was removed.",
    "removed-app": "The authenticator app was removed.",
    "removed-totp": "One-time codes were removed.",
}


@bp.post("/passkeys/remove")
def remove_passkey() -> Response:
    """Remove one of the signed-in employee's passkeys, after the page asked to confirm.

    Not the last one: that would lock them out; an administrator can, with a new enrolment
    link at hand.
    """
    check_csrf(request.form.get("csrf"))
    rt = runtime()
    employee_id = flows().registration.require_recent_sign_in(
        browser(), action="removing a passkey"
    )
    credential_id = request.form.get("credential_id", "")
    owned = rt.passkeys.list_for_employee(employee_id)
    chosen = [p for p in owned if p.credential_id == credential_id]
    if not chosen:
        raise NotFound("no such passkey on your account")
    if len(owned) == 1:
        raise Conflict("this is your only passkey; add another one before removing it")
    if request.form.get("confirm") != "yes":
        return make_response(
            render_template("remove_passkey.html", passkey=chosen[0], csrf=csrf_token())
        )
    rt.passkeys.delete(credential_id, expected_employee_id=employee_id)
    rt.audit.append_event(
        kind=AuditKind.PASSKEY_REMOVED,
        at=rt.now(),
        actor=employee_id,
        employee_id=employee_id,
        factor="passkey",
        outcome=Outcome.SUCCESS,
        details={"credential_id": credential_id},
    )
    return make_response(redirect("/?done=removed", code=303))


@bp.post("/logout")
def logout() -> Response:
    check_csrf(request.form.get("csrf"))
    return send(flows().logout.end(browser=browser(), origin=Origin("idp")))

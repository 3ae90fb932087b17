"""HTML pages: sign-in, enrolment (first passkey), account, sign-out."""

from __future__ import annotations

from flask import Blueprint, Response, make_response, redirect, render_template, request

from flask_idp.blueprints.passkey import REGISTRATION_REAUTH_SECONDS
from flask_idp.login import load_ticket
from flask_idp.web import (
    check_csrf,
    clear_session_cookie,
    csrf_token,
    current_context,
    runtime,
)
from idp.audit import AuditKind, Outcome
from idp.errors import Conflict, NotFound, Unauthorized

bp = Blueprint("pages", __name__)


@bp.get("/login")
def login() -> Response:
    ticket_handle = request.args.get("ticket")
    ticket = load_ticket(ticket_handle)
    return make_response(
        render_template(
            "login.html",
            ticket=ticket_handle or "",
            relying_party=(ticket.display_name or ticket.relying_party) if ticket else None,
            login_hint=ticket.login_hint if ticket else "",
            csrf=csrf_token(),
        )
    )


@bp.get("/enrol/<token>")
def enrol(token: str) -> Response:
    rt = runtime()
    employee_id = rt.enrolment.peek(token, now=rt.now()).employee_id
    employee = rt.employees.get(employee_id)
    if employee is None:
        raise NotFound("this enrolment link belongs to an account that no longer exists")
    return make_response(
        render_template("enrol.html", token=token, employee=employee, csrf=csrf_token())
    )


@bp.get("/")
def account() -> Response:
    rt = runtime()
    ctx = current_context()
    if ctx is None:
        return make_response(redirect("/login", code=303))
    employee = rt.employees.get(ctx.employee_id)
    if employee is None:
        response = make_response(redirect("/login", code=303))
        clear_session_cookie(response)
        return response
    saml = rt.protocols.get("saml")
    apps = sorted(
        (sp.name, sp.entity_id)
        for sp in (saml.service_providers.values() if saml is not None else ())
        if sp.allow_idp_initiated
    )
    return make_response(
        render_template(
            "account.html",
            employee=employee,
            context=ctx,
            passkeys=rt.passkeys.list_for_employee(employee.id),
            apps=apps,
            csrf=csrf_token(),
        )
    )


@bp.post("/passkeys/remove")
def remove_passkey() -> Response:
    """Remove one of the signed-in employee's passkeys (not the last one: that would lock
    them out; an administrator can, with a new enrolment link at hand)."""
    check_csrf(request.form.get("csrf"))
    rt = runtime()
    ctx = current_context()
    if ctx is None:
        raise Unauthorized("sign in first")
    if (rt.now() - ctx.auth_time).total_seconds() > REGISTRATION_REAUTH_SECONDS:
        raise Unauthorized("sign in again (within 10 minutes) before removing a passkey")
    credential_id = request.form.get("credential_id", "")
    owned = rt.passkeys.list_for_employee(ctx.employee_id)
    if not any(p.credential_id == credential_id for p in owned):
        raise NotFound("no such passkey on your account")
    if len(owned) == 1:
        raise Conflict("this is your only passkey; add another one before removing it")
    rt.passkeys.delete(credential_id, expected_employee_id=ctx.employee_id)
    rt.audit.append_event(
        kind=AuditKind.PASSKEY_REMOVED,
        at=rt.now(),
        actor=ctx.employee_id,
        employee_id=ctx.employee_id,
        factor="passkey",
        outcome=Outcome.SUCCESS,
        details={"credential_id": credential_id},
    )
    return make_response(redirect("/", code=303))


@bp.post("/logout")
def logout() -> Response:
    check_csrf(request.form.get("csrf"))
    rt = runtime()
    ctx = current_context()
    response = make_response(render_template("signed_out.html"))
    if ctx is not None:
        rt.sessions.end(ctx.session_id)
        rt.audit.append_event(
            kind=AuditKind.SESSION_ENDED,
            at=rt.now(),
            actor=ctx.employee_id,
            employee_id=ctx.employee_id,
            outcome=Outcome.SUCCESS,
        )
    clear_session_cookie(response)
    return response

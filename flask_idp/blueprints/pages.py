"""HTML pages: sign-in, enrolment (first passkey), account, sign-out."""

from __future__ import annotations

from flask import Blueprint, Response, make_response, redirect, render_template, request

from flask_idp.login import load_ticket
from flask_idp.web import (
    check_csrf,
    clear_session_cookie,
    csrf_token,
    current_context,
    runtime,
)
from idp.audit import AuditKind, Outcome
from idp.errors import NotFound

bp = Blueprint("pages", __name__)


@bp.get("/login")
def login() -> Response:
    ticket_handle = request.args.get("ticket")
    ticket = load_ticket(ticket_handle)
    return make_response(
        render_template(
            "login.html",
            ticket=ticket_handle or "",
            relying_party=ticket.relying_party if ticket else None,
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
    return make_response(
        render_template(
            "account.html",
            employee=employee,
            context=ctx,
            passkeys=rt.passkeys.list_for_employee(employee.id),
            csrf=csrf_token(),
        )
    )


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

"""The authenticator app and TOTP over HTTP: the sign-in page's push and code steps, adding
an app or TOTP (enrolment link or account page), removing them, and the app-facing API.

Each endpoint only translates HTTP: the steps are :mod:`idp.flows.push_step`,
:mod:`idp.flows.totp_step`, :mod:`idp.flows.app_enrolment`; the app API is
:mod:`idp.flows.device_api` (device-signed requests, no cookies, no CSRF).
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, redirect, render_template, request

from flask_idp.flows import browser, flows, send
from flask_idp.web import check_csrf, csrf_token, json_body, runtime
from idp.admin.devices import remove_device, remove_totp
from idp.errors import InvalidRequest, NotFound, RequestTooLarge
from idp.factors.authenticator import enrolment, wire
from idp.flows.device_api import SignedRequest
from idp.flows.push_step import Requester
from idp.workstations.offline_revocations import OfflineRevocations

bp = Blueprint("authenticator", __name__)


def _requester() -> Requester:
    header = runtime().config.authenticator.location_header
    location = request.headers.get(header) if header else None
    return Requester(user_agent=request.user_agent.string[:256], location=location)


@bp.post("/push/login/start")
def push_start() -> Response:
    return send(flows().push.begin(json_body(), browser=browser(), requester=_requester()))


@bp.post("/push/login/poll")
def push_poll() -> Response:
    return send(flows().push.poll(json_body(), browser=browser()))


@bp.post("/totp/login/verify")
def totp_verify() -> Response:
    return send(flows().totp.finish(json_body(), browser=browser()))


@bp.post("/authenticator/enrol/start")
def app_enrol_start() -> Response:
    return send(flows().app_enrolment.app_start(json_body(), browser=browser()))


@bp.post("/authenticator/enrol/status")
def app_enrol_status() -> Response:
    return send(flows().app_enrolment.app_status(json_body()))


@bp.get("/authenticator/enrol/qr.<kind>")
def app_enrol_qr(kind: str) -> Response:
    if kind not in ("png", "svg"):
        raise NotFound("the QR code is served as qr.png or qr.svg")
    invite = flows().app_enrolment.invite(request.args.get("token", ""))
    if kind == "png":
        response = make_response(enrolment.qr_png(invite.uri()))
        response.mimetype = "image/png"
    else:
        response = make_response(enrolment.qr_svg(invite.uri()))
        response.mimetype = "image/svg+xml"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/totp/enrol/start")
def totp_enrol_start() -> Response:
    return send(flows().app_enrolment.totp_start(json_body(), browser=browser()))


@bp.post("/totp/enrol/confirm")
def totp_enrol_confirm() -> Response:
    return send(flows().app_enrolment.totp_confirm(json_body(), browser=browser()))


@bp.post("/authenticator/remove")
def remove_own_factor() -> Response:
    """The account page removes the employee's app or TOTP, after asking to confirm."""
    check_csrf(request.form.get("csrf"))
    rt = runtime()
    employee_id = flows().registration.require_recent_sign_in(
        browser(), action="removing a sign-in method"
    )
    employee = rt.employees.get(employee_id)
    what = request.form.get("factor", "")
    if employee is None or what not in ("app", "totp"):
        raise InvalidRequest("choose the authenticator app or the one-time codes to remove")
    if request.form.get("confirm") != "yes":
        label = "your authenticator app" if what == "app" else "your one-time codes (TOTP)"
        return make_response(
            render_template("remove_factor.html", factor=what, label=label, csrf=csrf_token())
        )
    common = {"employees": rt.employees, "audit": rt.audit, "username": employee.username,
              "actor": employee.id, "now": rt.now()}  # fmt: skip
    if what == "app":
        revocations = OfflineRevocations(rt.db, rt.ephemeral)
        remove_device(devices=rt.authenticator.devices, revocations=revocations, **common)  # type: ignore[arg-type]
    else:
        remove_totp(totp=rt.authenticator.totp, **common)  # type: ignore[arg-type]
    return make_response(redirect(f"/?done=removed-{what}", code=303))


# -- the app-facing API (device-signed) ------------------------------------------------------


def _signed() -> SignedRequest:
    if request.content_length is not None and request.content_length > wire.MAX_BODY:
        raise RequestTooLarge(f"request body is larger than {wire.MAX_BODY} bytes")
    body = request.get_data(cache=False)
    if len(body) > wire.MAX_BODY:
        raise RequestTooLarge(f"request body is larger than {wire.MAX_BODY} bytes")
    headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-hideez-")}
    return SignedRequest(method=request.method, path=request.path, headers=headers, body=body)


@bp.post(wire.REGISTER_PATH)
def api_register() -> Response:
    return send(flows().device_api.register(_signed()))


@bp.get(wire.CHALLENGES_PATH)
def api_challenges() -> Response:
    return send(flows().device_api.challenges(_signed()))


@bp.post(wire.CHALLENGES_PATH + "/<transaction_id>/answer")
def api_answer(transaction_id: str) -> Response:
    return send(flows().device_api.answer(transaction_id, _signed()))

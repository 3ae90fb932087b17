"""Passkey JSON endpoints: registration (enrolment link or signed-in) and sign-in.

Each endpoint only translates HTTP to the core: :mod:`idp.flows.registration` and the passkey
factor step :mod:`idp.flows.passkey_step`.
"""

from __future__ import annotations

from flask import Blueprint, Response

from flask_idp.flows import browser, flows, send
from flask_idp.web import json_body

bp = Blueprint("passkey", __name__, url_prefix="/passkey")


@bp.post("/register/options")
def register_options() -> Response:
    return send(flows().registration.options(json_body(), browser=browser()))


@bp.post("/register/verify")
def register_verify() -> Response:
    return send(flows().registration.verify(json_body(), browser=browser()))


@bp.post("/register/report")
def register_report() -> Response:
    return send(flows().registration.report_refusal(json_body(), browser=browser()))


@bp.post("/login/options")
def login_options() -> Response:
    return send(flows().passkey.begin(json_body(), browser=browser()))


@bp.post("/login/verify")
def login_verify() -> Response:
    return send(flows().passkey.finish(json_body(), browser=browser()))


@bp.post("/login/report")
def login_report() -> Response:
    return send(flows().passkey.report_refusal(json_body(), browser=browser()))

"""Password JSON endpoints of the two-factor SSO mode: a thin adapter over
:mod:`idp.flows.password_step`."""

from __future__ import annotations

from flask import Blueprint, Response

from flask_idp.flows import browser, flows, send
from flask_idp.web import json_body

bp = Blueprint("password", __name__, url_prefix="/password")


@bp.post("/login/verify")
def login_verify() -> Response:
    return send(flows().password.finish(json_body(), browser=browser()))


@bp.post("/set")
def set_by_link() -> Response:
    return send(flows().password.set_by_link(json_body(), browser=browser()))

"""PC login by phone over HTTP: the app's device-signed ``pc-login`` and ``pc-lock`` requests
(:mod:`idp.flows.pc_login`). Only translation: no cookies, no CSRF (the device signs)."""

from __future__ import annotations

from flask import Blueprint, Response

from flask_idp.blueprints.authenticator import _signed
from flask_idp.flows import flows, send
from idp.flows.pc_login import LOCK_PATH, LOGIN_PATH

bp = Blueprint("pc_login", __name__)


@bp.post(LOGIN_PATH)
def api_pc_login() -> Response:
    return send(flows().pc_login.login(_signed()))


@bp.post(LOCK_PATH)
def api_pc_lock() -> Response:
    return send(flows().pc_login.lock(_signed()))

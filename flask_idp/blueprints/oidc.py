"""OpenID Connect endpoints and the Entra EAM entry: a thin adapter over :mod:`idp.oidc`.

``/oidc/authorize`` (GET, POST; Entra's EAM POSTs here too), ``/oidc/authorize/resume`` (back
from the sign-in page), ``/oidc/consent``, ``/oidc/token``, ``/oidc/userinfo``, ``/oidc/jwks``,
``/oidc/logout`` and discovery at ``<issuer path>/.well-known/openid-configuration``. The
parsed request waits in the short-lived store while the user signs in.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, request
from flask.blueprints import BlueprintSetupState

from flask_idp.flows import browser, confirm_logout, flows, send
from flask_idp.web import check_csrf, runtime
from idp.errors import NotFound
from idp.flows.logout import Origin
from idp.flows.oidc import OidcSignIn
from idp.oidc.authorize import one
from idp.oidc.clients import ClientCredentials
from idp.oidc.errors import OidcError
from idp.oidc.logout import parse_logout_request
from idp.oidc.provider import bearer_token
from idp.oidc.runtime import OidcRuntime
from idp.oidc.tokens import subject_for

bp = Blueprint("oidc", __name__, url_prefix="/oidc")

_PENDING = "oidc:pending:"
_EAM_PENDING = "oidc:eam-pending:"
_CONSENT_GIVEN = "oidc:consent-given:"

log = logging.getLogger(__name__)


def _oidc() -> OidcRuntime:
    oidc = runtime().protocols.oidc
    assert oidc is not None
    return oidc


def _params() -> dict[str, list[str]]:
    source = request.form if request.method == "POST" else request.args
    return source.to_dict(flat=False)


def _json(body: Any, status: int = 200, **headers: str) -> Response:
    data = json.dumps(body, separators=(",", ":")).encode()
    response = Response(data, status=status, mimetype="application/json")
    response.headers["Content-Length"] = str(len(data))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    for name, value in headers.items():
        response.headers[name.replace("_", "-")] = value
    return response


def _json_errors(realm: str) -> Callable[[Callable[[], Response]], Callable[[], Response]]:
    """Token and userinfo errors are JSON with RFC 6749 §5.2 / RFC 6750 §3 headers."""

    def wrap(view: Callable[[], Response]) -> Callable[[], Response]:
        @functools.wraps(view)
        def handler() -> Response:
            try:
                return view()
            except OidcError as exc:
                log.info("%s refused: %s (%s) id=%s", request.path, exc.error, exc.description,
                         exc.error_id)  # fmt: skip
                body = exc.to_dict()  # + error_id, to find it in the log
                if exc.status != 401:
                    return _json(body, exc.status)
                challenge = f'{realm} realm="hideez-idp"'
                if realm == "Bearer":
                    challenge += f', error="{exc.error}"'
                return _json(body, 401, WWW_Authenticate=challenge)

        return handler

    return wrap


# -- discovery and keys ------------------------------------------------------------------------
@bp.record
def _discovery_route(state: BlueprintSetupState) -> None:
    # Discovery lives at the issuer's path (OIDC Discovery §4), which only the config knows.
    oidc: OidcRuntime = state.app.extensions["hideez_idp"].protocols.oidc
    path = urlsplit(oidc.settings.issuer).path.rstrip("/") + "/.well-known/openid-configuration"
    state.app.add_url_rule(path, "oidc_discovery", _discovery, methods=["GET"])


def _discovery() -> Response:
    response = _json(_oidc().provider.discovery())
    response.headers["Cache-Control"] = "public, max-age=3600"
    del response.headers["Pragma"]
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get("/jwks")
def jwks() -> Response:
    response = _json(_oidc().provider.jwks())
    response.headers["Cache-Control"] = "public, max-age=3600"
    del response.headers["Pragma"]
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# -- authorization -----------------------------------------------------------------------------
def _flow() -> OidcSignIn:
    flow = flows().oidc
    assert flow is not None
    return flow


@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    params, eam = _params(), flows().eam
    if eam is not None and eam.handles(params):
        return send(eam.start(params, browser=browser()))
    return send(_flow().authorize(params, browser=browser()))


@bp.get("/authorize/resume")
def resume() -> Response:
    return send(
        _flow().resume(
            request.args.get("k", ""), browser=browser(), cancel=request.args.get("cancel") == "1"
        )
    )


@bp.post("/consent")
def consent() -> Response:
    check_csrf(request.form.get("csrf"))
    allow = request.form.get("decision") == "allow"
    return send(_flow().consent(request.form.get("k", ""), allow=allow, browser=browser()))


@bp.get("/eam/resume")
def eam_resume() -> Response:
    eam = flows().eam
    if eam is None:
        raise NotFound("the Entra external authentication method is not configured")
    return send(
        eam.resume(
            request.args.get("k", ""), browser=browser(), cancel=request.args.get("cancel") == "1"
        )
    )


# -- token and userinfo ------------------------------------------------------------------------
@bp.post("/token")
@_json_errors("Basic")
def token() -> Response:
    rt = runtime()
    form = request.form.to_dict(flat=False)
    credentials = ClientCredentials(
        authorization=request.headers.get("Authorization"),
        client_id=one(form, "client_id", redirectable=False),
        client_secret=one(form, "client_secret", redirectable=False),
        client_assertion_type=one(form, "client_assertion_type", redirectable=False),
        client_assertion=one(form, "client_assertion", redirectable=False),
    )
    body = _oidc().provider.token(form, credentials=credentials, now=rt.now())
    return _json(body)


@bp.route("/userinfo", methods=["GET", "POST"])
@_json_errors("Bearer")
def userinfo() -> Response:
    form = request.form.to_dict(flat=False) if request.method == "POST" else {}
    access_token = bearer_token(authorization=request.headers.get("Authorization"), form=form,
                                query=request.args.to_dict(flat=False))  # fmt: skip
    return _json(_oidc().provider.userinfo(access_token=access_token))


# -- RP-initiated logout -----------------------------------------------------------------------
@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    oidc, here = _oidc(), browser()
    parsed = parse_logout_request(
        _params(),
        registry=oidc.settings.clients,
        issuer=oidc.provider.issuer,
        own_keys=oidc.provider.keys.lookup,
    )
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes"
    if confirmed:
        check_csrf(request.form.get("csrf"))
    if here.session is not None and not confirmed:
        sub = None
        if parsed.client is not None:
            sub = subject_for(
                parsed.client, here.session.employee_id, salt=oidc.settings.pairwise_salt
            )
        if parsed.hinted_subject is None or parsed.hinted_subject != sub:
            # Without a matching hint, a cross-site link could sign the user out: ask first.
            return send(confirm_logout("/oidc/logout"))
    return send(
        flows().logout.end(browser=here, origin=Origin("oidc", continue_to=parsed.location()))
    )

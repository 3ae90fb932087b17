"""SAML 2.0 endpoints: a thin adapter over :mod:`idp.flows.saml` and :mod:`idp.flows.logout`.

``/saml/login`` (HTTP-Redirect and HTTP-POST AuthnRequests; IdP-initiated with
``?sp=<entity id>``), ``/saml/resume`` (back from the sign-in page), ``/saml/logout`` and
``/saml/metadata``.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, request

from flask_idp.flows import browser, flows, send
from flask_idp.web import runtime
from idp.errors import InvalidRequest
from idp.flows.logout import Origin
from idp.flows.saml import PeekReplayCache, same_site_hop
from idp.saml.bindings import decode_post, decode_redirect
from idp.saml.logout import parse_logout_request
from idp.saml.runtime import SamlRuntime

bp = Blueprint("saml", __name__, url_prefix="/saml")


def _saml() -> SamlRuntime:
    saml = runtime().protocols.saml
    assert saml is not None
    return saml


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    flow = flows().saml
    assert flow is not None
    return send(
        flow.receive(
            browser=browser(),
            method=request.method,
            query_string=request.query_string.decode("latin-1"),
            form=request.form.to_dict(),
            args=request.args.to_dict(),
        )
    )


@bp.get("/resume")
def resume() -> Response:
    flow = flows().saml
    assert flow is not None
    return send(
        flow.resume(
            request.args.get("k", ""), browser=browser(), cancel=request.args.get("cancel") == "1"
        )
    )


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    rt, saml, here = runtime(), _saml(), browser()
    max_bytes = saml.settings.max_request_bytes
    if request.method == "POST":
        message = decode_post(request.form.to_dict(), max_bytes=max_bytes)
    elif "SAMLRequest" in request.args or "SAMLResponse" in request.args:
        message = decode_redirect(request.query_string.decode("latin-1"), max_bytes=max_bytes)
    else:
        raise InvalidRequest("expected a SAMLRequest or SAMLResponse (Redirect or POST binding)")
    if message.kind == "SAMLResponse":
        return send(flows().logout.on_saml_response(message))
    withheld = request.method == "POST" and here.cookies_withheld
    # Without the session cookie the logout would end nothing, yet answer Success: hop first.
    info = parse_logout_request(
        message=message,
        settings=saml.settings,
        service_providers=saml.service_providers,
        replay_cache=PeekReplayCache(rt) if withheld else rt.ephemeral,
        now=rt.now(),
    )
    if withheld:
        return send(same_site_hop(message, url=saml.settings.slo_url, target_name=info.sp.name))
    return send(flows().logout.end(browser=here, origin=Origin("saml", saml_request=info)))


@bp.get("/metadata")
def metadata() -> Response:
    rt = runtime()
    response = make_response(_saml().metadata(now=rt.now(), keys=rt.keys))
    response.mimetype = "application/samlmetadata+xml"
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Content-Disposition"] = 'inline; filename="idp-metadata.xml"'
    return response

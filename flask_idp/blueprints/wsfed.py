"""WS-Federation passive requestor endpoints: a thin adapter over :mod:`idp.flows.wsfed`.

``/wsfed`` (``wsignin1.0``, ``wsignout1.0``, ``wsignoutcleanup1.0``; GET or POST),
``/wsfed/resume`` (back from the sign-in page) and the federation metadata at
``/FederationMetadata/2007-06/FederationMetadata.xml``.
"""

from __future__ import annotations

from flask import Blueprint, Response, make_response, request

from flask_idp.flows import browser, confirm_logout, flows, send
from flask_idp.web import check_csrf, runtime
from idp.flows.logout import Origin
from idp.flows.wsfed import WsFedSignIn
from idp.wsfed.requests import SignOutRequest, parse_request
from idp.wsfed.runtime import WsFedRuntime

bp = Blueprint("wsfed", __name__)


def _wsfed() -> WsFedRuntime:
    wsfed = runtime().protocols.wsfed
    assert wsfed is not None
    return wsfed


def _flow() -> WsFedSignIn:
    flow = flows().wsfed
    assert flow is not None
    return flow


@bp.after_request
def _no_store(response: Response) -> Response:
    # Tokens, sign-out pages and errors must never be replayed from a cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/wsfed", methods=["GET", "POST"])
@bp.route("/wsfed/", methods=["GET", "POST"])  # ADFS-style issuer URLs end with a slash
def passive() -> Response:
    rt, params, here = runtime(), _params(), browser()
    parsed = parse_request(params, settings=_wsfed().settings, now=rt.now())
    if not isinstance(parsed, SignOutRequest):
        return send(_flow().sign_in(params, parsed, browser=here))
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes"
    if confirmed:
        check_csrf(request.form.get("csrf"))
    elif here.session is not None and request.headers.get("Sec-Fetch-Site") != "same-origin":
        # Nothing in wsignout1.0 proves which site sent it: a link on any page would end the
        # session (and sign the user out everywhere). Ask first (docs/wsfed.md).
        return send(confirm_logout("/wsfed"))
    origin = Origin("wsfed", continue_to=parsed.reply_url, cleanup_only=parsed.cleanup_only)
    return send(flows().logout.end(browser=here, origin=origin))


@bp.get("/wsfed/resume")
def resume() -> Response:
    return send(
        _flow().resume(
            request.args.get("k", ""), browser=browser(), cancel=request.args.get("cancel") == "1"
        )
    )


@bp.get("/FederationMetadata/2007-06/FederationMetadata.xml")
def metadata() -> Response:
    response = make_response(_wsfed().metadata(now=runtime().now()))
    response.mimetype = "application/xml"
    return response


def _params() -> dict[str, list[str]]:
    """Query and form parameters together; a name in both counts as repeated."""
    merged: dict[str, list[str]] = {}
    sources = (request.args, request.form) if request.method == "POST" else (request.args,)
    for source in sources:
        for name in source:
            if name in ("csrf", "confirm"):
                continue
            merged.setdefault(name, []).extend(source.getlist(name))
    return merged

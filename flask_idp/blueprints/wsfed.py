"""WS-Federation passive requestor endpoints: a thin adapter over :mod:`idp.wsfed`.

``/wsfed`` (``wsignin1.0``, ``wsignout1.0``, ``wsignoutcleanup1.0``; GET or POST),
``/wsfed/resume`` (back from the sign-in page) and the federation metadata at
``/FederationMetadata/2007-06/FederationMetadata.xml``. The pending sign-in's parameters are kept
in the short-lived store while the employee signs in, and parsed again on resume.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets

from flask import Blueprint, Response, make_response, redirect, render_template, request

from flask_idp.login import authenticate, park, pending_request
from flask_idp.web import clear_session_cookie, current_context, runtime
from idp.audit import AuditKind, Outcome
from idp.errors import InvalidRequest, NotFound
from idp.policy import Requirement, Satisfied
from idp.runtime import Runtime
from idp.wsfed.errors import ClaimUnavailable, WsFedError
from idp.wsfed.requests import SignInRequest, SignOutRequest, parse_request
from idp.wsfed.runtime import WsFedRuntime
from idp.wsfed.signout import participant_key, plan_signout
from idp.wsfed.tokens import build_signin_response

bp = Blueprint("wsfed", __name__)

PENDING_TTL = 900
_PENDING = "wsfed-pending:"
_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
_CSP_END = "base-uri 'none'"


def _wsfed() -> WsFedRuntime:
    wsfed: WsFedRuntime = runtime().protocols["wsfed"]
    return wsfed


@bp.after_request
def _no_store(response: Response) -> Response:
    # Tokens, sign-out pages and errors must never be replayed from a cache.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.route("/wsfed", methods=["GET", "POST"])
@bp.route("/wsfed/", methods=["GET", "POST"])  # ADFS-style issuer URLs end with a slash
def passive() -> Response:
    rt, wsfed = runtime(), _wsfed()
    params = _params()
    parsed = parse_request(params, settings=wsfed.settings, now=rt.now())
    if isinstance(parsed, SignOutRequest):
        return _sign_out(rt, wsfed, parsed)
    return _continue(rt, wsfed, parsed, params=params)


@bp.get("/wsfed/resume")
def resume() -> Response:
    rt, wsfed = runtime(), _wsfed()
    key, raw = pending_request(_PENDING)
    data = json.loads(raw)
    received_at = dt.datetime.fromisoformat(data["received_at"])
    # Parsed again against today's settings, as of when it first arrived (wfresh=0 holds).
    parsed = parse_request(data["params"], settings=wsfed.settings, now=received_at)
    if not isinstance(parsed, SignInRequest):
        raise InvalidRequest("the pending request is not a sign-in")
    return _continue(rt, wsfed, parsed, params=data["params"], key=key)


@bp.get("/FederationMetadata/2007-06/FederationMetadata.xml")
def metadata() -> Response:
    rt, wsfed = runtime(), _wsfed()
    response = make_response(wsfed.metadata(now=rt.now()))
    response.mimetype = "application/xml"
    return response


def _params() -> dict[str, list[str]]:
    """Query and form parameters together; a name in both counts as repeated."""
    merged: dict[str, list[str]] = {}
    sources = (request.args, request.form) if request.method == "POST" else (request.args,)
    for source in sources:
        for name in source:
            merged.setdefault(name, []).extend(source.getlist(name))
    return merged


def _continue(
    rt: Runtime,
    wsfed: WsFedRuntime,
    parsed: SignInRequest,
    *,
    params: dict[str, list[str]],
    key: str | None = None,
) -> Response:
    rp = parsed.relying_party
    requirement = Requirement(
        relying_party=rp.name,
        display_name=rp.display_name,
        policy=rt.config.policies.get(rp.policy),
        fresh_after=parsed.received_at if parsed.force_fresh else None,
        max_age=parsed.max_age,
    )
    handle = key or secrets.token_urlsafe(24)
    outcome = authenticate(requirement, resume_url=f"/wsfed/resume?k={handle}")
    if isinstance(outcome, Response):
        pending = {"params": params, "received_at": parsed.received_at.isoformat()}
        park(_PENDING, handle, json.dumps(pending).encode(), ttl=PENDING_TTL)
        return outcome
    if not isinstance(outcome, Satisfied):
        # Not passive and nothing requested: the policy can always be met by signing in.
        raise WsFedError(f"the policy of {rp.name} cannot be satisfied ({type(outcome).__name__})")
    return _answer(rt, wsfed, parsed, outcome)


def _answer(
    rt: Runtime, wsfed: WsFedRuntime, parsed: SignInRequest, decision: Satisfied
) -> Response:
    rp, ctx = parsed.relying_party, decision.context
    employee = rt.directory.get(ctx.employee_id)
    if employee is None or not employee.can_sign_in:
        raise NotFound("the signed-in account no longer exists or is disabled")
    try:
        result = build_signin_response(
            request=parsed,
            employee=employee,
            context=ctx,
            authn_context_class_ref=decision.authn_context_class_ref,
            issuer=wsfed.settings.issuer,
            lifetime=wsfed.settings.lifetime_for(rp),
            signer=wsfed.signer_for(rp),
            now=rt.now(),
        )
    except ClaimUnavailable as exc:
        rt.audit.append_event(
            kind=AuditKind.LOGIN_FAILURE,
            at=rt.now(),
            actor=employee.id,
            employee_id=employee.id,
            relying_party=rp.name,
            outcome=Outcome.FAILURE,
            reason=exc.description[:500],
            details={"protocol": "wsfed", "realm": parsed.realm},
        )
        raise
    rt.sessions.record_participant(ctx.session_id, participant_key(rp))
    rt.audit.append_event_later(
        kind=AuditKind.SSO_ISSUED,
        at=rt.now(),
        actor=employee.id,
        employee_id=employee.id,
        relying_party=rp.name,
        factor=ctx.factors[-1].kind.value if ctx.factors else "session",
        outcome=Outcome.SUCCESS,
        details={"protocol": "wsfed", "realm": parsed.realm, "token": rp.token_type.value},
    )
    html = render_template(
        "autopost.html", action=result.action, fields=result.fields, target_name=rp.name
    )
    response = make_response(html)
    response.headers["Content-Security-Policy"] = _CSP + _CSP_END
    return response


def _sign_out(rt: Runtime, wsfed: WsFedRuntime, parsed: SignOutRequest) -> Response:
    ctx = current_context()
    participants: tuple[str, ...] = ()
    if ctx is not None:
        participants = rt.sessions.participants(ctx.session_id)
        rt.sessions.end(ctx.session_id)
        rt.audit.append_event(
            kind=AuditKind.LOGOUT,
            at=rt.now(),
            actor=ctx.employee_id,
            employee_id=ctx.employee_id,
            outcome=Outcome.SUCCESS,
            details={"protocol": "wsfed", "action": "cleanup" if parsed.cleanup_only else "out"},
        )
    plan = plan_signout(request=parsed, participants=participants, settings=wsfed.settings)
    if not plan.cleanup_urls and plan.continue_to is not None:
        response = make_response(redirect(plan.continue_to, code=303))
    else:
        response = make_response(
            render_template(
                "wsfed_signout.html", cleanup_urls=plan.cleanup_urls, continue_to=plan.continue_to
            )
        )
        # The page loads each RP's cleanup URL as an image, then moves on.
        images = " ".join(("'self'", *plan.cleanup_origins))
        response.headers["Content-Security-Policy"] = f"{_CSP}img-src {images}; {_CSP_END}"
        if plan.continue_to is not None:
            response.headers["Refresh"] = f"3; url={plan.continue_to}"
    clear_session_cookie(response)
    return response

"""OpenID Connect endpoints and the Entra EAM entry: a thin adapter over :mod:`idp.oidc`.

``/oidc/authorize`` (GET, POST; Entra's EAM POSTs here too), ``/oidc/authorize/resume`` (back
from the sign-in page), ``/oidc/consent``, ``/oidc/token``, ``/oidc/userinfo``, ``/oidc/jwks``,
``/oidc/logout`` and discovery at ``<issuer path>/.well-known/openid-configuration``. The
parsed request waits in the short-lived store while the user signs in.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, render_template_string, request
from flask.blueprints import BlueprintSetupState

from flask_idp.login import authenticate, park, pending_request
from flask_idp.web import check_csrf, clear_session_cookie, csrf_token, current_context, runtime
from idp.audit import AuditKind, Outcome
from idp.errors import InvalidRequest
from idp.oidc.authorize import (
    AuthorizationRequest,
    AuthorizationResponse,
    error_response,
    one,
    requirement_for,
)
from idp.oidc.clients import Client, ClientCredentials
from idp.oidc.eam import (
    EamRequest,
    choose_acr,
    choose_amr,
    eam_error_response,
    eam_response,
    identify_eam_client,
    link_employee,
    parse_eam_request,
)
from idp.oidc.errors import (
    AccessDeniedError,
    ConsentRequiredError,
    LoginRequiredError,
    OidcError,
    UnmetAuthenticationRequirementsError,
)
from idp.oidc.logout import parse_logout_request
from idp.oidc.provider import bearer_token
from idp.oidc.runtime import OidcRuntime
from idp.oidc.tokens import session_handle, subject_for
from idp.policy import NeedsLogin, Requirement, Satisfied, Unsatisfiable

bp = Blueprint("oidc", __name__, url_prefix="/oidc")

_PENDING = "oidc:pending:"
_EAM_PENDING = "oidc:eam-pending:"
_CONSENT_GIVEN = "oidc:consent-given:"


def _oidc() -> OidcRuntime:
    oidc: OidcRuntime = runtime().protocols["oidc"]
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
                body = {"error": exc.error, "error_description": exc.description}
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
    oidc: OidcRuntime = state.app.extensions["hideez_idp"].protocols["oidc"]
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
@bp.route("/authorize", methods=["GET", "POST"])
def authorize() -> Response:
    rt, oidc = runtime(), _oidc()
    params = _params()
    eam = oidc.settings.eam
    if eam is not None and (params.get("client_id") or [""])[0] in eam.client_ids:
        return _eam_start(params)
    client, target = oidc.provider.identify(params)
    try:
        parsed = oidc.provider.parse_authorization(params, client=client, target=target,
                                                   now=rt.now())  # fmt: skip
    except OidcError as exc:
        return _deliver(error_response(target, exc, issuer=oidc.provider.issuer))
    return _continue(parsed, secrets.token_urlsafe(24))


@bp.get("/authorize/resume")
def resume() -> Response:
    key, raw = pending_request(_PENDING)
    return _continue(AuthorizationRequest.from_json(raw), key)


def _continue(parsed: AuthorizationRequest, key: str) -> Response:
    rt, oidc = runtime(), _oidc()
    client = oidc.settings.clients.get(parsed.client_id)
    if client is None:
        raise InvalidRequest("the client of this sign-in is no longer registered")
    requirement = requirement_for(
        parsed, policy=oidc.policies.get(client.policy), display_name=client.name
    )
    decision = authenticate(requirement, resume_url=f"/oidc/authorize/resume?k={key}")
    if isinstance(decision, Response):
        park(_PENDING, key, parsed.to_json(), ttl=oidc.settings.pending_ttl)
        return decision
    try:
        satisfied = _satisfied(decision, parsed, client)
        if _needs_consent(parsed, client, satisfied, key):
            park(_PENDING, key, parsed.to_json(), ttl=oidc.settings.pending_ttl)
            return _consent_page(client, parsed, key)
    except OidcError as exc:
        return _deliver(error_response(parsed.target, exc, issuer=oidc.provider.issuer))
    rt.sessions.record_participant(
        satisfied.context.session_id,
        f"oidc:{client.client_id}|{session_handle(satisfied.context.session_id)}",
    )
    ctx = satisfied.context
    rt.audit.append_event_later(
        kind=AuditKind.SSO_ISSUED,
        at=rt.now(),
        actor=ctx.employee_id,
        employee_id=ctx.employee_id,
        relying_party=client.client_id,
        factor=ctx.factors[-1].kind.value if ctx.factors else "session",
        details={"protocol": "oidc", "acr": satisfied.acr, "amr": " ".join(satisfied.amr)},
    )
    return _deliver(oidc.provider.complete_authorization(parsed, satisfied=satisfied))


def _satisfied(
    decision: Satisfied | NeedsLogin | Unsatisfiable, parsed: AuthorizationRequest, client: Client
) -> Satisfied:
    if isinstance(decision, NeedsLogin):
        raise LoginRequiredError("prompt=none, but the user has no session that satisfies it")
    if isinstance(decision, Unsatisfiable):
        raise UnmetAuthenticationRequirementsError(
            f"the essential acr ({', '.join(decision.requested)[:200]}) cannot be met; "
            f"available: {', '.join(decision.available)}"
        )
    employee = runtime().directory.get(decision.context.employee_id)
    if employee is None or not employee.can_sign_in:
        raise AccessDeniedError("this account may not sign in")
    if parsed.hinted_subject is not None:
        sub = subject_for(client, employee.id, salt=_oidc().settings.pairwise_salt)
        if sub != parsed.hinted_subject:
            raise LoginRequiredError("the signed-in user is not the one named by id_token_hint")
    return decision


def _needs_consent(parsed: AuthorizationRequest, client: Client, ok: Satisfied, key: str) -> bool:
    rt = runtime()
    # The marker names the employee who allowed: a resume link passed to someone else must
    # not carry one person's consent over to another's sign-in.
    if rt.ephemeral.take(f"{_CONSENT_GIVEN}{key}:{ok.context.employee_id}") is not None:
        return False
    allowed = _oidc().consents.scopes(employee_id=ok.context.employee_id,
                                      client_id=client.client_id, now=rt.now())  # fmt: skip
    remembered = bool(allowed) and set(parsed.scopes) <= allowed
    if "consent" not in parsed.prompt and (remembered or not client.require_consent):
        return False
    if "none" in parsed.prompt:
        raise ConsentRequiredError("consent is required and prompt=none forbids asking")
    return True


_CONSENT_PAGE = """{% extends "base.html" %}{% block title %}Allow access{% endblock %}
{% block content %}<h1>Allow {{ name }}?</h1>
<p>{{ name }} asks to sign you in and to read: {{ scopes }}.</p>
<form method="post" action="/oidc/consent">
<input type="hidden" name="k" value="{{ key }}"><input type="hidden" name="csrf" value="{{ csrf }}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>{% endblock %}"""


def _consent_page(client: Client, parsed: AuthorizationRequest, key: str) -> Response:
    html = render_template_string(_CONSENT_PAGE, name=client.name, key=key, csrf=csrf_token(),
                                  scopes=", ".join(s for s in parsed.scopes if s != "openid")
                                  or "your identity")  # fmt: skip
    return Response(html, mimetype="text/html")


@bp.post("/consent")
def consent() -> Response:
    check_csrf(request.form.get("csrf"))
    rt, oidc = runtime(), _oidc()
    key, raw = pending_request(_PENDING)
    context = current_context()
    if context is None:
        raise InvalidRequest("this sign-in has expired; go back to the application and start again")
    parsed = AuthorizationRequest.from_json(raw)
    if request.form.get("decision") != "allow":
        denied = AccessDeniedError("the user did not allow access")
        return _deliver(error_response(parsed.target, denied, issuer=oidc.provider.issuer))
    oidc.consents.remember(employee_id=context.employee_id, client_id=parsed.client_id,
                           scopes=parsed.scopes, now=rt.now(),
                           ttl=oidc.settings.lifetimes.consent)  # fmt: skip
    rt.ephemeral.put(f"{_CONSENT_GIVEN}{key}:{context.employee_id}", b"1",
                     ttl=oidc.settings.pending_ttl)  # fmt: skip
    park(_PENDING, key, raw, ttl=oidc.settings.pending_ttl)
    return redirect(f"/oidc/authorize/resume?k={key}", code=303)  # type: ignore[return-value]


def _deliver(answer: AuthorizationResponse) -> Response:
    if answer.response_mode == "form_post":
        html = render_template("autopost.html", action=answer.redirect_uri,
                               fields=list(answer.params),
                               target_name=urlsplit(answer.redirect_uri).hostname)  # fmt: skip
        response = Response(html, mimetype="text/html")
    else:
        response = redirect(answer.location(), code=302)  # type: ignore[assignment]
    response.headers["Cache-Control"] = "no-store"
    return response


# -- Entra External Authentication Method ------------------------------------------------------
def _eam_start(params: dict[str, list[str]]) -> Response:
    rt, oidc = runtime(), _oidc()
    eam = oidc.settings.eam
    assert eam is not None and oidc.entra_jwks is not None
    target = identify_eam_client(params, settings=eam)
    try:
        parsed = parse_eam_request(params, target=target, settings=eam, jwks=oidc.entra_jwks,
                                   now=rt.now())  # fmt: skip
        choose_acr(parsed, settings=eam)
    except OidcError as exc:
        return _deliver(eam_error_response(target, exc))
    return _eam_continue(parsed, secrets.token_urlsafe(24))


@bp.get("/eam/resume")
def eam_resume() -> Response:
    key, raw = pending_request(_EAM_PENDING)
    return _eam_continue(EamRequest.from_json(raw), key)


def _eam_continue(parsed: EamRequest, key: str) -> Response:
    rt, oidc = runtime(), _oidc()
    eam = oidc.settings.eam
    assert eam is not None
    try:
        employee = link_employee(parsed.hint, linking=eam.linking, by_entra_id=oidc.by_entra_id,
                                 by_username=oidc.by_username)  # fmt: skip
        received = dt.datetime.fromtimestamp(parsed.received_at, dt.UTC)
        fresh_after = received - dt.timedelta(seconds=eam.reuse_factor_for)
        requirement = Requirement(
            relying_party=f"entra:{parsed.hint.tid}",
            policy=oidc.policies.get(eam.policy),
            fresh_after=fresh_after,
            login_hint=employee.username,
        )
        decision = authenticate(requirement, resume_url=f"/oidc/eam/resume?k={key}")
        if isinstance(decision, Response):
            park(_EAM_PENDING, key, parsed.to_json(), ttl=oidc.settings.pending_ttl)
            return decision
        if not isinstance(decision, Satisfied):
            raise AccessDeniedError("the sign-in policy for Entra cannot be satisfied")
        if decision.context.employee_id != employee.id:
            raise AccessDeniedError("you signed in as another person than Microsoft's user")
        answer = eam_response(
            parsed,
            keys=oidc.provider.keys,
            issuer=oidc.provider.issuer,
            acr=choose_acr(parsed, settings=eam),
            amr=choose_amr(decision.context, requested=parsed.requested_amr, since=fresh_after),
            auth_time=int(decision.context.auth_time.timestamp()),
            now=rt.now(),
            lifetime=eam.id_token_lifetime,
        )
        _audit_eam(parsed, decision.context.employee_id, None)
    except OidcError as exc:
        answer = eam_error_response(parsed.target, exc)
        _audit_eam(parsed, None, exc)
    return _deliver(answer)


def _audit_eam(parsed: EamRequest, employee_id: str | None, error: OidcError | None) -> None:
    rt = runtime()
    rt.audit.append_event(
        kind=AuditKind.SSO_ISSUED if error is None else AuditKind.LOGIN_FAILURE,
        at=rt.now(),
        actor=employee_id,
        employee_id=employee_id,
        relying_party=f"entra:{parsed.hint.tid}",
        outcome=Outcome.SUCCESS if error is None else Outcome.FAILURE,
        reason=None if error is None else f"{error.error}: {error.description}"[:500],
        details={"protocol": "entra-eam", "oid": parsed.hint.oid},
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
    rt, oidc = runtime(), _oidc()
    params = _params()
    parsed = parse_logout_request(
        params,
        registry=oidc.settings.clients,
        issuer=oidc.provider.issuer,
        own_keys=oidc.provider.keys.lookup,
    )
    context = current_context()
    confirmed = request.method == "POST" and request.form.get("confirm") == "yes"
    if confirmed:
        check_csrf(request.form.get("csrf"))
    if context is not None and not confirmed:
        sub = None
        if parsed.client is not None:
            sub = subject_for(parsed.client, context.employee_id,
                              salt=oidc.settings.pairwise_salt)  # fmt: skip
        if parsed.hinted_subject is None or parsed.hinted_subject != sub:
            # Without a matching hint, a cross-site link could sign the user out: ask first.
            return Response(render_template_string(_LOGOUT_PAGE, csrf=csrf_token(),
                                                   fields=sorted(request.values.items(multi=True))),
                            mimetype="text/html")  # fmt: skip
    location = parsed.location()
    response = redirect(location, code=302) if location else Response(
        render_template("signed_out.html"), mimetype="text/html")  # fmt: skip
    if context is not None:
        rt.sessions.end(context.session_id)
        clear_session_cookie(response)  # type: ignore[arg-type]
    return response  # type: ignore[return-value]


_LOGOUT_PAGE = """{% extends "base.html" %}{% block title %}Sign out{% endblock %}
{% block content %}<h1>Sign out?</h1><form method="post" action="/oidc/logout">
{% for name, value in fields %}{% if name not in ("csrf", "confirm") %}
<input type="hidden" name="{{ name }}" value="{{ value }}">{% endif %}{% endfor %}
<input type="hidden" name="csrf" value="{{ csrf }}">
<button type="submit" name="confirm" value="yes">Sign out</button></form>{% endblock %}"""

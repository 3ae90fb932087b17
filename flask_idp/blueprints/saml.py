"""SAML 2.0 endpoints: a thin adapter over :mod:`idp.saml`.

``/saml/login`` (HTTP-Redirect and HTTP-POST AuthnRequests; IdP-initiated with
``?sp=<entity id>``), ``/saml/resume`` (back from the sign-in page), ``/saml/logout`` and
``/saml/metadata``. The pending request is kept in the short-lived store between the two halves.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import secrets
from typing import Any

from flask import Blueprint, Response, make_response, redirect, render_template, request

from flask_idp.login import authenticate, park, pending_request
from flask_idp.web import current_context, runtime, session_cookie_name
from idp.audit import AuditKind, Outcome
from idp.errors import InvalidRequest, NotFound
from idp.policy import Comparison, NeedsLogin, Requirement, Satisfied, Unsatisfiable
from idp.runtime import Runtime
from idp.saml.bindings import (
    InboundMessage,
    OutboundMessage,
    decode_post,
    decode_redirect,
    encode_post,
)
from idp.saml.errors import NoAuthnContext, NoPassive, SamlStatusError
from idp.saml.logout import SessionParticipant
from idp.saml.metadata import build_metadata
from idp.saml.requests import (
    AuthnRequestInfo,
    RequestedAuthnContext,
    idp_initiated,
    parse_authn_request,
)
from idp.saml.responses import build_error_response, build_response
from idp.saml.runtime import SamlRuntime

bp = Blueprint("saml", __name__, url_prefix="/saml")

PENDING_TTL = 900
_PENDING = "saml-pending:"


def _saml() -> SamlRuntime:
    saml: SamlRuntime = runtime().protocols["saml"]
    return saml


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response:
    rt, saml = runtime(), _saml()
    max_bytes = saml.settings.max_request_bytes
    if request.method == "POST" and "SAMLRequest" in request.form:
        message = decode_post(request.form.to_dict(), max_bytes=max_bytes)
        if cookies_withheld():
            return _hop_after_checking(rt, saml, message)
    elif "SAMLRequest" in request.args:
        message = decode_redirect(request.query_string.decode("latin-1"), max_bytes=max_bytes)
    elif "sp" in request.args:
        return _idp_initiated(rt, saml)
    else:
        raise InvalidRequest(
            "expected a SAMLRequest (HTTP-Redirect or HTTP-POST binding), or "
            "?sp=<entity id> for IdP-initiated sign-in"
        )
    try:
        info = parse_authn_request(
            message=message,
            settings=saml.settings,
            service_providers=saml.service_providers,
            replay_cache=rt.ephemeral,
            now=rt.now(),
        )
    except SamlStatusError as exc:
        return _send_error(exc)
    return _continue(rt, saml, info, received_at=rt.now())


class PeekReplayCache:
    """Answers as the replay cache would but records nothing: checks before the same-site hop."""

    def __init__(self, rt: Runtime) -> None:
        self._store = rt.ephemeral

    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool:
        return self._store.get(key) is None


def cookies_withheld() -> bool:
    """True for a cross-site POST (an SP's auto-posted form) that came without our session.

    The session cookie is SameSite=Lax, so a browser leaves it off a cross-site POST: the
    signed-in session would look absent (SSO lost, logout ending nothing). One auto-posted hop
    from our own origin makes the same POST same-site, and the cookie comes along.
    """
    return (
        request.headers.get("Sec-Fetch-Site") == "cross-site"
        and session_cookie_name() not in request.cookies
    )


def same_site_hop(message: InboundMessage, *, url: str, target_name: str) -> Response:
    """Re-post ``message`` unchanged to ``url`` (ours) from a page on our origin."""
    hop = encode_post(url=url, kind=message.kind, xml=message.xml, relay_state=message.relay_state)
    return autopost(hop, target_name=target_name)


def _hop_after_checking(rt: Runtime, saml: SamlRuntime, message: InboundMessage) -> Response:
    # Hostile input is refused here, at once; the request ID is consumed only after the hop.
    try:
        info = parse_authn_request(
            message=message,
            settings=saml.settings,
            service_providers=saml.service_providers,
            replay_cache=PeekReplayCache(rt),
            now=rt.now(),
        )
        name = info.sp.name
    except SamlStatusError as exc:  # valid, but refused with a SAML status after the hop
        name = exc.request.sp.name
    return same_site_hop(message, url=saml.settings.sso_url, target_name=name)


def _idp_initiated(rt: Runtime, saml: SamlRuntime) -> Response:
    sp = idp_initiated(
        sp_entity_id=request.args.get("sp", ""),
        relay_state=request.args.get("RelayState"),
        service_providers=saml.service_providers,
    )
    info = AuthnRequestInfo(
        id="",
        sp=sp,
        acs=sp.default_acs,
        binding="idp-initiated",
        issue_instant=rt.now(),
        relay_state=request.args.get("RelayState") or sp.default_relay_state,
        force_authn=False,
        is_passive=False,
        name_id_format=None,
        allow_create=True,
        requested_authn_context=None,
        signed=False,
    )
    return _continue(rt, saml, info, received_at=rt.now())


@bp.get("/resume")
def resume() -> Response:
    rt, saml = runtime(), _saml()
    key, raw = pending_request(_PENDING)
    info, received_at = _load_pending(saml, raw)
    return _continue(rt, saml, info, received_at=received_at, key=key)


def _continue(
    rt: Runtime,
    saml: SamlRuntime,
    info: AuthnRequestInfo,
    *,
    received_at: dt.datetime,
    key: str | None = None,
) -> Response:
    requested = info.requested_authn_context
    requirement = Requirement(
        relying_party=info.sp.name,
        display_name=info.sp.title,
        policy=rt.config.policies.get(info.sp.policy),
        fresh_after=received_at if info.force_authn else None,
        passive=info.is_passive,
        requested_contexts=requested.class_refs if requested else (),
        comparison=Comparison(requested.comparison) if requested else Comparison.EXACT,
    )
    key = key or secrets.token_urlsafe(24)
    outcome = authenticate(requirement, resume_url=f"/saml/resume?k={key}")
    if isinstance(outcome, Response):
        park(_PENDING, key, _dump_pending(info, received_at), ttl=PENDING_TTL)
        return outcome
    if isinstance(outcome, NeedsLogin):
        return _send_error(
            NoPassive("IsPassive was requested and no usable session exists", request=info)
        )
    if isinstance(outcome, Unsatisfiable):
        return _send_error(
            NoAuthnContext(
                f"requested authentication context {', '.join(outcome.requested)} is not "
                f"available; this IdP can assert {', '.join(outcome.available)}",
                request=info,
            )
        )
    return _send_success(rt, saml, info, outcome)


def _send_success(
    rt: Runtime, saml: SamlRuntime, info: AuthnRequestInfo, decision: Satisfied
) -> Response:
    ctx = decision.context
    employee = rt.directory.get(ctx.employee_id)
    if employee is None or not employee.can_sign_in:
        raise NotFound("the signed-in account no longer exists or is disabled")
    session_index = _session_index(rt, ctx.session_id)
    result = build_response(
        settings=saml.settings,
        sp=info.sp,
        request=info if info.id else None,
        subject=employee,
        context=ctx,
        authn_context_class_ref=decision.authn_context_class_ref,
        session_index=session_index,
        # The SP's own session_lifetime_minutes, never past the end of our session.
        session_not_on_or_after=ctx.auth_time
        + min(info.sp.session_lifetime, dt.timedelta(seconds=rt.config.session.absolute_lifetime)),
        signer=saml.signer,
        now=rt.now(),
        relay_state=info.relay_state,
    )
    participant = SessionParticipant(info.sp.entity_id, result.name_id or "", session_index)
    rt.sessions.record_participant(ctx.session_id, participant.encode())
    factor = ctx.factors[-1].kind.value if ctx.factors else "session"
    rt.audit.append_event_later(
        kind=AuditKind.SSO_ISSUED,
        at=rt.now(),
        actor=employee.id,
        employee_id=employee.id,
        relying_party=info.sp.name,
        factor=factor,
        outcome=Outcome.SUCCESS,
        details={
            "protocol": "saml",
            "sp": info.sp.entity_id,
            "flow": "idp-initiated" if not info.id else "sp-initiated",
        },
    )
    return autopost(result.form, target_name=info.sp.name)


def _send_error(exc: SamlStatusError) -> Response:
    rt, saml = runtime(), _saml()
    result = build_error_response(
        settings=saml.settings, error=exc, signer=saml.signer, now=rt.now(), message=exc.description
    )
    ctx = current_context()
    rt.audit.append_event(
        kind=AuditKind.LOGIN_FAILURE,
        at=rt.now(),
        actor=ctx.employee_id if ctx else None,
        employee_id=ctx.employee_id if ctx else None,
        relying_party=exc.request.sp.name,
        outcome=Outcome.FAILURE,
        reason=exc.description[:500],
        details={"protocol": "saml"},
    )
    return autopost(result.form, target_name=exc.request.sp.name)


def autopost(message: OutboundMessage, *, target_name: str) -> Response:
    if message.redirect_url is not None:
        return make_response(redirect(message.redirect_url, code=303))
    html = render_template(
        "autopost.html", action=message.url, fields=message.fields, target_name=target_name
    )
    response = make_response(html)
    response.headers["Cache-Control"] = "no-store"
    # The answer is a form posted to the SP; CSP must allow that one target.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    )
    return response


def metadata_xml(rt: Runtime, saml: SamlRuntime) -> bytes:
    """Signed metadata, rebuilt at most hourly (it carries validUntil, so it can't be static)."""
    now = rt.now()
    cached = _METADATA_CACHE.get(id(saml))
    if cached is not None and (now - cached[0]).total_seconds() < 3600:
        return cached[1]
    xml = build_metadata(settings=saml.settings, keys=rt.keys, signer=saml.signer, now=now)
    _METADATA_CACHE[id(saml)] = (now, xml)
    return xml


_METADATA_CACHE: dict[int, tuple[dt.datetime, bytes]] = {}


def _session_index(rt: Runtime, session_id: str) -> str:
    # Derived, so the SP never learns the session cookie value, yet stable per session.
    key = hashlib.sha256(b"session-index|" + rt.config.pairwise_salt.encode()).digest()
    return "_" + hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()[:32]


def _dump_pending(info: AuthnRequestInfo, received_at: dt.datetime) -> bytes:
    data: dict[str, Any] = {
        "id": info.id,
        "sp": info.sp.entity_id,
        "acs": dataclasses.asdict(info.acs),
        "binding": info.binding,
        "issue_instant": info.issue_instant.isoformat(),
        "relay_state": info.relay_state,
        "force_authn": info.force_authn,
        "is_passive": info.is_passive,
        "name_id_format": info.name_id_format,
        "allow_create": info.allow_create,
        "signed": info.signed,
        "requested": dataclasses.asdict(info.requested_authn_context)
        if info.requested_authn_context
        else None,
        "received_at": received_at.isoformat(),
    }
    return json.dumps(data).encode()


def _load_pending(saml: SamlRuntime, raw: bytes) -> tuple[AuthnRequestInfo, dt.datetime]:
    from idp.config.saml import Endpoint

    data = json.loads(raw)
    sp = saml.service_providers.get(data["sp"])
    if sp is None:
        raise InvalidRequest("the service provider of this sign-in is no longer configured")
    requested = data["requested"]
    info = AuthnRequestInfo(
        id=data["id"],
        sp=sp,
        acs=Endpoint(**data["acs"]),
        binding=data["binding"],
        issue_instant=dt.datetime.fromisoformat(data["issue_instant"]),
        relay_state=data["relay_state"],
        force_authn=data["force_authn"],
        is_passive=data["is_passive"],
        name_id_format=data["name_id_format"],
        allow_create=data["allow_create"],
        signed=data["signed"],
        requested_authn_context=RequestedAuthnContext(
            class_refs=tuple(requested["class_refs"]), comparison=requested["comparison"]
        )
        if requested
        else None,
    )
    return info, dt.datetime.fromisoformat(data["received_at"])


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> Response:
    from flask_idp.blueprints.saml_logout import handle_logout

    return handle_logout(_saml(), autopost)


@bp.get("/metadata")
def metadata() -> Response:
    rt, saml = runtime(), _saml()
    response = make_response(metadata_xml(rt, saml))
    response.mimetype = "application/samlmetadata+xml"
    response.headers["Cache-Control"] = "public, max-age=3600"
    response.headers["Content-Disposition"] = 'inline; filename="idp-metadata.xml"'
    return response

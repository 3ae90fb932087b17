"""SAML single logout: SP-initiated (Redirect and POST) and from the IdP's own sign-out.

The session ends at once; then each other SAML SP of the session that has an SLO endpoint gets
a LogoutRequest in turn (front channel, RelayState = our chain key), and finally the SP that
started it gets its LogoutResponse (PartialLogout if an SP failed or could not be reached).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict
from typing import Any

from flask import Response, make_response, redirect, render_template, request

from flask_idp.web import clear_session_cookie, current_context, runtime
from idp.errors import IdpError, InvalidRequest
from idp.runtime import Runtime
from idp.saml.bindings import OutboundMessage, decode_post, decode_redirect
from idp.saml.logout import (
    LogoutRequestInfo,
    SessionParticipant,
    build_logout_request,
    build_logout_response,
    parse_logout_request,
    parse_logout_response,
)
from idp.saml.runtime import SamlRuntime

CHAIN_TTL = 600
_CHAIN = "saml-slo:"


def handle_logout(saml: SamlRuntime, send: Any) -> Response:
    """The ``/saml/logout`` endpoint; ``send`` renders an OutboundMessage."""
    rt = runtime()
    max_bytes = saml.settings.max_request_bytes
    source = request.form if request.method == "POST" else request.args
    if request.method == "POST":
        message = decode_post(request.form.to_dict(), max_bytes=max_bytes)
    elif "SAMLRequest" in source or "SAMLResponse" in source:
        message = decode_redirect(request.query_string.decode("latin-1"), max_bytes=max_bytes)
    else:
        raise InvalidRequest("expected a SAMLRequest or SAMLResponse (Redirect or POST binding)")
    if message.kind == "SAMLRequest" and request.method == "POST":
        from flask_idp.blueprints.saml import PeekReplayCache, cookies_withheld, same_site_hop

        if cookies_withheld():
            # Without the session cookie the logout would end nothing, yet answer Success.
            checked = parse_logout_request(
                message=message,
                settings=saml.settings,
                service_providers=saml.service_providers,
                replay_cache=PeekReplayCache(rt),
                now=rt.now(),
            )
            return same_site_hop(message, url=saml.settings.slo_url, target_name=checked.sp.name)
    if message.kind == "SAMLRequest":
        info = parse_logout_request(
            message=message,
            settings=saml.settings,
            service_providers=saml.service_providers,
            replay_cache=rt.ephemeral,
            now=rt.now(),
        )
        return start_chain(rt, saml, send, origin=info)
    return _on_response(rt, saml, send, message)


def start_chain(
    rt: Runtime, saml: SamlRuntime, send: Any, *, origin: LogoutRequestInfo | None
) -> Response:
    """End this browser's session and log out of every other SAML SP it used.

    An SP's LogoutRequest ends the session only when it names this session's principal at
    that SP (NameID, and SessionIndex when given); on a shared browser another user's session
    is left alone, and the SP is told Success as there is nothing of its principal here.
    """
    ctx = current_context()
    remaining: list[str] = []
    if ctx is not None:
        participants = [
            p
            for p in map(SessionParticipant.decode, rt.sessions.participants(ctx.session_id))
            if p is not None
        ]
        if origin is None or any(p.matches(origin) for p in participants):
            remaining = [
                json.dumps(asdict(p))
                for p in participants
                if origin is None or p.entity_id != origin.sp.entity_id
            ]
            rt.sessions.end(ctx.session_id)
        else:
            ctx = None
    chain = {
        "origin": _dump_origin(origin),
        "remaining": remaining,
        "failed": False,
        "pending": None,
    }
    key = secrets.token_urlsafe(24)
    response = _next(rt, saml, send, key, chain)
    if ctx is not None:
        clear_session_cookie(response)
    return response


def _on_response(rt: Runtime, saml: SamlRuntime, send: Any, message: Any) -> Response:
    key = message.relay_state or ""
    raw = rt.ephemeral.get(_CHAIN + key) if 0 < len(key) <= 64 else None
    if raw is None:
        raise InvalidRequest("unexpected LogoutResponse: no logout is in progress for it")
    chain = json.loads(raw)
    pending = chain.get("pending")
    if pending is None:
        raise InvalidRequest("unexpected LogoutResponse: no LogoutRequest is outstanding")
    sp = saml.service_providers.get(pending["sp"])
    if sp is None:
        raise InvalidRequest("the service provider of this logout is no longer configured")
    result = parse_logout_response(
        message=message,
        expected_request_id=pending["id"],
        expected_sp=sp,
        settings=saml.settings,
        now=rt.now(),
    )
    chain["failed"] = chain["failed"] or not result.success
    chain["pending"] = None
    return _next(rt, saml, send, key, chain)


def _next(rt: Runtime, saml: SamlRuntime, send: Any, key: str, chain: dict[str, Any]) -> Response:
    while chain["remaining"]:
        entry = json.loads(chain["remaining"].pop(0))
        entity_id, name_id, session_index = (
            entry["entity_id"],
            entry["name_id"],
            entry["session_index"],
        )
        sp = saml.service_providers.get(entity_id)
        if sp is None or not sp.slo:
            chain["failed"] = chain["failed"] or sp is None
            continue
        try:
            outbound = build_logout_request(
                settings=saml.settings,
                sp=sp,
                name_id=name_id,
                name_id_format=sp.name_id.format,
                session_index=session_index,
                signer=saml.signer,
                now=rt.now(),
                relay_state=key,
            )
        except IdpError:
            chain["failed"] = True
            continue
        chain["pending"] = {"sp": entity_id, "id": outbound.request_id}
        rt.ephemeral.put(_CHAIN + key, json.dumps(chain).encode(), ttl=CHAIN_TTL)
        response: Response = send(outbound.message, target_name=sp.name)
        return response
    rt.ephemeral.delete(_CHAIN + key)
    origin = _load_origin(saml, chain["origin"])
    if origin is None:
        return make_response(render_template("signed_out.html", partial=chain["failed"]))
    done: OutboundMessage = build_logout_response(
        settings=saml.settings,
        request=origin,
        signer=saml.signer,
        now=rt.now(),
        partial=chain["failed"],
    )
    final: Response = send(done, target_name=origin.sp.name)
    return final


def _dump_origin(origin: LogoutRequestInfo | None) -> dict[str, Any] | None:
    if origin is None:
        return None
    data = asdict(origin)
    data["sp"] = origin.sp.entity_id
    return data


def _load_origin(saml: SamlRuntime, data: dict[str, Any] | None) -> LogoutRequestInfo | None:
    if data is None:
        return None
    sp = saml.service_providers.get(data["sp"])
    if sp is None:
        return None
    return LogoutRequestInfo(
        **{**data, "sp": sp, "session_indexes": tuple(data["session_indexes"])}
    )


def redirect_or_form(message: OutboundMessage, *, target_name: str) -> Response:
    if message.redirect_url is not None:
        return make_response(redirect(message.redirect_url, code=303))
    return make_response(
        render_template(
            "autopost.html", action=message.url, fields=message.fields, target_name=target_name
        )
    )

"""SAML 2.0 Web Browser SSO over the sign-in engine (SP- and IdP-initiated).

The shell hands over the request as it arrived (method, raw query string, form fields); this
module decodes and validates it with :mod:`idp.saml`, asks the engine, and returns the answer:
a signed Response posted to the ACS, a SAML error status, or the way to the sign-in page.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.config.saml import Endpoint
from idp.errors import InvalidRequest
from idp.flows.answers import Answer, FormPost, Redirect
from idp.flows.browser import Browser
from idp.flows.signin import Refusal, RefusalKind, SignIn
from idp.policy import Comparison, Requirement, Satisfied
from idp.saml.bindings import (
    InboundMessage,
    OutboundMessage,
    decode_post,
    decode_redirect,
    encode_post,
)
from idp.saml.errors import (
    AuthnFailed,
    NoAuthnContext,
    NoPassive,
    SamlStatusError,
    SubjectMismatch,
)
from idp.saml.logout import SessionParticipant
from idp.saml.requests import (
    AuthnRequestInfo,
    RequestedAuthnContext,
    check_requested_subject,
    idp_initiated,
    parse_authn_request,
)
from idp.saml.responses import build_error_response, build_response
from idp.subject import subject_from_employee

if TYPE_CHECKING:
    from idp.runtime import Runtime
    from idp.saml.runtime import SamlRuntime


@dataclasses.dataclass(frozen=True)
class PendingAuthn:
    info: AuthnRequestInfo
    received_at: dt.datetime


class PeekReplayCache:
    """Answers as the replay cache would but records nothing: checks before the same-site hop."""

    def __init__(self, runtime: Runtime) -> None:
        self._store = runtime.ephemeral

    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool:
        return self._store.get(key) is None


def outbound(message: OutboundMessage, *, target_name: str) -> Answer:
    if message.redirect_url is not None:
        return Answer(Redirect(message.redirect_url))
    return Answer(FormPost(message.url, message.fields, target_name))


def same_site_hop(message: InboundMessage, *, url: str, target_name: str) -> Answer:
    """Re-post ``message`` unchanged to ``url`` (ours) from a page on our origin.

    The session cookie is SameSite=Lax, so a browser leaves it off an SP's cross-site
    auto-posted form: the session would look absent (SSO lost, logout ending nothing). One
    auto-posted hop from our own origin makes the same POST same-site.
    """
    hop = encode_post(url=url, kind=message.kind, xml=message.xml, relay_state=message.relay_state)
    return outbound(hop, target_name=target_name)


class SamlSignIn:
    park_prefix = "saml-pending:"
    park_ttl = 900

    def __init__(self, runtime: Runtime, saml: SamlRuntime, engine: SignIn) -> None:
        self._rt = runtime
        self._saml = saml
        self._engine = engine

    # -- entry points ------------------------------------------------------------------------
    def receive(
        self,
        *,
        browser: Browser,
        method: str,
        query_string: str,
        form: Mapping[str, str],
        args: Mapping[str, str],
    ) -> Answer:
        """``/saml/login``: an AuthnRequest (Redirect or POST), or IdP-initiated ``?sp=``."""
        rt, saml = self._rt, self._saml
        max_bytes = saml.settings.max_request_bytes
        if method == "POST" and "SAMLRequest" in form:
            message = decode_post(dict(form), max_bytes=max_bytes)
            if browser.cookies_withheld:
                return self._hop_after_checking(message)
        elif "SAMLRequest" in args:
            message = decode_redirect(query_string, max_bytes=max_bytes)
        elif "sp" in args:
            return self._idp_initiated(args, browser=browser)
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
            return self._status(exc, browser=browser)
        return self._engine.proceed(self, PendingAuthn(info, rt.now()), browser=browser)

    def resume(self, key: str, *, browser: Browser, cancel: bool = False) -> Answer:
        return self._engine.resume(self, key, browser=browser, cancel=cancel)

    def _hop_after_checking(self, message: InboundMessage) -> Answer:
        # Hostile input is refused here, at once; the request ID is consumed only after the hop.
        saml = self._saml
        try:
            info = parse_authn_request(
                message=message,
                settings=saml.settings,
                service_providers=saml.service_providers,
                replay_cache=PeekReplayCache(self._rt),
                now=self._rt.now(),
            )
            name = info.sp.name
        except SamlStatusError as exc:  # valid, but refused with a SAML status after the hop
            name = exc.request.sp.name
        return same_site_hop(message, url=saml.settings.sso_url, target_name=name)

    def _idp_initiated(self, args: Mapping[str, str], *, browser: Browser) -> Answer:
        sp = idp_initiated(
            sp_entity_id=args.get("sp", ""),
            relay_state=args.get("RelayState"),
            service_providers=self._saml.service_providers,
        )
        now = self._rt.now()
        info = AuthnRequestInfo(
            id="",
            sp=sp,
            acs=sp.default_acs,
            binding="idp-initiated",
            issue_instant=now,
            relay_state=args.get("RelayState") or sp.default_relay_state,
            force_authn=False,
            is_passive=False,
            name_id_format=None,
            allow_create=True,
            requested_authn_context=None,
            signed=False,
        )
        return self._engine.proceed(self, PendingAuthn(info, now), browser=browser)

    # -- SignInProtocol ----------------------------------------------------------------------
    def requirement(self, request: PendingAuthn) -> Requirement:
        info, requested = request.info, request.info.requested_authn_context
        return Requirement(
            relying_party=info.sp.name,
            display_name=info.sp.title,
            policy=self._rt.config.policies.get(info.sp.policy),
            fresh_after=request.received_at if info.force_authn else None,
            passive=info.is_passive,
            requested_contexts=requested.class_refs if requested else (),
            comparison=Comparison(requested.comparison) if requested else Comparison.EXACT,
        )

    def resume_url(self, key: str) -> str:
        return f"/saml/resume?k={key}"

    def answer(
        self, request: PendingAuthn, decision: Satisfied, *, browser: Browser, key: str
    ) -> Answer:
        rt, saml, info, ctx = self._rt, self._saml, request.info, decision.context
        subject = subject_from_employee(self._engine.signed_in_employee(decision))
        try:
            # Core §3.4.1.4: a request naming a subject is answered for that subject only.
            check_requested_subject(request=info, subject=subject, salt=saml.settings.pairwise_salt)
        except SubjectMismatch as exc:
            return self._status(exc, browser=browser)
        session_index = session_index_for(rt.config.pairwise_salt, ctx.session_id)
        # The SP's own session_lifetime_minutes, never past the end of our session.
        lifetime = min(
            info.sp.session_lifetime, dt.timedelta(seconds=rt.config.session.absolute_lifetime)
        )
        result = build_response(
            settings=saml.settings,
            sp=info.sp,
            request=info if info.id else None,
            subject=subject,
            context=ctx,
            authn_context_class_ref=decision.authn_context_class_ref,
            session_index=session_index,
            session_not_on_or_after=ctx.auth_time + lifetime,
            signer=saml.signer,
            now=rt.now(),
            relay_state=info.relay_state,
        )
        participant = SessionParticipant(
            info.sp.entity_id, result.name_id or "", session_index, result.name_id_format
        )
        self._engine.record_answer(
            decision,
            protocol="saml",
            relying_party=info.sp.name,
            participant=participant.encode(),
            details={
                "sp": info.sp.entity_id,
                "flow": "idp-initiated" if not info.id else "sp-initiated",
            },
        )
        return outbound(result.form, target_name=info.sp.name)

    def refuse(self, request: PendingAuthn, refusal: Refusal, *, browser: Browser) -> Answer:
        info = request.info
        error: SamlStatusError
        if refusal.kind is RefusalKind.PASSIVE:
            error = NoPassive("IsPassive was requested and no usable session exists", request=info)
        elif refusal.kind is RefusalKind.UNSATISFIABLE:
            error = NoAuthnContext(
                f"requested authentication context {', '.join(refusal.requested)} is not "
                f"available; this IdP can assert {', '.join(refusal.available)}",
                request=info,
            )
        else:
            error = AuthnFailed("the user cancelled the sign-in", request=info)
        return self._status(error, browser=browser)

    def _status(self, exc: SamlStatusError, *, browser: Browser) -> Answer:
        rt, saml = self._rt, self._saml
        result = build_error_response(
            settings=saml.settings,
            error=exc,
            signer=saml.signer,
            now=rt.now(),
            message=exc.description,
        )
        self._engine.record_refusal(
            browser=browser,
            protocol="saml",
            relying_party=exc.request.sp.name,
            reason=exc.description,
        )
        return outbound(result.form, target_name=exc.request.sp.name)

    # -- parking -----------------------------------------------------------------------------
    def dump(self, request: PendingAuthn) -> bytes:
        info = request.info
        data: dict[str, Any] = {
            **{f.name: getattr(info, f.name) for f in dataclasses.fields(info)},
            "sp": info.sp.entity_id,
            "acs": dataclasses.asdict(info.acs),
            "issue_instant": info.issue_instant.isoformat(),
            "requested_authn_context": dataclasses.asdict(info.requested_authn_context)
            if info.requested_authn_context
            else None,
            "received_at": request.received_at.isoformat(),
        }
        return json.dumps(data).encode()

    def load(self, raw: bytes) -> PendingAuthn:
        data = json.loads(raw)
        sp = self._saml.service_providers.get(data["sp"])
        if sp is None:
            raise InvalidRequest("the service provider of this sign-in is no longer configured")
        requested = data.pop("requested_authn_context")
        received_at = dt.datetime.fromisoformat(data.pop("received_at"))
        data.update(
            sp=sp,
            acs=Endpoint(**data["acs"]),
            issue_instant=dt.datetime.fromisoformat(data["issue_instant"]),
            requested_authn_context=RequestedAuthnContext(
                class_refs=tuple(requested["class_refs"]), comparison=requested["comparison"]
            )
            if requested
            else None,
        )
        return PendingAuthn(AuthnRequestInfo(**data), received_at)


def session_index_for(salt: str, session_id: str) -> str:
    # Derived, so the SP never learns the session cookie value, yet stable per session.
    key = hashlib.sha256(b"session-index|" + salt.encode()).digest()
    return "_" + hmac.new(key, session_id.encode(), hashlib.sha256).hexdigest()[:32]

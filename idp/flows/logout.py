"""The one sign-out: whichever way a session ends, every application it signed in to is told.

Participants are recorded in the session as each answer is sent (SAML
:class:`~idp.saml.logout.SessionParticipant`, OIDC ``oidc:<client>|<sid>``, WS-Fed
``wsfed|<name>``). :meth:`Logout.end` ends the session, tells the OIDC clients with a
back-channel URI at once (server to server), then walks the SAML SPs with an SLO endpoint one
after another through the browser (the chain's state lives in the short-lived store, so any
instance continues it), and finishes on the signed-out page, which loads the WS-Fed cleanup
URLs and OIDC front-channel URLs and says which applications were signed out and which could
not be reached — or answers the application that started the sign-out.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from idp.audit import AuditKind, Outcome
from idp.errors import IdpError, InvalidRequest
from idp.factors.authenticator import remembered
from idp.flows.answers import Answer, FormPost, Page, Redirect
from idp.flows.browser import Browser
from idp.flows.parking import new_handle
from idp.flows.saml import outbound
from idp.oidc.backchannel import send_logout_tokens
from idp.saml.bindings import InboundMessage
from idp.saml.logout import (
    LogoutRequestInfo,
    SessionParticipant,
    build_logout_request,
    build_logout_response,
    parse_logout_response,
)
from idp.sessions import session_handle
from idp.workstations.offline_revocations import revoke_for_employee

if TYPE_CHECKING:
    from idp.runtime import Runtime
    from idp.saml.runtime import SamlRuntime

log = logging.getLogger("hideez_idp.logout")

CHAIN_TTL = 600
_CHAIN = "logout-chain:"

SIGNED_OUT = "signed_out"
NOT_REACHED = "not_reached"
ASKED = "asked"  # front channel: the browser was asked to tell it; no answer comes back
NO_LOGOUT = "no_logout"  # the application registered no way to be told


@dataclass(frozen=True)
class Origin:
    """Who asked for the sign-out and where the browser goes afterwards."""

    how: str  # "idp", "saml", "wsfed", "oidc", "admin"
    saml_request: LogoutRequestInfo | None = None
    continue_to: str | None = None
    #: a WS-Fed ``wsignoutcleanup1.0``: end the session here only, tell nobody
    cleanup_only: bool = False


@dataclass
class _Chain:
    how: str
    origin: dict[str, Any] | None
    continue_to: str | None
    saml_queue: list[list[str]]
    cleanup_urls: list[str]
    frames: list[str]
    results: list[list[str]] = field(default_factory=list)
    pending: dict[str, str] | None = None


class Logout:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    @property
    def _saml(self) -> SamlRuntime | None:
        return self._rt.protocols.saml

    def end(self, *, browser: Browser, origin: Origin) -> Answer:
        """End this browser's session and tell every application of it.

        A SAML LogoutRequest ends the session only when it names this session's principal at
        that SP (profiles §4.4.4.1); on a shared browser another user's session is left alone,
        and the SP is told Success as there is nothing of its principal here.
        """
        ctx = browser.session
        participants: tuple[str, ...] = ()
        if ctx is not None:
            participants = self._rt.sessions.participants(ctx.session_id)
            saml_request = origin.saml_request
            if saml_request is not None and not any(
                p is not None and p.matches(saml_request)
                for p in map(SessionParticipant.decode, participants)
            ):
                ctx, participants = None, ()
        if origin.cleanup_only:
            participants = ()
        chain = self._plan(origin, participants)
        ended = ctx is not None
        if ctx is not None:
            self._rt.sessions.end(ctx.session_id)
            # A shared computer keeps no trace of who signed in: the app it would offer a push
            # to without a user name ("Send a request to <device>") goes with the sign-out.
            remembered.forget(self._rt.ephemeral, browser.binding)
            self._tell_oidc_clients(chain, participants, ctx.employee_id)
            self._audit(ctx.employee_id, origin, chain, browser)
        # After our own "Sign out" the cookie goes whatever happened (a stale one must not
        # linger); an SP's request for another principal leaves this browser's session alone.
        end_cookie = ended or origin.how == "idp"
        return Answer(self._next(new_handle(), chain).body, end_session=end_cookie)

    def end_everywhere(
        self, employee_id: str, *, reason: str, actor: str = "system", handle: str | None = None
    ) -> int:
        """End every session of the employee without a browser (directory sync, an admin),
        or only the one whose public handle is ``handle``.

        Each session's OIDC clients with a back channel are told at once, and (when every
        session ends) every refresh token of the employee and the offline PC-login codes of
        their app are revoked; SAML SPs and front-channel clients cannot be reached without
        the browser and learn it at their next request (the session is gone). Audited with
        ``actor``. Returns the number of sessions ended.
        """
        sessions, now = self._rt.sessions, self._rt.now()
        ended, told = 0, []
        for session_id in sessions.sessions_of(employee_id):
            if handle is not None and session_handle(session_id) != handle:
                continue
            context = sessions.get(session_id, now=now)
            if context is None or context.employee_id != employee_id:
                continue
            participants = sessions.participants(session_id)
            sessions.end(session_id)
            chain = self._plan(Origin(how="admin"), participants)
            self._tell_oidc_clients(chain, participants, employee_id)
            told += [f"{name}={status}" for name, status in chain.results]
            ended += 1
        revoked = 0
        if handle is None:
            sessions.forget_employee(employee_id)
            revoke_for_employee(self._rt, employee_id, reason=reason, now=now)
            if (oidc := self._rt.protocols.oidc) is not None:
                families = oidc.provider.grants.families
                revoked = families.revoke_for_employee(employee_id, now=now, reason=reason[:64])
        self._rt.audit.append_event(
            kind=AuditKind.SESSION_ENDED, at=now, actor=actor, employee_id=employee_id,
            outcome=Outcome.SUCCESS, reason=reason,
            details={"how": "everywhere" if handle is None else "one", "sessions": str(ended),
                     "refresh_families": str(revoked), "told": " ".join(told)[:1000]},
        )  # fmt: skip
        return ended

    def _plan(self, origin: Origin, participants: tuple[str, ...]) -> _Chain:
        skip = origin.saml_request.sp.entity_id if origin.saml_request else None
        queue = [
            [p.entity_id, p.name_id, p.session_index, p.name_id_format or ""]
            for p in map(SessionParticipant.decode, participants)
            if p is not None and p.entity_id != skip
        ]
        return _Chain(
            how=origin.how,
            origin=_dump_origin(origin.saml_request),
            continue_to=origin.continue_to,
            saml_queue=queue,
            cleanup_urls=list(self._wsfed_cleanup(participants)),
            frames=[],
        )

    def _wsfed_cleanup(self, participants: tuple[str, ...]) -> tuple[str, ...]:
        wsfed = self._rt.protocols.wsfed
        if wsfed is None:
            return ()
        from idp.wsfed.signout import cleanup_url, participant_key

        by_key = {participant_key(rp): rp for rp in wsfed.settings.relying_parties}
        return tuple(dict.fromkeys(cleanup_url(by_key[p]) for p in participants if p in by_key))

    def _tell_oidc_clients(
        self, chain: _Chain, participants: tuple[str, ...], employee_id: str
    ) -> None:
        """Back channel now, server to server; front channel later, from the signed-out page."""
        oidc = self._rt.protocols.oidc
        if oidc is None:
            return
        plan = oidc.provider.logout_plan(
            participants=participants, employee_id=employee_id, now=self._rt.now()
        )
        chain.frames = [entry.url for entry in plan.frontchannel]
        for result in send_logout_tokens(
            logouts=plan.backchannel, settings=oidc.settings.backchannel
        ):
            chain.results.append(
                [result.client_name, SIGNED_OUT if result.delivered else NOT_REACHED]
            )
            if not result.delivered:
                log.warning("back-channel logout of %s failed: %s", result.client_id, result.reason)
        chain.results.extend([client_id, NO_LOGOUT] for client_id in plan.not_notified)

    def _audit(self, employee_id: str, origin: Origin, chain: _Chain, browser: Browser) -> None:
        told = [f"{name}={status}" for name, status in chain.results]
        told += [f"{entry[0]}=pending" for entry in chain.saml_queue]
        told += [f"{_host(url)}={ASKED}" for url in (*chain.cleanup_urls, *chain.frames)]
        self._rt.audit.append_event(
            kind=AuditKind.LOGOUT,
            at=self._rt.now(),
            actor=employee_id,
            employee_id=employee_id,
            outcome=Outcome.SUCCESS,
            details={"how": origin.how, "ip": browser.ip, "told": " ".join(told)[:1000]},
        )

    # -- the SAML front-channel chain --------------------------------------------------------
    def on_saml_response(self, message: InboundMessage) -> Answer:
        """An SP's LogoutResponse to the LogoutRequest of a chain in progress."""
        saml, key = self._saml, message.relay_state or ""
        raw = self._rt.ephemeral.take(_CHAIN + key) if 0 < len(key) <= 64 else None
        if raw is None or saml is None:
            raise InvalidRequest("unexpected LogoutResponse: no logout is in progress for it")
        chain = _Chain(**json.loads(raw))
        pending = chain.pending
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
            now=self._rt.now(),
        )
        chain.results.append([sp.name, SIGNED_OUT if result.success else NOT_REACHED])
        chain.pending = None
        return self._next(key, chain)

    def _next(self, key: str, chain: _Chain) -> Answer:
        saml = self._saml
        while chain.saml_queue and saml is not None:
            entity_id, name_id, session_index, *issued = chain.saml_queue.pop(0)
            issued_format = issued[0] if issued else ""
            sp = saml.service_providers.get(entity_id)
            if sp is None or not sp.slo:
                chain.results.append([sp.name, NO_LOGOUT] if sp else [entity_id, NOT_REACHED])
                continue
            try:
                request = build_logout_request(
                    settings=saml.settings,
                    sp=sp,
                    name_id=name_id,
                    name_id_format=issued_format or sp.name_id.format,
                    session_index=session_index,
                    signer=saml.signer,
                    now=self._rt.now(),
                    relay_state=key,
                )
            except IdpError:
                chain.results.append([sp.name, NOT_REACHED])
                continue
            chain.pending = {"sp": entity_id, "id": request.request_id}
            self._rt.ephemeral.put(_CHAIN + key, json.dumps(asdict(chain)).encode(), ttl=CHAIN_TTL)
            return outbound(request.message, target_name=sp.name)
        return self._final(chain)

    def _final(self, chain: _Chain) -> Answer:
        failed = any(status == NOT_REACHED for _, status in chain.results)
        origin = _load_origin(self._saml, chain.origin)
        proceed: FormPost | Redirect | None = None
        if origin is not None and self._saml is not None:
            done = build_logout_response(
                settings=self._saml.settings,
                request=origin,
                signer=self._saml.signer,
                now=self._rt.now(),
                partial=failed,
            )
            body = outbound(done, target_name=origin.sp.name).body
            assert isinstance(body, FormPost | Redirect)
            proceed = body
        elif chain.continue_to is not None:
            # RP-Initiated Logout §3 redirects with 302, as the authorization endpoint does.
            proceed = Redirect(chain.continue_to, status=302 if chain.how == "oidc" else 303)
        front = [*chain.cleanup_urls, *chain.frames]
        if proceed is not None and not front:
            return Answer(proceed)
        apps = [{"name": name, "status": status} for name, status in chain.results]
        apps += [{"name": _host(url), "status": ASKED} for url in front]
        return Answer(
            Page(
                "signed_out",
                {
                    "apps": apps,
                    "partial": failed,
                    "cleanup_urls": chain.cleanup_urls,
                    "frames": chain.frames,
                    "continue_form": proceed if isinstance(proceed, FormPost) else None,
                    "continue_url": proceed.location if isinstance(proceed, Redirect) else None,
                },
                image_origins=_origins(chain.cleanup_urls),
                frame_origins=_origins(chain.frames),
                refresh_to=proceed.location if isinstance(proceed, Redirect) else None,
            )
        )


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _origins(urls: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" for u in urls))


def _dump_origin(origin: LogoutRequestInfo | None) -> dict[str, Any] | None:
    if origin is None:
        return None
    return {**asdict(origin), "sp": origin.sp.entity_id}


def _load_origin(saml: SamlRuntime | None, data: dict[str, Any] | None) -> LogoutRequestInfo | None:
    if data is None or saml is None:
        return None
    sp = saml.service_providers.get(data["sp"])
    if sp is None:
        return None
    return LogoutRequestInfo(
        **{**data, "sp": sp, "session_indexes": tuple(data["session_indexes"])}
    )

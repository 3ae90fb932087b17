"""``WsFedFrontend``: WS-Federation passive requestor relying parties (Exchange OWA/ECP, WIF
applications) in front of any SATOSA backend.

The relying parties are the ``wsfed:`` section of the IdP configuration the plugin names (the
Exchange preset included, docs/wsfed.md); requests are checked and tokens built and signed by
the core (:mod:`idp.wsfed`, :class:`idp.flows.wsfed.WsFedSignIn`), as in the Flask IdP. The
checked request waits server-side while the backend (and any micro-service, such as the MFA
step) runs: SATOSA's state cookie only names it, since nothing in that cookie is authenticated.
The token's subject is built from the internal attributes the plugin maps.

Endpoint: ``<BASE>/<backend>/wsfed`` (``wa=wsignin1.0``, GET or POST). Sign-out
(``wsignout1.0``) is refused with a clear error: SATOSA has no sessions to end.
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from satosa.context import Context
from satosa.frontends.base import FrontendModule
from satosa.internal import InternalData
from satosa.response import Response

from idp.errors import ConfigError, IdpError, InvalidRequest
from idp.flows.answers import Answer, FormPost
from idp.flows.parking import new_handle, park, take_parked
from idp.flows.wsfed import PendingSignIn, WsFedSignIn
from idp.policy import UNSPECIFIED
from idp.runtime import shared_runtime
from idp.sessions import AuthContext
from idp.subject import subject_from_attributes
from idp.wsfed.requests import SignInRequest, parse_request
from satosa_plugins.config import parse_frontend
from satosa_plugins.shell import shell_for, upstream_instant

STATE_KEY = "HIDEEZ_WSFED"
PARK_PREFIX = "satosa-wsfed:"


class WsFedFrontend(FrontendModule):  # type: ignore[misc]
    def __init__(
        self, auth_req_callback_func: Any, internal_attributes: Any, config: Any, base_url: str,
        name: str,
    ) -> None:  # fmt: skip
        super().__init__(auth_req_callback_func, internal_attributes, base_url, name)
        self.settings = parse_frontend(config, plugin=name)
        self.rt = shared_runtime(self.settings.idp_config)
        wsfed = self.rt.protocols.wsfed
        if wsfed is None:
            raise ConfigError(
                str(self.settings.idp_config), "wsfed", "is required by the WS-Fed frontend"
            )
        self.shell = shell_for(self.rt)
        self.flow = WsFedSignIn(self.rt, wsfed, self.shell.engine)
        self._wsfed = wsfed

    def register_endpoints(self, backend_names: list[str]) -> list[tuple[str, Any]]:
        signin = self.shell.endpoint(self._sign_in)
        return [(f"^{backend}/wsfed/?$", signin) for backend in backend_names]

    # -- the relying party's request ---------------------------------------------------------
    def _sign_in(self, context: Context) -> Response:
        params = {k: [v] for k, v in (context.request or {}).items() if isinstance(v, str)}
        parsed = parse_request(params, settings=self._wsfed.settings, now=self.rt.now())
        if not isinstance(parsed, SignInRequest):
            raise InvalidRequest("sign-out (wsignout1.0) is not offered through this proxy")
        visit = self.shell.visit(context)
        key = new_handle()
        kept = {"flow_id": context.state.session_id, "pending": self.flow.dump(
            PendingSignIn(params, parsed)).decode()}  # fmt: skip
        park(self.rt.ephemeral, PARK_PREFIX, key, json.dumps(kept).encode(),
             browser=visit.browser, ttl=self.flow.park_ttl)  # fmt: skip
        context.state[STATE_KEY] = {"key": key}
        rp = parsed.relying_party
        request = InternalData(requester=parsed.realm)
        request.requester_name = [{"lang": "en", "text": rp.display_name or rp.name}]
        if parsed.force_fresh:
            context.decorate(Context.KEY_FORCE_AUTHN, "true")
        response = self.auth_req_callback_func(context, request)
        # Our flow cookie must reach the browser with the backend's redirect.
        return self.shell.with_flow_cookie(response, visit)

    # -- back from the backend (and the micro-services) --------------------------------------
    def handle_authn_response(self, context: Context, internal_response: InternalData) -> Response:
        return self.shell.endpoint(lambda ctx: self._answer(ctx, internal_response))(context)

    def _answer(self, context: Context, data: InternalData) -> Response:
        visit = self.shell.visit(context)
        kept = (context.state.pop(STATE_KEY, None) if context.state is not None else None) or {}
        raw = take_parked(self.rt.ephemeral, PARK_PREFIX, str(kept.get("key", "")),
                          browser=visit.browser, ttl=self.flow.park_ttl)  # fmt: skip
        stored = json.loads(raw)
        if not hmac.compare_digest(str(stored["flow_id"]), str(context.state.session_id)):
            raise InvalidRequest("this answer belongs to another sign-in; start again")
        pending = self.flow.load(stored["pending"].encode())
        subject = subject_from_attributes(
            subject_id=data.subject_id or "",
            attributes=data.attributes,
            mapping=self.settings.subject,
        )
        context_of = AuthContext(
            session_id=context.state.session_id,
            employee_id=subject.id,
            auth_time=upstream_instant(data.auth_info.timestamp, self.rt.now()),
            factors=(),
        )
        result = self.flow.token(
            pending.request,
            subject=subject,
            context=context_of,
            authn_context_class_ref=data.auth_info.auth_class_ref or UNSPECIFIED,
            browser=visit.browser,
        )
        rp = pending.request.relying_party
        return self.shell.send(Answer(FormPost(result.action, result.fields, rp.name)), visit)

    def handle_backend_error(self, exception: Any) -> Response:
        return self.shell.error(_BackendFailed(str(getattr(exception, "message", ""))[:300]),
                                as_json=False)  # fmt: skip


class _BackendFailed(IdpError):
    error = "upstream_failed"
    status = 502

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"the identity provider did not sign you in{': ' + detail if detail else ''}"
        )

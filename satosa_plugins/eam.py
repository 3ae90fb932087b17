"""``EntraEamFrontend``: SATOSA as Microsoft Entra ID's External Authentication Method.

Entra has done the first factor. It POSTs an OIDC authorization request (``id_token_hint``
naming its user) to ``<BASE>/<name>/authorize``; the core's EAM protocol
(:class:`idp.flows.eam.EamSignIn`, the same the Flask IdP runs) checks the hint against Entra's
keys, links the employee, runs the second factor on the pack's own sign-in page (passkey,
authenticator-app push, TOTP — whatever the ``oidc.eam.policy`` lists), and form-posts an
id_token back whose ``iss`` is SATOSA's ``BASE``: this frontend is its own OpenID provider for
Entra, with the discovery document at ``<BASE>/.well-known/openid-configuration`` and the keys
at ``<BASE>/<name>/jwks``.

No SATOSA backend takes part: Entra's user has already signed in at Microsoft, and the answer
must name the factor done for *that* user (``amr``), which the core checks itself. Every
refusal — a hint from another tenant, for another audience, too old, an unlinked user,
Cancel — is posted back to Entra as the Flask IdP does. The pending request is kept
server-side (the short-lived store, bound to this browser), so several workers share it and
nothing in SATOSA's state cookie is used.
"""

from __future__ import annotations

import json
from typing import Any

from satosa.context import Context
from satosa.frontends.base import FrontendModule
from satosa.internal import InternalData
from satosa.response import Response

from idp.errors import InvalidRequest
from idp.flows.eam import EamSignIn
from idp.oidc.eam import eam_discovery
from idp.runtime import shared_runtime
from satosa_plugins.config import check_eam, parse_pages
from satosa_plugins.shell import Handler, require_method, shell_for

DISCOVERY_PATH = ".well-known/openid-configuration"


class EntraEamFrontend(FrontendModule):  # type: ignore[misc]
    def __init__(
        self, auth_req_callback_func: Any, internal_attributes: Any, config: Any, base_url: str,
        name: str,
    ) -> None:  # fmt: skip
        super().__init__(auth_req_callback_func, internal_attributes, base_url, name)
        idp_config = parse_pages(config, plugin=name)
        self.rt = shared_runtime(idp_config)
        check_eam(self.rt.config, idp_config=idp_config, plugin=f"SATOSA plugin {name!r}")
        oidc = self.rt.protocols.oidc
        assert oidc is not None and oidc.settings.eam is not None  # check_eam
        self.shell = shell_for(self.rt)
        self.issuer = base_url.rstrip("/")
        self.authorize_url = f"{self.issuer}/{name}/authorize"
        self.jwks_url = f"{self.issuer}/{name}/jwks"
        self.flow = EamSignIn(
            self.rt, oidc, self.shell.engine, issuer=self.issuer, resume_path=f"/{name}/resume"
        )
        self._discovery = json.dumps(
            eam_discovery(
                issuer=self.issuer,
                authorization_endpoint=self.authorize_url,
                jwks_uri=self.jwks_url,
                settings=oidc.settings.eam,
                algorithms=oidc.provider.keys.algorithms,
            )
        )
        self._oidc = oidc

    def register_endpoints(self, backend_names: list[str]) -> list[tuple[str, Handler]]:
        # The sign-in page and the factor steps too, so that no other plugin is needed.
        return [
            (f"^{DISCOVERY_PATH}$", self.shell.endpoint(self._discovery_document, as_json=True)),
            (f"^{self.name}/jwks$", self.shell.endpoint(self._jwks, as_json=True)),
            (f"^{self.name}/authorize$", self.shell.endpoint(self._authorize)),
            (f"^{self.name}/resume$", self.shell.endpoint(self._resume)),
            *self.shell.step_endpoints(),
        ]

    # -- the provider Entra was given --------------------------------------------------------
    def _discovery_document(self, context: Context) -> Response:
        require_method(context, "GET")
        return self.shell.json(self._discovery, cache_seconds=3600)

    def _jwks(self, context: Context) -> Response:
        require_method(context, "GET")
        return self.shell.json(json.dumps(self._oidc.provider.jwks()), cache_seconds=3600)

    # -- Entra's request and the way back from the sign-in page ------------------------------
    def _authorize(self, context: Context) -> Response:
        require_method(context, "POST")  # Entra always POSTs (response_mode=form_post)
        visit = self.shell.visit(context)
        raw = context.request if isinstance(context.request, dict) else {}
        # SATOSA keeps one value per name (a repeated parameter arrives once).
        params = {k: [v] for k, v in raw.items() if isinstance(v, str)}
        return self.shell.send(self.flow.start(params, browser=visit.browser), visit)

    def _resume(self, context: Context) -> Response:
        require_method(context, "GET")
        visit = self.shell.visit(context)
        query = context.qs_params or {}
        key = query.get("k", "")
        answer = self.flow.resume(key, browser=visit.browser, cancel=query.get("cancel") == "1")
        return self.shell.send(answer, visit)

    # -- SATOSA's frontend contract ----------------------------------------------------------
    def handle_authn_response(self, context: Context, internal_response: InternalData) -> Response:
        # Only a state cookie naming this frontend (tampered, or from another set-up) lands here.
        return self.shell.error(_NotThroughBackend(), as_json=False)

    def handle_backend_error(self, exception: Any) -> Response:
        return self.shell.error(_NotThroughBackend(), as_json=False)


class _NotThroughBackend(InvalidRequest):
    def __init__(self) -> None:
        super().__init__(
            "the Entra EAM frontend does not sign in through a backend; start from Microsoft "
            "Entra ID again"
        )

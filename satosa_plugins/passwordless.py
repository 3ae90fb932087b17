"""``PasswordlessBackend``: users sign in here, with a factor of ours, against the directory.

For deployments without an upstream IdP. ``start_auth`` sends the browser to the shared
sign-in page (any factor the policy names: passkey; the password-first mode for two-factor
employees), through the core's sign-in flow (:class:`idp.flows.stepup.StepUp` with no employee
named in advance). Back at ``<BASE>/<name>/resume`` the browser's session is decided on; the
employee's directory data fills ``InternalData`` (subject id and attributes from the attribute
vocabulary, ``auth_class_ref`` from the policy) and SATOSA's chain goes on. Every failure ends
on an error page.

The sign-in page and the step endpoints live at the root (``/hideez/login``,
``/passkey/login/*``), where SATOSA routes only frontends and micro-services: add the
``HideezPages`` request micro-service (or the MFA micro-service, which serves them too).
"""

from __future__ import annotations

import functools
from typing import Any

from satosa.backends.base import BackendModule
from satosa.context import Context
from satosa.internal import AuthenticationInformation, InternalData
from satosa.micro_services.base import RequestMicroService
from satosa.response import Response

from idp.errors import AccessDenied, ConfigError
from idp.flows.stepup import StepUp, StepUpRequest
from idp.runtime import shared_runtime
from idp.subject import subject_from_employee, values_of
from satosa_plugins.config import parse_backend, parse_pages
from satosa_plugins.shell import shell_for

STATE_KEY = "HIDEEZ_PASSWORDLESS"


class PasswordlessBackend(BackendModule):  # type: ignore[misc]
    def __init__(
        self, outgoing: Any, internal_attributes: Any, config: Any, base_url: str, name: str
    ) -> None:
        super().__init__(outgoing, internal_attributes, base_url, name)
        self.settings = parse_backend(config, plugin=name)
        self.rt = shared_runtime(self.settings.idp_config)
        policies = self.rt.config.policies
        if self.settings.policy is not None and self.settings.policy not in policies.policies:
            raise ConfigError(
                f"SATOSA plugin {name!r}",
                "config.policy",
                f"no policy {self.settings.policy!r} in {self.settings.idp_config}; "
                f"expected one of: {', '.join(sorted(policies.policies))}",
            )
        self.shell = shell_for(self.rt)
        self.resume_path = f"/{name}/resume"
        self.signin = StepUp(self.rt, self.shell.engine, resume_path=self.resume_path)

    def register_endpoints(self) -> list[tuple[str, Any]]:
        return [(f"^{self.resume_path.strip('/')}$", self.shell.endpoint(self._resume))]

    def start_auth(self, context: Context, internal_request: InternalData) -> Response:
        return self.shell.endpoint(functools.partial(self._start, data=internal_request))(context)

    def _start(self, context: Context, *, data: InternalData) -> Response:
        forced = str(context.get_decoration(Context.KEY_FORCE_AUTHN) or "").lower() == "true"
        request = StepUpRequest(
            employee_id=None,
            username=None,
            relying_party=data.requester or "",
            display_name=None,
            policy=self.settings.policy or self.rt.config.policies.default,
            # ForceAuthn: only a sign-in from now on counts
            upstream_authn_at=self.rt.now() if forced else None,
            flow_id=context.state.session_id,
            payload="",
        )
        return self.shell.begin_step(context, self.signin, request, state_key=STATE_KEY)

    def _resume(self, context: Context) -> Response:
        done = self.shell.finish_step(context, self.signin, state_key=STATE_KEY)
        ctx = done.decision.context
        employee = self.rt.employees.get(ctx.employee_id)
        if employee is None or not employee.can_sign_in:
            raise AccessDenied("this account no longer exists or is disabled")
        subject = subject_from_employee(employee)
        subject_id = values_of(self.settings.subject_id, subject=subject, context=ctx)
        if not subject_id:
            raise AccessDenied(f"this account has no {self.settings.subject_id} to sign in with")
        data = InternalData(
            auth_info=AuthenticationInformation(
                auth_class_ref=done.decision.authn_context_class_ref,
                timestamp=ctx.auth_time.isoformat(),
                issuer=self.rt.config.base_url,
            ),
            subject_id=subject_id[0],
            attributes={
                name: list(values_of(source, subject=subject, context=ctx))
                for name, source in self.settings.attributes.items()
            },
        )
        return self.auth_callback_func(context, data)

    def get_metadata_desc(self) -> list[Any]:
        return []


class HideezPages(RequestMicroService):  # type: ignore[misc]
    """Serves the shared sign-in page, its scripts and the step endpoints; passes requests on."""

    def __init__(self, config: Any, internal_attributes: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shell = shell_for(shared_runtime(parse_pages(config, plugin=self.name)))

    def register_endpoints(self) -> list[tuple[str, Any]]:
        return self.shell.step_endpoints()

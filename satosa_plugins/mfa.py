"""``MfaMicroService``: a second factor of ours after whatever upstream IdP signed the user in.

A SATOSA response micro-service. For a requester whose rule asks for MFA, unless the upstream
already asserted an accepted authentication context, it matches the upstream subject to an
employee, keeps the upstream result server-side (:mod:`idp.flows.stepup`), and sends the browser
to the shared sign-in page. Back at ``/hideez/mfa/resume`` the kept result continues the chain
(``self.next``) with ``auth_info.auth_class_ref`` set from the policy — only if the factor was
done for that employee, requester, upstream sign-in and SATOSA state. Every other outcome is an
error page: the chain never continues on a failure (fail closed). SATOSA's state cookie is
encrypted but not authenticated, so nothing in it is trusted beyond naming the kept result.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any

from satosa.context import Context
from satosa.internal import InternalData
from satosa.micro_services.base import ResponseMicroService
from satosa.response import Response

from idp.audit import AuditKind, Outcome
from idp.directory.matching import match_employee
from idp.directory.model import Employee
from idp.errors import AccessDenied
from idp.flows.answers import Answer, Redirect
from idp.flows.login_page import enrolled_factors
from idp.flows.stepup import StepUp, StepUpRequest
from idp.runtime import shared_runtime
from satosa_plugins.config import WithoutFactor, check_policies, parse_mfa
from satosa_plugins.shell import shell_for, upstream_instant

log = logging.getLogger("hideez_idp.satosa")

STATE_KEY = "HIDEEZ_MFA"
RESUME_PATH = "/hideez/mfa/resume"


class NoFactorEnrolled(AccessDenied):
    error = "no_factor_enrolled"


class MfaMicroService(ResponseMicroService):  # type: ignore[misc]
    def __init__(self, config: Any, internal_attributes: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = parse_mfa(config, plugin=self.name)
        self.rt = shared_runtime(self.settings.idp_config)
        check_policies(self.settings, self.rt.config, plugin=self.name)
        self.shell = shell_for(self.rt)
        self.stepup = StepUp(self.rt, self.shell.engine, resume_path=RESUME_PATH)

    def register_endpoints(self) -> list[tuple[str, Any]]:
        resume = self.shell.endpoint(self._resume)
        return [(f"^{RESUME_PATH.strip('/')}$", resume), *self.shell.step_endpoints()]

    def process(self, context: Context, data: InternalData) -> Response:
        # The instance serves every request of the worker: the data travels as an argument.
        return self.shell.endpoint(functools.partial(self._begin, data=data))(context)

    # -- after the upstream sign-in ----------------------------------------------------------
    def _begin(self, context: Context, *, data: InternalData) -> Response:
        rule = self.settings.rule_for(data.requester)
        upstream = data.auth_info.auth_class_ref
        if not rule.mfa or (upstream and upstream in self.settings.skip_when_upstream_asserted):
            log.info("mfa not needed: requester=%s upstream=%s", data.requester, upstream)
            return self.next(context, data)
        match = self.settings.match
        employee = match_employee(
            employees=self.rt.employees,
            by=match.by,
            values=match.values(subject_id=data.subject_id, attributes=data.attributes),
            scope=match.scope,
        )
        if not employee.can_sign_in:
            raise AccessDenied("this account is disabled; ask your administrator")
        policy = rule.policy or self.rt.config.policies.default
        factors = self.rt.config.policies.get(policy).factors
        if not enrolled_factors(self.rt, employee.id) & factors:
            return self.shell.send(self._without_factor(employee, data), self.shell.visit(context))
        request = StepUpRequest(
            employee_id=employee.id,
            username=employee.username,
            relying_party=data.requester or "",
            display_name=rule.display_name or _display_name(data),
            policy=policy,
            upstream_authn_at=upstream_instant(data.auth_info.timestamp, self.rt.now()),
            flow_id=context.state.session_id,
            payload=json.dumps(data.to_dict()),
        )
        return self.shell.begin_step(context, self.stepup, request, state_key=STATE_KEY)

    def _without_factor(self, employee: Employee, data: InternalData) -> Answer:
        rt = self.rt
        if self.settings.without_factor is WithoutFactor.DENY:
            rt.audit.append_event(
                kind=AuditKind.LOGIN_FAILURE,
                at=rt.now(),
                actor=employee.id,
                employee_id=employee.id,
                relying_party=data.requester,
                outcome=Outcome.FAILURE,
                reason="second factor required, none enrolled",
                details={"protocol": "stepup"},
            )
            raise NoFactorEnrolled(
                "this service needs a second factor and your account has none yet; "
                "ask your administrator for an enrolment link"
            )
        token, _ = rt.enrolment.create(
            employee_id=employee.id, created_by="satosa-mfa", now=rt.now()
        )
        rt.audit.append_event(
            kind=AuditKind.ENROLMENT_LINK_CREATED,
            at=rt.now(),
            actor="satosa-mfa",
            employee_id=employee.id,
            outcome=Outcome.SUCCESS,
            details={"username": employee.username, "requester": data.requester or ""},
        )
        return Answer(Redirect(rt.config.url(f"/enrol/{token}")))

    # -- back from the sign-in page ----------------------------------------------------------
    def _resume(self, context: Context) -> Response:
        done = self.shell.finish_step(context, self.stepup, state_key=STATE_KEY)
        data = InternalData.from_dict(json.loads(done.request.payload))
        data.auth_info.auth_class_ref = done.decision.authn_context_class_ref
        log.info(
            "mfa done: requester=%s employee=%s acr=%s",
            data.requester,
            done.request.employee_id,
            done.decision.authn_context_class_ref,
        )
        return self.next(context, data)


def _display_name(data: InternalData) -> str | None:
    """The requester's name from its metadata (SATOSA: a list of {lang, text}), English first."""
    names = [n for n in (data.requester_name or []) if isinstance(n, dict) and n.get("text")]
    names.sort(key=lambda n: n.get("lang") != "en")
    return str(names[0]["text"])[:200] if names else None

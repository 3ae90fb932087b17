"""MfaMicroService decisions before any page, with SATOSA's own Context and InternalData:
who is asked, who passes, and what an employee without a factor gets. (The pages and the
whole chain are in tests/e2e/satosa.)"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from satosa.context import Context
from satosa.internal import AuthenticationInformation, InternalData
from satosa.state import State

from idp.audit import AuditKind
from idp.directory.model import SsoMode
from idp.runtime import Runtime
from satosa_plugins.mfa import STATE_KEY, MfaMicroService

SP = "https://sp.example.org"
REFEDS_MFA = "https://refeds.org/profile/mfa"


def service(idp_config: Path, **changes: Any) -> tuple[MfaMicroService, list[InternalData]]:
    config: dict[str, Any] = {
        "idp_config": str(idp_config),
        "match": {"attribute": "mail", "by": "email"},
        "skip_when_upstream_asserted": [REFEDS_MFA],
        "requesters": {
            "default": {"policy": "default"},
            "https://wiki.example.org": {"mfa": False},
        },
    }
    config.update(changes)
    mfa = MfaMicroService(config, {}, name="mfa", base_url="http://localhost")
    passed: list[InternalData] = []

    def next_(context: Context, data: InternalData) -> str:
        passed.append(data)
        return "next"

    mfa.next = next_
    return mfa, passed


def context() -> Context:
    ctx = Context()
    ctx.state = State()
    ctx.request_method = "GET"
    ctx.cookie = ""
    ctx.http_headers = {"REMOTE_ADDR": "127.0.0.1"}
    return ctx


def data(mail: str, *, requester: str = SP, class_ref: str = "urn:x:password") -> InternalData:
    return InternalData(
        auth_info=AuthenticationInformation(
            auth_class_ref=class_ref, timestamp="2026-01-01T10:00:00Z", issuer="https://up"
        ),
        requester=requester,
        subject_id="upstream-id",
        attributes={"mail": [mail]},
    )


def test_a_requester_without_mfa_and_an_accepted_upstream_context_pass(
    idp_config: Path, runtime: Runtime
) -> None:
    mfa, passed = service(idp_config)
    assert (
        mfa.process(context(), data("alice@example.com", requester="https://wiki.example.org"))
        == "next"
    )
    assert mfa.process(context(), data("alice@example.com", class_ref=REFEDS_MFA)) == "next"
    assert [d.auth_info.auth_class_ref for d in passed] == ["urn:x:password", REFEDS_MFA]


def test_without_a_factor_deny_is_an_error_page_and_an_audit(
    idp_config: Path, runtime: Runtime
) -> None:
    mfa, passed = service(idp_config)
    ctx = context()
    response = mfa.process(ctx, data("bob@example.com"))
    assert response.status.startswith("403") and "second factor" in response.message
    assert passed == [] and STATE_KEY not in ctx.state
    event = runtime.audit.list(kind=AuditKind.LOGIN_FAILURE, limit=1).items[0]
    assert event.relying_party == SP and "none enrolled" in (event.reason or "")


def test_without_a_factor_enrol_sends_the_user_to_a_new_one_time_link(
    idp_config: Path, runtime: Runtime
) -> None:
    mfa, passed = service(idp_config, without_factor="enrol")
    response = mfa.process(context(), data("bob@example.com"))
    assert response.status.startswith("303")
    location = dict(response.headers)["Location"]
    assert location.startswith(runtime.config.url("/enrol/"))
    link = runtime.enrolment.peek(location.rsplit("/", 1)[1], now=runtime.now())
    assert link.employee_id == runtime.employees.get_by_username("bob").id  # type: ignore[union-attr]
    assert passed == []


def test_a_disabled_employee_is_refused(idp_config: Path, runtime: Runtime) -> None:
    bob = runtime.employees.get_by_username("bob")
    assert bob is not None
    runtime.employees.update(dataclasses.replace(bob, sso_mode=SsoMode.DISABLED))
    try:
        mfa, passed = service(idp_config)
        response = mfa.process(context(), data("bob@example.com"))
        assert response.status.startswith("403") and "disabled" in response.message
        assert passed == []
    finally:
        runtime.employees.update(bob)

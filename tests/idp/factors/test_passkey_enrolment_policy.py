"""Enrolment applies sign-in's user-verification rule, refusals are audited, browser-side
refusals can be reported, and a redeemed enrolment link is audited — against a running IdP.

The server runs with ``webauthn.user_verification: preferred`` and the demo's default policy
(user verification, REFEDS MFA): before the fix a key without UV enrolled there and then
never signed in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from idp.audit import AuditKind, Outcome
from idp.factors.passkey_options import ceremony_user_verification
from tests.e2e.helpers import PasskeyClient, _loads
from tests.e2e.saml_peer import sp_login
from tests.e2e.server import RunningServer, run_idp
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u

pytestmark = pytest.mark.e2e

RP_NAME = "  rp_name: Hideez IdP (demo)\n"
PREFERRED = {RP_NAME: RP_NAME + "  user_verification: preferred\n"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_idp(tmp_path_factory.mktemp("enrol-uv"), replace=PREFERRED) as srv:
        yield srv


@pytest.mark.parametrize(
    ("configured", "policy_requires", "expected"),
    [
        ("required", False, "required"),
        ("preferred", True, "required"),
        ("discouraged", True, "required"),
        ("preferred", False, "preferred"),
        ("discouraged", False, "discouraged"),
    ],
)
def test_the_strictest_user_verification_wins(
    configured: str, policy_requires: bool, expected: str
) -> None:
    assert (
        ceremony_user_verification(configured=configured, policy_requires=policy_requires)
        == expected
    )


def test_an_unknown_user_verification_setting_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="required, preferred or discouraged"):
        ceremony_user_verification(configured="sometimes", policy_requires=False)


class Enrolment:
    """One enrolment attempt by ``username`` through the endpoints, step by step."""

    def __init__(self, server: RunningServer, username: str) -> None:
        self.server, self.client = server, PasskeyClient(server)
        self.employee = server.employee(username)
        self.token = server.enrolment_link(username).rsplit("/", 1)[1]
        self.csrf = self.client._csrf(f"/enrol/{self.token}")

    def options(self) -> dict[str, Any]:
        answer = self.client.post_json(
            "/passkey/register/options", {"token": self.token}, self.csrf
        )
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def verify(self, flags: int, *, fmt: str = "none") -> Any:
        options = self.options()
        key = CraftedKey(user_handle=self.employee.id.encode(), rp_id="localhost")
        credential = key.register(
            unb64u(options["publicKey"]["challenge"]),
            flags=flags,
            fmt=fmt,
            origin=self.server.base_url,
        )
        body = {"token": self.token, "handle": options["handle"], "credential": _loads(credential)}
        return self.client.post_json("/passkey/register/verify", body, self.csrf)

    def report(self, body: dict[str, Any]) -> Any:
        return self.client.post_json("/passkey/register/report", body, self.csrf)


def events(server: RunningServer, kind: AuditKind, employee_id: str | None = None) -> list[Any]:
    return list(server.runtime.audit.list(kind=kind, employee_id=employee_id, limit=100).items)


def test_enrolment_options_ask_for_what_the_default_policy_needs(server: RunningServer) -> None:
    options = Enrolment(server, "alice").options()["publicKey"]
    # The setting says preferred, the default policy verifies its users: required wins.
    assert options["authenticatorSelection"]["userVerification"] == "required"


def test_a_key_that_cannot_verify_its_user_is_not_enrolled(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    attempt = Enrolment(server, "alice")
    before = len(events(server, AuditKind.PASSKEY_REGISTRATION_FAILED, attempt.employee.id))
    with caplog.at_level(logging.INFO, logger="hideez_idp"):
        refused = attempt.verify(UP, fmt="fido-u2f")
    assert refused.status_code == 401, refused.text
    body = refused.json()
    assert body["error"] == "user_verification_required"
    assert "cannot verify you (no PIN or biometric" in body["error_description"]
    assert "use a passkey or a key with a PIN" in body["error_description"]
    assert server.runtime.passkeys.list_for_employee(attempt.employee.id) == ()
    failures = events(server, AuditKind.PASSKEY_REGISTRATION_FAILED, attempt.employee.id)
    assert len(failures) == before + 1
    assert failures[0].reason.startswith("user_verification_required: this security key cannot")
    assert failures[0].details["error_id"] == body["error_id"]
    assert any(body["error_id"] in r.getMessage() for r in caplog.records)
    # The link is not used up: the same person enrols a key with a PIN next.
    accepted = attempt.verify(UP | UV)
    assert accepted.status_code == 200, accepted.text


def test_redeeming_an_enrolment_link_is_audited(server: RunningServer) -> None:
    attempt = Enrolment(server, "bob")
    assert attempt.verify(UP | UV).status_code == 200
    (stored,) = server.runtime.passkeys.list_for_employee(attempt.employee.id)
    redeemed = events(server, AuditKind.ENROLMENT_LINK_REDEEMED, attempt.employee.id)
    assert len(redeemed) == 1
    assert redeemed[0].outcome is Outcome.SUCCESS
    assert redeemed[0].at >= stored.created_at and redeemed[0].details["ip"] == "127.0.0.1"
    # A refused attempt redeems nothing, so it writes no such event.
    assert Enrolment(server, "bob").verify(UP).status_code == 401
    assert len(events(server, AuditKind.ENROLMENT_LINK_REDEEMED, attempt.employee.id)) == 1


def test_a_sign_in_without_user_verification_is_refused_logged_and_audited(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    client = PasskeyClient(server)
    client.enrol("alice", flags=UP | UV)
    employee = server.employee("alice")
    before = len(events(server, AuditKind.LOGIN_FAILURE, employee.id))
    with caplog.at_level(logging.INFO, logger="hideez_idp"):
        # No ticket: the setting (preferred) alone does not demand UV ...
        assert client.sign_in(flags=UP).status_code == 200
        # ... but a relying party's policy does, through the ticket.
        # The session has no UV, so the SP's request (default policy) sends us to sign in.
        asked = sp_login(client, server)
        assert asked.status_code == 303, asked.text
        ticket = asked.headers["Location"].split("ticket=", 1)[1]
        refused = client.sign_in(ticket=ticket, flags=UP)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error"] == "user_verification_required"
    failures = events(server, AuditKind.LOGIN_FAILURE, employee.id)
    assert len(failures) == before + 1
    assert failures[0].reason.startswith("user_verification_required:")
    assert failures[0].relying_party == "demo-sp"
    assert any(refused.json()["error_id"] in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/passkey/register/report", {"error": "NotAllowedError"}, "sign in first"),
        ("/passkey/login/report", {"error": "<script>"}, "must be one of NotAllowedError"),
        ("/passkey/login/report", {}, "'error' must be a non-empty string"),
        ("/passkey/login/report", {"error": "x" * 65}, "longer than 64"),
        ("/passkey/login/report", {"error": "NotAllowedError", "ticket": "stale"}, "expired"),
    ],
)
def test_a_bad_report_is_a_clear_4xx_and_records_nothing(
    server: RunningServer, path: str, body: dict[str, Any], needle: str
) -> None:
    client = PasskeyClient(server)
    csrf = client._csrf("/login")
    before = server.runtime.audit.list(limit=1).items
    answer = client.post_json(path, body, csrf)
    assert answer.status_code in (400, 401), answer.text
    assert needle in answer.json()["error_description"]
    assert server.runtime.audit.list(limit=1).items == before


@pytest.mark.parametrize("path", ["/passkey/register/report", "/passkey/login/report"])
def test_a_report_needs_the_csrf_token(server: RunningServer, path: str) -> None:
    client = PasskeyClient(server)
    client._csrf("/login")
    answer = client.post_json(path, {"error": "NotAllowedError"}, "0" * 64)
    assert answer.status_code == 400
    assert "CSRF" in answer.json()["error_description"]


def test_a_browser_refused_enrolment_is_logged_and_audited(
    server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    attempt = Enrolment(server, "alice")
    with caplog.at_level(logging.INFO, logger="hideez_idp"):
        answer = attempt.report({"error": "NotAllowedError", "token": attempt.token})
    assert answer.status_code == 200, answer.text
    (latest,) = server.runtime.audit.list(limit=1).items
    assert latest.kind is AuditKind.PASSKEY_REGISTRATION_FAILED
    assert latest.employee_id == attempt.employee.id
    assert latest.details["reported_by"] == "browser"
    assert latest.details["dom_exception"] == "NotAllowedError"
    # The reason is the server's own account of what it asked for (resident key by default,
    # UV from the default policy), not text from the browser.
    assert "resident_key: required" in latest.reason
    assert "user verification (PIN or biometric)" in latest.reason
    assert "U2F-only keys lack" in latest.reason
    assert any("refused in the browser" in r.getMessage() for r in caplog.records)
    # It is trusted for nothing else: the link still works.
    server.runtime.enrolment.peek(attempt.token, now=server.runtime.now())


def test_a_browser_refused_sign_in_is_audited_as_a_login_failure(server: RunningServer) -> None:
    client = PasskeyClient(server)
    csrf = client._csrf("/login")
    answer = client.post_json("/passkey/login/report", {"error": "SecurityError"}, csrf)
    assert answer.status_code == 200, answer.text
    (latest,) = server.runtime.audit.list(limit=1).items
    assert latest.kind is AuditKind.LOGIN_FAILURE and latest.outcome is Outcome.FAILURE
    assert latest.employee_id is None and latest.relying_party == "idp"
    assert latest.reason.startswith("browser reported SecurityError while signing in")


def test_reports_are_rate_limited(tmp_path_factory: pytest.TempPathFactory) -> None:
    limits = "limits:\n  login_attempts_per_minute: 3\n"
    with run_idp(
        tmp_path_factory.mktemp("report-limit"), with_sp=False, extra_config=limits
    ) as srv:
        client = PasskeyClient(srv)
        csrf = client._csrf("/login")
        body = {"error": "NotAllowedError"}
        statuses = [
            client.post_json("/passkey/login/report", body, csrf).status_code for _ in range(5)
        ]
        assert statuses == [200, 200, 200, 429, 429]
        assert len(srv.runtime.audit.list(kind=AuditKind.LOGIN_FAILURE, limit=100).items) == 3

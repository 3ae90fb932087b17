"""Registering a passkey: from an enrolment link, or signed in (the account page).

Adding a credential is as sensitive as signing in: a signed-in registration needs a sign-in
within :data:`REAUTH_SECONDS`; an enrolment link is redeemed only by a registration that
succeeded.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee, SsoMode
from idp.errors import AccessDenied, Conflict, IdpError, InvalidRequest, Unauthorized
from idp.factors import passkey
from idp.factors.challenges import consume_challenge, issue_challenge
from idp.factors.passkey_client_report import client_failure
from idp.factors.passkey_options import UserVerification
from idp.factors.registry import PasskeyCredential
from idp.flows.answers import Answer, Json
from idp.flows.browser import Browser
from idp.flows.fields import credential_json, str_field
from idp.flows.steps import Steps
from idp.sessions import AuthContext
from idp.store.sql.repositories.passkeys import check_credential_name

if TYPE_CHECKING:
    from idp.runtime import Runtime

REAUTH_SECONDS = 600
log = logging.getLogger("hideez_idp")


class Registration:
    def __init__(self, runtime: Runtime, steps: Steps) -> None:
        self._rt = runtime
        self._steps = steps

    def require_recent_sign_in(self, browser: Browser, *, action: str) -> str:
        """The signed-in employee's id, if they signed in recently enough for ``action``."""
        ctx = browser.session
        if ctx is None:
            raise Unauthorized("sign in first, or open your enrolment link again")
        if (self._rt.now() - ctx.auth_time).total_seconds() > REAUTH_SECONDS:
            raise RecentSignInRequired(action)
        return ctx.employee_id

    def registrant(
        self, data: Mapping[str, Any], *, browser: Browser
    ) -> tuple[Employee, str | None]:
        """Whose passkey this is: the enrolment link's employee, or the signed-in one."""
        rt = self._rt
        token = str_field(data, "token", max_len=128, required=False)
        if token is not None:
            employee_id = rt.enrolment.peek(token, now=rt.now()).employee_id
        else:
            employee_id = self.require_recent_sign_in(browser, action="adding a passkey")
        employee = rt.employees.get(employee_id)
        if employee is None or not employee.enabled:
            raise AccessDenied("this account is disabled; ask your administrator")
        return employee, token

    def _uv(self) -> UserVerification:
        # No relying party yet: the default policy is the one every sign-in starts from, so a
        # key it would refuse at sign-in is refused here (a U2F-only key cannot verify).
        return passkey.ceremony_user_verification(
            configured=self._rt.config.webauthn.user_verification,
            policy_requires=self._rt.config.policies.get(None).verifies_user,
        )

    def report_refusal(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        """An enrolment the browser refused before asking us (its DOMException name): logged
        and audited for the registrant, believed for nothing else."""
        rt = self._rt
        self._steps.check_rate(browser, scope="passkey-report")
        employee, _ = self.registrant(data, browser=browser)
        failure = client_failure(
            ceremony="create",
            dom_exception=str_field(data, "error", max_len=64) or "",
            resident_key_required=rt.config.webauthn.resident_key == "required",
            user_verification_required=self._uv() == "required",
        )
        log.info("passkey enrolment refused in the browser: %s (ip %s)", failure.reason, browser.ip)
        self._steps.audit_client_failure(
            failure, employee_id=employee.id, relying_party=None, browser=browser
        )
        return Answer(Json({"ok": True}))

    def options(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        rt = self._rt
        employee, _ = self.registrant(data, browser=browser)
        wa = rt.config.webauthn
        handle, challenge = issue_challenge(
            rt.ephemeral,
            purpose="register",
            bind=f"{browser.binding}|{employee.id}",
            ttl=wa.challenge_ttl,
        )
        options = passkey.registration_options(
            rp_id=wa.rp_id,
            rp_name=wa.rp_name,
            user_id=employee.id.encode(),
            user_name=employee.username,
            user_display_name=employee.full_name or employee.username,
            exclude_credentials=rt.passkeys.list_for_employee(employee.id),
            user_verification=self._uv(),
            resident_key=wa.resident_key,
            attestation=wa.attestation,
            challenge=challenge,
        )
        return Answer(Json({"handle": handle, "publicKey": json.loads(options)}))

    def verify(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        rt = self._rt
        employee, token = self.registrant(data, browser=browser)
        name = _credential_name(data)
        challenge = consume_challenge(
            rt.ephemeral,
            handle=str_field(data, "handle", max_len=128) or "",
            purpose="register",
            bind=f"{browser.binding}|{employee.id}",
        )
        try:
            credential = self._verified(data, challenge, employee, name)
        except IdpError as exc:
            rt.audit.append_event(
                kind=AuditKind.PASSKEY_REGISTRATION_FAILED,
                at=rt.now(),
                actor=employee.id,
                employee_id=employee.id,
                factor="passkey",
                outcome=Outcome.FAILURE,
                reason=f"{exc.error}: {exc.description}"[:500],
                details={"ip": browser.ip, "error_id": exc.error_id},
            )
            raise
        if token is not None:
            rt.enrolment.redeem(token, now=rt.now())
            rt.audit.append_event(
                kind=AuditKind.ENROLMENT_LINK_REDEEMED,
                at=rt.now(),
                actor=employee.id,
                employee_id=employee.id,
                outcome=Outcome.SUCCESS,
                details={"ip": browser.ip},
            )
        rt.passkeys.add(credential)
        rt.audit.append_event(
            kind=AuditKind.PASSKEY_REGISTERED,
            at=rt.now(),
            actor=employee.id,
            employee_id=employee.id,
            factor="passkey",
            outcome=Outcome.SUCCESS,
            details={
                "credential_id": credential.credential_id,
                "aaguid": credential.aaguid,
                "attestation": credential.attestation_format,
                "ip": browser.ip,
            },
        )
        session = self._first_session(employee, credential, token=token, browser=browser)
        return Answer(Json({"ok": True, "redirect": "/"}), session=session)

    def _first_session(self, employee: Employee, credential: PasskeyCredential, *,
                       token: str | None, browser: Browser) -> AuthContext | None:  # fmt: skip
        """A passwordless employee is signed in by their first passkey; a two-factor one signs
        in with the password and the passkey; SSO switched off gives no session."""
        if (
            browser.session is not None
            or token is None
            or not employee.can_sign_in
            or employee.sso_mode is not SsoMode.PASSWORDLESS
        ):
            return None
        now = self._rt.now()
        use = passkey.factor_use(credential, at=now, user_verified=credential.user_verified)
        return self._rt.sessions.create(employee_id=employee.id, factor=use, now=now)

    def _verified(
        self, data: Mapping[str, Any], challenge: bytes, employee: Employee, name: str
    ) -> PasskeyCredential:
        rt, wa = self._rt, self._rt.config.webauthn
        credential = passkey.verify_registration(
            response_json=credential_json(data),
            expected_challenge=challenge,
            expected_rp_id=wa.rp_id,
            expected_origins=wa.origins,
            require_user_verification=self._uv() == "required",
            allowed_aaguids=wa.allowed_aaguids,
            employee_id=employee.id,
            name=name,
            now=rt.now(),
        )
        if rt.passkeys.get(credential.credential_id) is not None:
            # §7.1 step 26: a credential id already registered (to anyone) is refused.
            raise Conflict("this authenticator's credential is already registered")
        return credential


class RecentSignInRequired(Unauthorized):
    error = "recent_sign_in_required"

    def __init__(self, action: str) -> None:
        super().__init__(f"sign in again (within {REAUTH_SECONDS // 60} minutes) before {action}")


def _credential_name(data: Mapping[str, Any]) -> str:
    # Checked before the ceremony: refusing it after the link was redeemed would burn the link.
    name = str_field(data, "name", max_len=64, required=False) or "Passkey"
    try:
        return check_credential_name(name)
    except ValueError:
        raise InvalidRequest(
            "field 'name' must be 1–64 printable characters (no tabs or line breaks)"
        ) from None

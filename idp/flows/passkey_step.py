"""The passkey factor step: WebAuthn sign-in options and assertion verification.

Challenges are single-use values in the short-lived store, bound to the browser.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.audit import AuditKind, Outcome
from idp.errors import AccessDenied, IdpError
from idp.factors import passkey
from idp.factors.challenges import consume_challenge, issue_challenge
from idp.factors.kinds import FactorKind
from idp.factors.passkey_client_report import client_failure
from idp.factors.passkey_decoys import decoy_credentials
from idp.factors.passkey_options import UserVerification
from idp.factors.registry import PasskeyCredential
from idp.flows.answers import Answer, Json
from idp.flows.browser import Browser
from idp.flows.fields import credential_json, str_field
from idp.flows.steps import StepDone, Steps
from idp.store.sql.repositories.passkeys import SignCountNotIncreased

if TYPE_CHECKING:
    from idp.runtime import Runtime

log = logging.getLogger("hideez_idp")


class PasskeyStep:
    kind = FactorKind.PASSKEY

    def __init__(self, runtime: Runtime, steps: Steps) -> None:
        self._rt = runtime
        self._steps = steps

    def _uv(self, required_by_ticket: bool) -> UserVerification:
        return passkey.ceremony_user_verification(
            configured=self._rt.config.webauthn.user_verification,
            policy_requires=required_by_ticket,
        )

    def begin(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        rt = self._rt
        ticket = self._steps.ticket(
            str_field(data, "ticket", max_len=64, required=False), browser=browser
        )
        username = str_field(data, "username", max_len=256, required=False)
        if ticket is not None and ticket.employee_id is not None:
            # Two-factor mode, password done: the second factor is that employee's.
            allow = list(rt.passkeys.list_for_employee(ticket.employee_id))
        else:
            allow = self._allowed(username)
        wa = rt.config.webauthn
        handle, challenge = issue_challenge(
            rt.ephemeral, purpose="login", bind=browser.binding, ttl=wa.challenge_ttl
        )
        options = passkey.authentication_options(
            rp_id=wa.rp_id,
            allow_credentials=allow,
            user_verification=self._uv(ticket is not None and ticket.require_user_verification),
            challenge=challenge,
        )
        return Answer(Json({"handle": handle, "publicKey": json.loads(options)}))

    def _allowed(self, username: str | None) -> list[PasskeyCredential]:
        if not username:
            return []
        rt = self._rt
        employee = rt.employees.get_by_username(username) or rt.employees.get_by_email(username)
        allow = list(rt.passkeys.list_for_employee(employee.id)) if employee else []
        # WebAuthn §14.6.2: an unknown name (or one without passkeys) gets stable decoys
        # shaped like a real enrolment, so the answer does not tell which accounts exist.
        return allow or list(
            decoy_credentials(salt=rt.config.pairwise_salt, username=username, now=rt.now())
        )

    def report_refusal(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        """A sign-in the browser refused before asking us (its DOMException name): logged
        and audited as a login failure, believed for nothing else."""
        self._steps.check_rate(browser, scope="passkey-report")
        ticket = self._steps.ticket(
            str_field(data, "ticket", max_len=64, required=False), browser=browser
        )
        failure = client_failure(
            ceremony="get",
            dom_exception=str_field(data, "error", max_len=64) or "",
            resident_key_required=False,
            user_verification_required=self._uv(
                ticket is not None and ticket.require_user_verification
            )
            == "required",
        )
        log.info("passkey sign-in refused in the browser: %s (ip %s)", failure.reason, browser.ip)
        self._steps.audit_client_failure(
            failure,
            employee_id=None,
            relying_party=ticket.relying_party if ticket else "idp",
            browser=browser,
        )
        return Answer(Json({"ok": True}))

    def finish(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        self._steps.check_rate(browser)
        handle = str_field(data, "ticket", max_len=64, required=False)
        ticket = self._steps.ticket(handle, browser=browser)
        challenge = consume_challenge(
            self._rt.ephemeral,
            handle=str_field(data, "handle", max_len=128) or "",
            purpose="login",
            bind=browser.binding,
        )
        response_json = credential_json(data)
        owner: str | None = None
        try:
            credential = self._credential(response_json)
            owner = credential.employee_id
            done = self._verify(
                credential,
                response_json,
                challenge,
                ticket is not None and ticket.require_user_verification,
                browser,
            )
            if ticket is not None and ticket.employee_id not in (None, done.employee.id):
                raise AccessDenied("this passkey belongs to another account than the password")
            return self._steps.complete(done, handle=handle, ticket=ticket, browser=browser)
        except IdpError as exc:
            self._steps.audit_failure(
                employee_id=owner, factor=self.kind, ticket=ticket, browser=browser, exc=exc
            )
            raise

    def _credential(self, response_json: str) -> PasskeyCredential:
        credential = self._rt.passkeys.get(passkey.credential_id_of(response_json))
        if credential is None:
            raise passkey.UnknownCredential(
                "this passkey is not registered here; use another or ask for a new enrolment link"
            )
        return credential

    def _verify(
        self,
        credential: PasskeyCredential,
        response_json: str,
        challenge: bytes,
        uv: bool,
        browser: Browser,
    ) -> StepDone:
        rt, wa = self._rt, self._rt.config.webauthn
        employee = rt.directory.get(credential.employee_id)
        if employee is None or not employee.can_sign_in:
            raise AccessDenied("this account is disabled; ask your administrator")
        try:
            result = passkey.verify_authentication(
                response_json=response_json,
                expected_challenge=challenge,
                expected_rp_id=wa.rp_id,
                expected_origins=wa.origins,
                credential=credential,
                require_user_verification=self._uv(uv) == "required",
                now=rt.now(),
                expected_user_handle=employee.id.encode(),
            )
            # A conditional update: a concurrent sign-in with a copy of the key loses here.
            rt.passkeys.record_use(
                credential.credential_id,
                new_sign_count=result.new_sign_count,
                backed_up=result.backed_up,
                at=rt.now(),
            )
        except (passkey.ClonedAuthenticatorSuspected, SignCountNotIncreased) as exc:
            rt.audit.append_event(
                kind=AuditKind.PASSKEY_CLONE_SUSPECTED,
                at=rt.now(),
                actor=employee.id,
                employee_id=employee.id,
                factor="passkey",
                outcome=Outcome.FAILURE,
                reason=exc.description[:500],
                details={"credential_id": credential.credential_id, "ip": browser.ip},
            )
            raise ClonedPasskey() from None
        return StepDone(employee, result.factor_use)


class ClonedPasskey(AccessDenied):
    """Shown to the user in plain words; the counters go to the audit for the administrator."""

    error = "cloned_authenticator_suspected"
    status = 401

    def __init__(self) -> None:
        super().__init__(
            "this passkey looks like a cloned copy of another one, so it was blocked to protect "
            "your account; use another passkey and tell your administrator"
        )

"""Adding an authenticator app or TOTP, from the enrolment link page or the account page.

Whose factor it is comes from :meth:`Registration.registrant` (the enrolment link's
employee, or the signed-in one after a recent sign-in), exactly as for a passkey.

- App: a one-time token (``enrolment_minutes``) behind a QR code; the app registers with it
  through :class:`idp.flows.device_api.DeviceApi`; the page asks :meth:`app_status`.
- TOTP: a new secret is shown once (text and ``otpauth://`` QR) and kept, encrypted, in the
  short-lived store until the employee types a first code (:meth:`totp_confirm`); only then
  is it stored (encrypted with the secrets envelope) and it replaces an earlier one.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee
from idp.errors import InvalidRequest, SecretsLocked
from idp.factors.authenticator import enrolment, totp, wire
from idp.factors.authenticator.errors import EnrolmentTokenInvalid, TotpError, TotpNotEnrolled
from idp.factors.authenticator.model import TotpCredential
from idp.factors.kinds import FactorKind
from idp.flows.answers import Answer, Json
from idp.flows.browser import Browser
from idp.flows.fields import str_field
from idp.flows.registration import Registration
from idp.flows.totp_step import SECRET_PURPOSE
from idp.secrets import secret_aad

if TYPE_CHECKING:
    from idp.runtime import Runtime

_PENDING_TOTP = "totp-pending:"
PENDING_TOTP_TTL = 600


class AppEnrolment:
    def __init__(self, runtime: Runtime, registration: Registration) -> None:
        self._rt = runtime
        self._registration = registration

    def invite(self, token: str) -> wire.EnrolmentInvite:
        """The QR code's content for a live token (nothing is drawn for a dead one)."""
        if enrolment.peek_token(self._rt.ephemeral, token) is None:
            raise EnrolmentTokenInvalid("this enrolment code was already used or has expired")
        return wire.EnrolmentInvite(server=self._rt.config.base_url, token=token)

    def app_start(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        rt, minutes = self._rt, self._rt.config.authenticator.enrolment_minutes
        employee, _ = self._registration.registrant(data, browser=browser)
        token = enrolment.issue_token(rt.ephemeral, employee_id=employee.id, ttl=minutes * 60)
        invite = wire.EnrolmentInvite(server=rt.config.base_url, token=token)
        return Answer(Json({"token": token, "uri": invite.uri(), "expires_in": minutes * 60}))

    def app_status(self, data: Mapping[str, Any]) -> Answer:
        token = str_field(data, "token", max_len=128) or ""
        name = enrolment.enrolled_with(self._rt.ephemeral, token)
        return Answer(Json({"enrolled": name is not None, "device": name}))

    def totp_start(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        rt, settings = self._rt, self._rt.config.authenticator.totp
        employee, _ = self._registration.registrant(data, browser=browser)
        secret = totp.new_secret()
        sealed = self._seal(employee, secret)
        rt.ephemeral.put(_PENDING_TOTP + employee.id, sealed, ttl=PENDING_TOTP_TTL)
        uri = totp.provisioning_uri(
            secret=secret,
            account=employee.email or employee.username,
            issuer=settings.issuer,
            algorithm=settings.algorithm,
            digits=settings.digits,
            period=settings.period,
        )
        svg = enrolment.qr_svg(uri)
        return Answer(
            Json(
                {
                    "secret": secret,
                    "uri": uri,
                    "qr": "data:image/svg+xml;base64," + base64.b64encode(svg).decode(),
                    "digits": settings.digits,
                }
            )
        )

    def _seal(self, employee: Employee, secret: str) -> bytes:
        if self._rt.secrets.locked:
            raise SecretsLocked(
                "one-time codes need the secrets envelope, which is locked on this server "
                "(no master_key); ask your administrator"
            )
        aad = secret_aad(SECRET_PURPOSE, employee.id)
        return self._rt.secrets.encrypt(secret.encode("ascii"), aad=aad)

    def totp_confirm(self, data: Mapping[str, Any], *, browser: Browser) -> Answer:
        rt, settings = self._rt, self._rt.config.authenticator.totp
        employee, _ = self._registration.registrant(data, browser=browser)
        code = str_field(data, "code", max_len=totp.MAX_CODE_FIELD) or ""
        sealed = rt.ephemeral.get(_PENDING_TOTP + employee.id)
        if sealed is None:
            raise TotpNotEnrolled("no new code set-up is waiting; start again")
        secret = rt.secrets.decrypt(sealed, aad=secret_aad(SECRET_PURPOSE, employee.id))
        now = rt.now()
        try:
            match = totp.verify_code(
                secret=secret.decode("ascii"), code=code, now=now, algorithm=settings.algorithm,
                digits=settings.digits, period=settings.period, last_used_step=None,
            )  # fmt: skip
        except TotpError:
            raise InvalidRequest(
                "that code does not match the new secret; type the code your app shows now"
            ) from None
        rt.ephemeral.delete(_PENDING_TOTP + employee.id)
        replaced = rt.authenticator.totp.put(
            TotpCredential(
                employee_id=employee.id, secret_encrypted=sealed, algorithm=settings.algorithm,
                digits=settings.digits, period=settings.period, created_at=now, confirmed=True,
                last_used_step=match.step,
            )
        )  # fmt: skip
        rt.audit.append_event(
            kind=AuditKind.FACTOR_ADDED,
            at=now,
            actor=employee.id,
            employee_id=employee.id,
            factor=FactorKind.TOTP.value,
            outcome=Outcome.SUCCESS,
            reason="replaced the earlier one-time code set-up" if replaced else None,
            details=_details(browser, settings.algorithm, settings.digits),
        )
        return Answer(Json({"ok": True}))


def _details(browser: Browser, algorithm: str, digits: int) -> dict[str, str]:
    return {"ip": browser.ip, "algorithm": algorithm, "digits": str(digits)}

"""The app-facing API: device registration, polling for challenges, signed answers.

Every request is device-signed (:func:`idp.factors.authenticator.signing.
verify_device_request`); a registration is signed by the key it registers (proof of
possession) and spends its one-time token only after the signature verified, so a forger
cannot burn someone's enrolment code. See docs/authenticator-protocol.md.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.audit import AuditKind, Outcome
from idp.factors.authenticator import push, wire
from idp.factors.authenticator.enrolment import parse_registration, redeem_token
from idp.factors.authenticator.errors import (
    ChallengeNotYours,
    DeviceDisabled,
    InvalidDeviceInput,
    UnknownDevice,
)
from idp.factors.authenticator.model import Device, DeviceStatus
from idp.factors.authenticator.signing import device_id_of, verify_device_request
from idp.factors.kinds import FactorKind
from idp.flows.answers import Answer, Json
from idp.flows.logout import Logout
from idp.flows.push_step import audit_answer

if TYPE_CHECKING:
    from idp.runtime import Runtime

#: how stale ``last_seen_at`` may get (seconds) before a poll updates it
TOUCH_EVERY = 300


def _json_object(body: bytes) -> dict[str, Any]:
    if len(body) > wire.MAX_BODY:
        raise InvalidDeviceInput(f"request body is larger than {wire.MAX_BODY} bytes")
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidDeviceInput("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InvalidDeviceInput("request body must be a JSON object")
    return data


@dataclasses.dataclass(frozen=True)
class SignedRequest:
    """A device request as the shell read it (the path without its query)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes


class DeviceApi:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def _verify(self, request: SignedRequest, public_key: bytes, device_id: str) -> None:
        rt = self._rt
        verify_device_request(
            public_key=public_key,
            method=request.method,
            path=request.path,
            body=request.body,
            headers=request.headers,
            expected_device_id=device_id,
            now=rt.now(),
            nonces=rt.ephemeral,
            max_skew=rt.config.authenticator.max_clock_skew,
        )

    def _device(self, request: SignedRequest) -> Device:
        rt = self._rt
        device = rt.authenticator.devices.get(device_id_of(request.headers))
        if device is None:
            raise UnknownDevice("this device is not enrolled here (or was removed); enrol again")
        self._verify(request, device.public_key, device.device_id)
        if not device.usable:
            raise DeviceDisabled("this device was disabled by an administrator")
        return device

    def signed_by(self, request: SignedRequest) -> Device:
        """The enrolled, usable device that signed ``request`` (for the other app APIs:
        PC login by phone, :mod:`idp.flows.pc_login`)."""
        return self._device(request)

    def register(self, request: SignedRequest) -> Answer:
        rt, settings = self._rt, self._rt.config.authenticator
        registration = parse_registration(_json_object(request.body))
        self._verify(request, registration.public_key, registration.device_id)
        employee_id = redeem_token(
            rt.ephemeral,
            registration.token,
            device_name=registration.display_name,
            ttl=settings.enrolment_minutes * 60,
        )
        employee = rt.employees.get(employee_id)
        if employee is None or not employee.enabled:
            raise UnknownDevice("the account this code was made for is disabled or gone")
        device = Device(
            device_id=registration.device_id,
            employee_id=employee.id,
            public_key=registration.public_key,
            display_name=registration.display_name,
            platform=registration.platform,
            status=DeviceStatus.ACTIVE,
            created_at=rt.now(),
            push_provider=registration.push_provider,
            push_token=registration.push_token,
        )
        replaced = rt.authenticator.devices.replace_for_employee(device)
        details = {"device_id": device.device_id, "platform": device.platform}
        if replaced is not None:
            details["replaced_device_id"] = replaced.device_id
        rt.audit.append_event(
            kind=AuditKind.FACTOR_ADDED,
            at=rt.now(),
            actor=employee.id,
            employee_id=employee.id,
            factor=FactorKind.AUTHENTICATOR_APP.value,
            outcome=Outcome.SUCCESS,
            reason="re-enrolment replaced the earlier device" if replaced else None,
            details=details,
        )
        return Answer(
            Json(
                {
                    "device_id": device.device_id,
                    "username": employee.username,
                    "server": rt.config.base_url,
                    "replaced": replaced is not None,
                }
            )
        )

    def challenges(self, request: SignedRequest) -> Answer:
        """The device's waiting challenge (at most one), with what the person judges it by."""
        rt = self._rt
        device = self._device(request)
        seen = device.last_seen_at
        if seen is None or (rt.now() - seen).total_seconds() > TOUCH_EVERY:
            # Coarse on purpose: a phone polls every few seconds; a write per poll buys nothing.
            rt.authenticator.devices.touch(device.device_id, at=rt.now())
        waiting = push.outstanding(rt.ephemeral, employee_id=device.employee_id, now=rt.now())
        found = [waiting.for_app()] if waiting and waiting.device_id == device.device_id else []
        return Answer(Json({"challenges": found}))

    def answer(self, transaction_id: str, request: SignedRequest) -> Answer:
        rt = self._rt
        device = self._device(request)
        body = _json_object(request.body)
        approve, number, reason, uv, nonce = _answer_fields(body)
        challenge = push.load_challenge(rt.ephemeral, transaction_id)
        if challenge.device_id != device.device_id:
            raise ChallengeNotYours("this sign-in request was sent to another device")
        if nonce != challenge.nonce:
            raise InvalidDeviceInput("the answer does not carry this request's nonce")
        answer = push.record_answer(
            rt.ephemeral, challenge, device_id=device.device_id, approve=approve, number=number,
            reason=reason, user_verified=uv, now=rt.now(),
        )  # fmt: skip
        audit_answer(rt, challenge, answer)
        if not approve and reason == "not_me":
            self._reported(device, challenge)
        return Answer(Json({"ok": True, "decision": answer.decision.value}))

    def _reported(self, device: Device, challenge: push.PushChallenge) -> None:
        """ "This wasn't me": counted for the administrator, audited, the employee's sessions
        ended through the one sign-out (someone else knows enough to start a sign-in), and by
        policy the employee's SSO suspended (an administrator enables it again)."""
        rt = self._rt
        rt.authenticator.devices.record_report(device.device_id)
        suspend = rt.config.authenticator.suspend_sso_on_report
        employee = rt.employees.get(device.employee_id)
        suspended = suspend and employee is not None and employee.enabled
        if suspended and employee is not None:
            rt.employees.update(dataclasses.replace(employee, enabled=False))
            rt.directory.invalidate(employee.id)
        rt.audit.append_event(
            kind=AuditKind.PUSH_REPORTED,
            at=rt.now(),
            actor=device.employee_id,
            employee_id=device.employee_id,
            relying_party=challenge.relying_party,
            factor=FactorKind.AUTHENTICATOR_APP.value,
            outcome=Outcome.FAILURE,
            reason="the employee reported a sign-in request they did not make",
            details={
                "ip": challenge.ip,
                "user_agent": challenge.user_agent[:200],
                "device_id": device.device_id,
                "sso_suspended": "yes" if suspended else "no",
            },
        )
        Logout(rt).end_everywhere(
            device.employee_id, reason="push_reported", actor=device.employee_id
        )


def _answer_fields(body: Mapping[str, Any]) -> tuple[bool, int | None, str | None, bool, str]:
    unknown = sorted(set(body) - {"nonce", "decision", "number", "reason", "user_verified"})
    if unknown:
        raise InvalidDeviceInput(f"unknown fields: {', '.join(unknown)[:200]}")
    decision = body.get("decision")
    if decision not in wire.DECISIONS:
        raise InvalidDeviceInput(f"field 'decision' must be one of {', '.join(wire.DECISIONS)}")
    number = body.get("number")
    if decision == "approve" and (
        not isinstance(number, int) or isinstance(number, bool) or not 10 <= number <= 99
    ):
        raise InvalidDeviceInput("an approval needs field 'number': the two-digit number chosen")
    reason = body.get("reason")
    if decision == "deny" and reason not in wire.DENY_REASONS:
        raise InvalidDeviceInput(f"a denial needs field 'reason': {' or '.join(wire.DENY_REASONS)}")
    uv = body.get("user_verified", False)
    if not isinstance(uv, bool):
        raise InvalidDeviceInput("field 'user_verified' must be true or false")
    nonce = body.get("nonce")
    if not isinstance(nonce, str) or len(nonce) > 64:
        raise InvalidDeviceInput("field 'nonce' must be the challenge's nonce")
    return decision == "approve", number if decision == "approve" else None, reason, uv, nonce

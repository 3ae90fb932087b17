"""The app's PC-login API: unlock the workstation whose lock-screen QR the phone scanned, and
lock the employee's workstations from the phone. Both are device-signed requests, verified
by :meth:`idp.flows.device_api.DeviceApi.signed_by` before anything else is read; the work is
:class:`idp.workstations.phone.PhonePcLogin`'s. See docs/workstations.md (PC login).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idp.factors.authenticator.errors import UnknownDevice
from idp.factors.authenticator.model import Device
from idp.flows.answers import Answer, Json
from idp.flows.device_api import DeviceApi, SignedRequest, _json_object
from idp.workstations.errors import InvalidPcLoginRequest
from idp.workstations.pc_logon import PcLogonRepository
from idp.workstations.phone import PcLoginRequest, PhonePcLogin
from idp.workstations.services import build_workstations

if TYPE_CHECKING:
    from idp.directory.model import Employee
    from idp.runtime import Runtime

LOGIN_PATH = "/api/authenticator/v1/pc-login"
LOCK_PATH = "/api/authenticator/v1/pc-lock"


class PcLoginApi:
    def __init__(self, runtime: Runtime, device_api: DeviceApi) -> None:
        self._rt = runtime
        self._devices = device_api
        parts = build_workstations(runtime)
        self.phone = PhonePcLogin(
            registry=parts.registry,
            journal=parts.journal,
            pc_logon=PcLogonRepository(
                runtime.db,
                default_enabled=runtime.config.workstations.pc_login.default_enabled,
            ),
            store=runtime.ephemeral,
            audit=runtime.audit,
            ca=parts.ca,
            settings=runtime.config.workstations.pc_login,
            clock=runtime.clock,
        )

    def _holder(self, request: SignedRequest) -> tuple[Device, Employee]:
        device = self._devices.signed_by(request)
        employee = self._rt.employees.get(device.employee_id)
        if employee is None:
            raise UnknownDevice("the account this app was enrolled for is gone")
        return device, employee

    def login(self, request: SignedRequest) -> Answer:
        device, employee = self._holder(request)
        login = PcLoginRequest.from_json(_json_object(request.body))
        done = self.phone.login(device=device, employee=employee, request=login)
        body: dict[str, object] = {
            "ok": True,
            "workstation_id": done.workstation.id,
            "workstation_name": done.workstation.info.name,
            "method": done.method,
        }
        if done.offline is not None:
            body["offline"] = done.offline
        return Answer(Json(body))

    def lock(self, request: SignedRequest) -> Answer:
        device, employee = self._holder(request)
        fields = _json_object(request.body) if request.body else {}
        unknown = sorted(set(fields) - {"workstation_id"})
        if unknown:
            raise InvalidPcLoginRequest(f"unknown fields: {', '.join(unknown)[:200]}")
        target = fields.get("workstation_id")
        if target is not None and not isinstance(target, str):
            raise InvalidPcLoginRequest("field 'workstation_id' must be a workstation id (ws-…)")
        done = self.phone.lock(device=device, employee=employee, workstation_id=target)
        return Answer(Json({"ok": True, "locked": list(done.workstation_ids)}))

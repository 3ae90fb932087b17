"""An employee's authenticator app and TOTP as API/console resources: typed models over the
actions of :mod:`idp.admin.devices` (which ``hideez-idp device …`` calls too). Nothing here
can read a TOTP secret or a push token back."""

from __future__ import annotations

import datetime as dt

from idp.admin import devices
from idp.admin.access import Actor, Permission, requires
from idp.admin.devices import EmployeeNotFound
from idp.admin.models import Output
from idp.directory.model import Employee
from idp.factors.authenticator.model import Device, DeviceStatus
from idp.runtime import Runtime
from idp.workstations.offline_revocations import OfflineRevocations


class DeviceOut(Output):
    device_id: str
    display_name: str
    platform: str
    status: DeviceStatus
    push: str
    created_at: dt.datetime
    last_seen_at: dt.datetime | None
    reported_count: int

    @classmethod
    def of(cls, d: Device) -> DeviceOut:
        push = "unregistered" if d.push_unregistered_at else (d.push_provider or "polling")
        return cls(
            device_id=d.device_id, display_name=d.display_name, platform=d.platform,
            status=d.status, push=push, created_at=d.created_at, last_seen_at=d.last_seen_at,
            reported_count=d.reported_count,
        )  # fmt: skip


class FactorsOut(Output):
    """The employee's app (null when none is enrolled) and whether TOTP is set up."""

    app: DeviceOut | None
    totp_enrolled: bool


class DeviceService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    def _employee(self, employee_id: str) -> Employee:
        found = self._rt.employees.get(employee_id[:64])
        if found is None:
            raise EmployeeNotFound(f"no employee {employee_id[:64]!r}")
        return found

    @requires(Permission.FACTORS_READ)
    def factors(self, actor: Actor, employee_id: str) -> FactorsOut:
        auth, username = self._rt.authenticator, self._employee(employee_id).username
        found = devices.summary(
            employees=self._rt.employees, devices=auth.devices, totp=auth.totp, username=username
        )
        app = DeviceOut.of(found.device) if found.device else None
        return FactorsOut(app=app, totp_enrolled=found.totp_enrolled)

    @requires(Permission.FACTORS_WRITE)
    def set_app_enabled(self, actor: Actor, employee_id: str, enabled: bool) -> DeviceOut:
        device = devices.set_device_status(
            employees=self._rt.employees, devices=self._rt.authenticator.devices,
            audit=self._rt.audit, revocations=self._revocations(),
            username=self._employee(employee_id).username,
            status=DeviceStatus.ACTIVE if enabled else DeviceStatus.DISABLED,
            actor=actor.name, now=self._rt.now(),
        )  # fmt: skip
        return DeviceOut.of(device)

    @requires(Permission.FACTORS_WRITE)
    def remove_app(self, actor: Actor, employee_id: str) -> None:
        devices.remove_device(
            employees=self._rt.employees, devices=self._rt.authenticator.devices,
            audit=self._rt.audit, revocations=self._revocations(),
            username=self._employee(employee_id).username,
            actor=actor.name, now=self._rt.now(),
        )  # fmt: skip

    def _revocations(self) -> OfflineRevocations:
        return OfflineRevocations(self._rt.db, self._rt.ephemeral)

    @requires(Permission.FACTORS_WRITE)
    def remove_totp(self, actor: Actor, employee_id: str) -> None:
        devices.remove_totp(
            employees=self._rt.employees, totp=self._rt.authenticator.totp,
            audit=self._rt.audit, username=self._employee(employee_id).username,
            actor=actor.name, now=self._rt.now(),
        )  # fmt: skip

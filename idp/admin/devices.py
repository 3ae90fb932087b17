"""Administrative actions on employees' authenticator apps and TOTP, one function each.

Behind ``hideez-idp device …`` today and the REST API/console later; the account page calls
the removals for the employee's own factors (``actor`` is then the employee). Every change is
audited; nothing here can read a TOTP secret back (only whether one is set).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from idp.audit import AuditEntry, AuditKind, Outcome
from idp.directory.model import Employee
from idp.errors import NotFound
from idp.factors.authenticator.errors import NoDevice
from idp.factors.authenticator.model import Device, DeviceStatus
from idp.factors.authenticator.store import DeviceRepository, TotpRepository
from idp.factors.kinds import FactorKind
from idp.store.sql.repositories.audit import AuditRepository
from idp.store.sql.repositories.employees import EmployeeRepository
from idp.workstations.offline_revocations import OfflineRevocations


class EmployeeNotFound(NotFound):
    error = "employee_not_found"


@dataclass(frozen=True)
class FactorSummary:
    """What an administrator sees of one employee's app and TOTP (never the secret)."""

    username: str
    device: Device | None
    totp_enrolled: bool


def _employee(employees: EmployeeRepository, username: str) -> Employee:
    employee = employees.get_by_username(username)
    if employee is None:
        raise EmployeeNotFound(f"no employee with username {username!r}")
    return employee


def _device(devices: DeviceRepository, employee: Employee) -> Device:
    device = devices.for_employee(employee.id)
    if device is None:
        raise NoDevice(f"{employee.username} has no authenticator app enrolled")
    return device


def summary(
    *, employees: EmployeeRepository, devices: DeviceRepository, totp: TotpRepository,
    username: str,
) -> FactorSummary:  # fmt: skip
    employee = _employee(employees, username)
    return FactorSummary(
        username=employee.username,
        device=devices.for_employee(employee.id),
        totp_enrolled=totp.get(employee.id) is not None,
    )


def set_device_status(
    *,
    employees: EmployeeRepository,
    devices: DeviceRepository,
    audit: AuditRepository,
    revocations: OfflineRevocations,
    username: str,
    status: DeviceStatus,
    actor: str,
    now: dt.datetime,
) -> Device:
    """Disable the employee's app for sign-in (it stays enrolled; its offline PC-login codes
    are revoked) or enable it again."""
    employee = _employee(employees, username)
    device = _device(devices, employee)
    if device.status is status:
        return device
    devices.set_status(device.device_id, status)
    if status is not DeviceStatus.ACTIVE:
        revocations.revoke(device_id=device.device_id, reason="device_disabled", now=now)
    audit.append(
        AuditEntry(
            at=now, kind=AuditKind.ADMIN_CHANGE, actor=actor, employee_id=employee.id,
            outcome=Outcome.SUCCESS, factor=FactorKind.AUTHENTICATOR_APP.value,
            details={"device_id": device.device_id, "status": status.value,
                     "username": employee.username},
        )
    )  # fmt: skip
    return _device(devices, employee)


def remove_device(
    *,
    employees: EmployeeRepository,
    devices: DeviceRepository,
    audit: AuditRepository,
    revocations: OfflineRevocations,
    username: str,
    actor: str,
    now: dt.datetime,
) -> Device:
    """Remove the employee's app; its offline PC-login codes are revoked with it."""
    employee = _employee(employees, username)
    device = _device(devices, employee)
    devices.delete(device.device_id)
    revocations.revoke(device_id=device.device_id, reason="device_removed", now=now)
    audit.append(
        AuditEntry(
            at=now, kind=AuditKind.FACTOR_REMOVED, actor=actor, employee_id=employee.id,
            outcome=Outcome.SUCCESS, factor=FactorKind.AUTHENTICATOR_APP.value,
            details={"device_id": device.device_id, "username": employee.username},
        )
    )  # fmt: skip
    return device


def remove_totp(
    *,
    employees: EmployeeRepository,
    totp: TotpRepository,
    audit: AuditRepository,
    username: str,
    actor: str,
    now: dt.datetime,
) -> None:
    employee = _employee(employees, username)
    if not totp.delete(employee.id):
        raise NoDevice(f"{employee.username} has no one-time code (TOTP) set up")
    audit.append(
        AuditEntry(
            at=now, kind=AuditKind.FACTOR_REMOVED, actor=actor, employee_id=employee.id,
            outcome=Outcome.SUCCESS, factor=FactorKind.TOTP.value,
            details={"username": employee.username},
        )
    )  # fmt: skip

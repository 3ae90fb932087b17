"""The administrator's switch for PC login by phone, per authenticator app (audited)."""

from __future__ import annotations

import datetime as dt

from idp.admin.devices import _device, _employee
from idp.audit import AuditKind, Outcome
from idp.factors.authenticator.store import DeviceRepository
from idp.factors.kinds import FactorKind
from idp.store.sql.repositories.audit import AuditRepository
from idp.store.sql.repositories.employees import EmployeeRepository
from idp.workstations.offline_revocations import OfflineRevocations
from idp.workstations.pc_logon import PcLogonRepository, PcLogonSetting


def set_pc_logon(
    *,
    employees: EmployeeRepository,
    devices: DeviceRepository,
    pc_logon: PcLogonRepository,
    audit: AuditRepository,
    revocations: OfflineRevocations,
    username: str,
    enabled: bool,
    actor: str,
    now: dt.datetime,
) -> PcLogonSetting:
    """Let the employee's app unlock PCs, or stop it (sign-in approvals are not affected).

    Switching it off also revokes the app's offline-code grants: every connected workstation
    forgets them at once, one offline now when it next connects
    (:mod:`idp.workstations.offline_revocations`).
    """
    employee = _employee(employees, username)
    device = _device(devices, employee)
    setting = pc_logon.set(device.device_id, enabled=enabled, by=actor, now=now)
    if not enabled:
        revocations.revoke(device_id=device.device_id, reason="pc_logon_disabled", now=now)
    audit.append_event(
        kind=AuditKind.ADMIN_CHANGE,
        at=now,
        actor=actor,
        employee_id=employee.id,
        outcome=Outcome.SUCCESS,
        factor=FactorKind.AUTHENTICATOR_APP.value,
        details={
            "device_id": device.device_id,
            "pc_logon": "enabled" if enabled else "disabled",
            "username": employee.username,
        },
    )
    return setting


def pc_logon_of(
    *,
    employees: EmployeeRepository,
    devices: DeviceRepository,
    pc_logon: PcLogonRepository,
    username: str,
) -> PcLogonSetting:
    employee = _employee(employees, username)
    return pc_logon.get(_device(devices, employee).device_id)

"""PC login and remote lock from the phone: what the device API calls once the request's
device signature verified (see idp.flows.pc_login for the HTTP side).

:meth:`PhonePcLogin.login` runs, in order: PC logon enabled for this device, the employee
enabled, the lock-screen QR redeemed (single use, bound to its workstation), the logon check
(alarm off, workstation approved), then the credential — the password the app holds, sealed
to the workstation's key, or, without a password and with a logon CA, a short-lived smart
card logon certificate — published as a command to whichever link server holds the
workstation. Every outcome is audited; nothing secret is stored or logged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from idp.audit import AuditKind, Outcome
from idp.config.workstations import PcLoginSettings
from idp.directory.model import Employee
from idp.errors import IdpError
from idp.factors.authenticator.model import Device
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql.repositories.audit import AuditRepository
from idp.workstations import commands, offline, pclogin
from idp.workstations.ca import CertificateAuthority
from idp.workstations.errors import (
    InvalidPcLoginRequest,
    LogonRefused,
    NothingToLock,
    PcLogonDisabled,
)
from idp.workstations.journal import EventJournal
from idp.workstations.model import WORKSTATION_ID, Workstation
from idp.workstations.pc_logon import PcLogonRepository
from idp.workstations.registry import WorkstationRepository

_LOGIN_FIELDS = frozenset({"qr", "account", "password"})


@dataclass(frozen=True)
class PcLoginRequest:
    qr: str
    account: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> PcLoginRequest:
        unknown = sorted(set(body) - _LOGIN_FIELDS)
        if unknown:
            raise InvalidPcLoginRequest(f"unknown fields: {', '.join(unknown)[:200]}")
        qr, account, password = body.get("qr"), body.get("account"), body.get("password")
        if not isinstance(qr, str) or not qr or len(qr) > 512:
            raise InvalidPcLoginRequest("field 'qr' must be the lock-screen QR code's content")
        if (account is None) != (password is None):
            raise InvalidPcLoginRequest(
                "a password-based login needs both 'account' (DOMAIN\\user) and 'password'; "
                "a passwordless one neither"
            )
        if account is not None and (not isinstance(account, str) or not 0 < len(account) <= 255):
            raise InvalidPcLoginRequest("field 'account' must be the OS account, ≤ 255 characters")
        if password is not None and (
            not isinstance(password, str) or not 0 < len(password) <= pclogin.MAX_PASSWORD
        ):
            raise InvalidPcLoginRequest(
                f"field 'password' must be text of 1-{pclogin.MAX_PASSWORD} characters"
            )
        return cls(qr, account, password)


@dataclass(frozen=True)
class PcLoginDone:
    workstation: Workstation
    method: str
    command_id: str
    #: the offline-code grant for the phone (password-based logins, when configured)
    offline: dict[str, object] | None


@dataclass(frozen=True)
class LockDone:
    workstation_ids: tuple[str, ...]


class PhonePcLogin:
    def __init__(
        self,
        *,
        registry: WorkstationRepository,
        journal: EventJournal,
        pc_logon: PcLogonRepository,
        store: EphemeralStore,
        audit: AuditRepository,
        ca: CertificateAuthority | None,
        settings: PcLoginSettings,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.registry = registry
        self.journal = journal
        self.pc_logon = pc_logon
        self.store = store
        self.audit = audit
        self.ca = ca
        self.settings = settings
        self.clock = clock

    def login(self, *, device: Device, employee: Employee, request: PcLoginRequest) -> PcLoginDone:
        """Unlock the workstation whose QR the phone scanned; audited either way."""
        workstation_id: str | None = None
        try:
            self._may_use(device, employee)
            workstation_id = pclogin.redeem_qr(store=self.store, payload=request.qr)
            workstation = self.registry.require(workstation_id)
            pclogin.check_logon(
                workstation=workstation, employee=employee, alarm=self.registry.alarm()
            )
            done = self._deliver(workstation, employee, device, request)
        except IdpError as exc:
            self._audit(device, employee, workstation_id, "pc_login", Outcome.FAILURE, exc.error)
            raise
        self._audit(device, employee, workstation.id, "pc_login", Outcome.SUCCESS, done.method)
        return done

    def _may_use(self, device: Device, employee: Employee) -> None:
        if not self.pc_logon.get(device.device_id).enabled:
            raise PcLogonDisabled("PC logon is switched off for this app by an administrator")
        if not employee.enabled:
            raise LogonRefused(f"employee {employee.username!r} is deactivated")

    def _deliver(
        self, workstation: Workstation, employee: Employee, device: Device, request: PcLoginRequest
    ) -> PcLoginDone:
        now = self.clock()
        grant = None
        if request.password is not None and request.account is not None:
            command = pclogin.password_command(
                workstation=workstation, account=request.account, password=request.password
            )
            if self.settings.offline_codes:
                grant = offline.mint(
                    count=self.settings.offline_codes,
                    lifetime=dt.timedelta(hours=self.settings.offline_hours),
                    now=now,
                )
                command.body["offline"] = {
                    "device_id": device.device_id,
                    **grant.for_workstation(
                        public_key=workstation.public_key, workstation_id=workstation.id
                    ),
                }
        elif self.ca is not None:
            command = pclogin.certificate_command(
                ca=self.ca, workstation=workstation, account=employee.email, upn=employee.email,
                now=now,
            )  # fmt: skip
        else:
            raise LogonRefused(
                "passwordless PC login needs a logon CA (workstations.logon_ca); send the "
                "account and password for a password-based login"
            )
        # The gateway names the employee in its unlock event, so the session is theirs.
        command.body["employee"] = employee.username
        commands.publish(self.store, workstation.id, command)
        phone = None if grant is None else grant.for_phone(workstation_id=workstation.id)
        return PcLoginDone(workstation, str(command.body["method"]), command.id, phone)

    def lock(
        self, *, device: Device, employee: Employee, workstation_id: str | None = None
    ) -> LockDone:
        """Lock the workstations the employee has unlocked (or the one named of them)."""
        if workstation_id is not None and not WORKSTATION_ID.fullmatch(workstation_id):
            raise InvalidPcLoginRequest("field 'workstation_id' must be a workstation id (ws-…)")
        sessions = self.journal.sessions(employee_id=employee.id, open_only=True, limit=100)
        targets = sorted({s.workstation_id for s in sessions.items})
        if workstation_id is not None:
            targets = [t for t in targets if t == workstation_id]
        if not targets:
            what = f"{workstation_id} is not" if workstation_id else "no workstation is"
            self._audit(device, employee, workstation_id, "pc_lock", Outcome.FAILURE, "none")
            raise NothingToLock(f"{what} unlocked in your name: nothing to lock")
        for target in targets:
            commands.publish(self.store, target, commands.lock("phone"))
            self._audit(device, employee, target, "pc_lock", Outcome.SUCCESS, "lock")
        return LockDone(tuple(targets))

    def _audit(
        self,
        device: Device,
        employee: Employee,
        workstation_id: str | None,
        action: str,
        outcome: Outcome,
        what: str,
    ) -> None:
        self.audit.append_event(
            kind=AuditKind.WORKSTATION_EVENT,
            at=self.clock(),
            actor=employee.id,
            employee_id=employee.id,
            outcome=outcome,
            reason=None if outcome is Outcome.SUCCESS else what,
            details={
                "action": action,
                "workstation": workstation_id or "",
                "device_id": device.device_id,
                **({"method": what} if outcome is Outcome.SUCCESS else {}),
            },
        )

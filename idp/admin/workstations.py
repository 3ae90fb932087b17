"""Administrative actions on workstations and the emergency alarm, one method per action.

Behind the CLI today and the REST API/console later. Every action checks the actor's role
before anything changes, is audited with the acting admin, and tells the connected
workstations through the command channel (any link server instance delivers it).
"""

from __future__ import annotations

import datetime as dt

from idp.admin.actors import (
    AdminActor,
    AdminRole,
    FreshAuthentication,
    ReauthenticationRequired,
)
from idp.admin.proximity import push_settings
from idp.audit import AuditKind, Outcome
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql.repositories.audit import AuditRepository
from idp.workstations import commands
from idp.workstations.commands import Command, CommandKind
from idp.workstations.errors import InvalidWorkstationInput, WorkstationNotApproved
from idp.workstations.model import ProximitySettings, Workstation, WorkstationStatus
from idp.workstations.proximity import Calibration
from idp.workstations.proximity_store import ProximityRepository
from idp.workstations.registry import AlarmState, WorkstationRepository

_MANAGERS = (AdminRole.ADMIN, AdminRole.HELPDESK)
#: which status each action may start from
_FROM = {
    WorkstationStatus.APPROVED: {WorkstationStatus.PENDING, WorkstationStatus.UNAPPROVED},
    WorkstationStatus.UNAPPROVED: {WorkstationStatus.PENDING, WorkstationStatus.APPROVED},
    WorkstationStatus.REMOVED: {
        WorkstationStatus.PENDING,
        WorkstationStatus.APPROVED,
        WorkstationStatus.UNAPPROVED,
    },
}


class WorkstationAdmin:
    """The workstation actions over the registry, the audit and the command channel."""

    def __init__(
        self,
        registry: WorkstationRepository,
        audit: AuditRepository,
        store: EphemeralStore,
        *,
        calibration: Calibration | None = None,
    ) -> None:
        self.registry = registry
        self.audit = audit
        self.store = store
        #: the settings command carries the per-key settings and tags too (idp.admin.proximity)
        self.proximity = ProximityRepository(registry.database)
        self.calibration = calibration or Calibration()

    def set_status(
        self,
        *,
        actor: AdminActor,
        workstation_id: str,
        status: WorkstationStatus,
        now: dt.datetime,
    ) -> Workstation:
        """Approve, unapprove or remove a workstation (audited ``admin_change``)."""
        actor.require(*_MANAGERS, action=f"setting a workstation {status.value}")
        if status not in _FROM:
            raise InvalidWorkstationInput(f"status: approved, unapproved or removed, not {status}")
        current = self.registry.require(workstation_id)
        if current.status not in _FROM[status]:
            raise InvalidWorkstationInput(
                f"{workstation_id} is {current.status.value}; it cannot become {status.value}"
            )
        changed, before = self.registry.set_status(workstation_id, status, by=actor.name, now=now)
        self.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE,
            at=now,
            actor=actor.audit_actor,
            details={
                "action": f"workstation_{status.value}",
                "workstation": workstation_id,
                "name": changed.info.name,
                "from": before.value,
            },
        )
        commands.publish(
            self.store, workstation_id, Command(CommandKind.STATUS, {"status": status.value})
        )
        return changed

    def update_settings(
        self,
        *,
        actor: AdminActor,
        workstation_id: str,
        settings: ProximitySettings,
        now: dt.datetime,
    ) -> Workstation:
        actor.require(*_MANAGERS, action="changing workstation settings")
        if not self.registry.require(workstation_id).approved:
            raise WorkstationNotApproved("only approved workstations get proximity settings")
        changed = self.registry.set_settings(workstation_id, settings)
        self.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE,
            at=now,
            actor=actor.audit_actor,
            details={
                "action": "workstation_settings",
                "workstation": workstation_id,
                **{k: str(v) for k, v in settings.to_wire().items()},
            },
        )
        push_settings(self.store, changed, self.proximity, self.calibration)
        return changed

    def lock_workstation(
        self,
        *,
        actor: AdminActor,
        workstation_id: str,
        now: dt.datetime,
    ) -> Workstation:
        """Lock one workstation remotely (it must be approved; it locks if connected)."""
        actor.require(*_MANAGERS, action="locking a workstation")
        workstation = self.registry.require(workstation_id)
        if not workstation.approved:
            raise WorkstationNotApproved(f"{workstation_id} is {workstation.status.value}")
        self.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE,
            at=now,
            actor=actor.audit_actor,
            details={"action": "workstation_lock", "workstation": workstation_id},
        )
        commands.publish(self.store, workstation_id, commands.lock("admin"))
        return workstation

    def raise_alarm(
        self,
        *,
        actor: AdminActor,
        now: dt.datetime,
    ) -> AlarmState:
        """Lock every connected workstation and refuse unlocks until the alarm is lifted.

        The state is in the database first, so workstations that connect later (or to a server
        that restarted) are locked too.
        """
        actor.require(*_MANAGERS, action="raising the emergency alarm")
        state, changed = self.registry.set_alarm(active=True, by=actor.name, now=now)
        if changed:
            self.audit.append_event(kind=AuditKind.ALARM_RAISED, at=now, actor=actor.audit_actor)
        commands.publish(self.store, commands.ALL, commands.alarm(True))
        commands.publish(self.store, commands.ALL, commands.lock("alarm"))
        return state

    def lift_alarm(
        self,
        *,
        actor: AdminActor,
        proof: FreshAuthentication,
        now: dt.datetime,
    ) -> AlarmState:
        """Lift the alarm: an admin (not helpdesk) with a fresh authentication."""
        actor.require(AdminRole.ADMIN, action="lifting the emergency alarm")
        try:
            proof.check(actor, now=now, action="lifting the emergency alarm")
        except ReauthenticationRequired as exc:
            self.audit.append_event(
                kind=AuditKind.ALARM_LIFTED,
                at=now,
                actor=actor.audit_actor,
                outcome=Outcome.FAILURE,
                reason=exc.description,
            )
            raise
        state, changed = self.registry.set_alarm(active=False, by=actor.name, now=now)
        if changed:
            self.audit.append_event(
                kind=AuditKind.ALARM_LIFTED,
                at=now,
                actor=actor.audit_actor,
                details={"reauthenticated": proof.method},
            )
        commands.publish(self.store, commands.ALL, commands.alarm(False))
        return state

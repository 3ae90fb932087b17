"""Administrative actions on workstations and the emergency alarm, one method per action.

Behind the CLI, the REST API and the console. Every action checks the actor's permission
(:mod:`idp.admin.access`, the one role table) before anything changes, is audited with the
acting admin, and tells the connected workstations through the command channel (any link
server instance delivers it).
"""

from __future__ import annotations

import datetime as dt

from idp.admin.access import (
    Actor,
    Permission,
    ReauthenticationRequired,
    check,
    require_recent_sign_in,
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
        actor: Actor,
        workstation_id: str,
        status: WorkstationStatus,
        now: dt.datetime,
    ) -> Workstation:
        """Approve, unapprove or remove a workstation (audited ``admin_change``)."""
        check(actor, Permission.WORKSTATIONS_WRITE)
        if status not in _FROM:
            raise InvalidWorkstationInput(f"status: approved, unapproved or removed, not {status}")
        current = self.registry.require(workstation_id)
        if current.status not in _FROM[status]:
            raise InvalidWorkstationInput(
                f"{workstation_id} is {current.status.value}; it cannot become {status.value}"
            )
        changed, before = self.registry.set_status(
            workstation_id, status, by=actor.username, now=now
        )
        self.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE,
            at=now,
            actor=actor.name,
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
        actor: Actor,
        workstation_id: str,
        settings: ProximitySettings,
        now: dt.datetime,
    ) -> Workstation:
        check(actor, Permission.WORKSTATIONS_WRITE)
        if not self.registry.require(workstation_id).approved:
            raise WorkstationNotApproved("only approved workstations get proximity settings")
        changed = self.registry.set_settings(workstation_id, settings)
        self.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE,
            at=now,
            actor=actor.name,
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
        actor: Actor,
        workstation_id: str,
        now: dt.datetime,
    ) -> Workstation:
        """Lock one workstation remotely (it must be approved; it locks if connected)."""
        check(actor, Permission.WORKSTATIONS_WRITE)
        workstation = self.registry.require(workstation_id)
        if not workstation.approved:
            raise WorkstationNotApproved(f"{workstation_id} is {workstation.status.value}")
        self.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE,
            at=now,
            actor=actor.name,
            details={"action": "workstation_lock", "workstation": workstation_id},
        )
        commands.publish(self.store, workstation_id, commands.lock("admin"))
        return workstation

    def raise_alarm(
        self,
        *,
        actor: Actor,
        now: dt.datetime,
    ) -> AlarmState:
        """Lock every connected workstation and refuse unlocks until the alarm is lifted.

        The state is in the database first, so workstations that connect later (or to a server
        that restarted) are locked too.
        """
        check(actor, Permission.ALARM_RAISE)
        state, changed = self.registry.set_alarm(active=True, by=actor.username, now=now)
        if changed:
            self.audit.append_event(kind=AuditKind.ALARM_RAISED, at=now, actor=actor.name)
        commands.publish(self.store, commands.ALL, commands.alarm(True))
        commands.publish(self.store, commands.ALL, commands.lock("alarm"))
        return state

    def lift_alarm(
        self,
        *,
        actor: Actor,
        now: dt.datetime,
    ) -> AlarmState:
        """Lift the alarm: an admin (not helpdesk) who proved who they are moments ago
        (``actor.auth_time``, see :func:`~idp.admin.access.require_recent_sign_in`)."""
        check(actor, Permission.ALARM_LIFT)
        try:
            require_recent_sign_in(actor, now=now)
        except ReauthenticationRequired as exc:
            self.audit.append_event(
                kind=AuditKind.ALARM_LIFTED,
                at=now,
                actor=actor.name,
                outcome=Outcome.FAILURE,
                reason=exc.description,
            )
            raise
        state, changed = self.registry.set_alarm(active=False, by=actor.username, now=now)
        if changed:
            self.audit.append_event(
                kind=AuditKind.ALARM_LIFTED,
                at=now,
                actor=actor.name,
                details={"reauthenticated": actor.auth_method or "yes"},
            )
        commands.publish(self.store, commands.ALL, commands.alarm(False))
        return state

"""Administrative actions on workstations and the emergency alarm, one function per action.

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
from idp.audit import AuditKind, Outcome
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql.repositories.audit import AuditRepository
from idp.workstations import commands
from idp.workstations.commands import Command, CommandKind
from idp.workstations.errors import InvalidWorkstationInput, WorkstationNotApproved
from idp.workstations.model import ProximitySettings, Workstation, WorkstationStatus
from idp.workstations.registry import AlarmState, WorkstationRepository

_MANAGERS = (AdminRole.ADMIN, AdminRole.HELPDESK)
#: which status each action may start from
_FROM = {
    WorkstationStatus.APPROVED: {WorkstationStatus.PENDING, WorkstationStatus.UNAPPROVED},
    WorkstationStatus.UNAPPROVED: {WorkstationStatus.PENDING, WorkstationStatus.APPROVED},
    WorkstationStatus.REMOVED: {
        WorkstationStatus.PENDING, WorkstationStatus.APPROVED, WorkstationStatus.UNAPPROVED,
    },
}  # fmt: skip


def set_status(
    *,
    registry: WorkstationRepository,
    audit: AuditRepository,
    store: EphemeralStore,
    actor: AdminActor,
    workstation_id: str,
    status: WorkstationStatus,
    now: dt.datetime,
) -> Workstation:
    """Approve, unapprove or remove a workstation (audited ``admin_change``)."""
    actor.require(*_MANAGERS, action=f"setting a workstation {status.value}")
    if status not in _FROM:
        raise InvalidWorkstationInput(f"status: approved, unapproved or removed, not {status}")
    current = registry.require(workstation_id)
    if current.status not in _FROM[status]:
        raise InvalidWorkstationInput(
            f"{workstation_id} is {current.status.value}; it cannot become {status.value}"
        )
    changed, before = registry.set_status(workstation_id, status, by=actor.name, now=now)
    audit.append_event(
        kind=AuditKind.ADMIN_CHANGE,
        at=now,
        actor=actor.audit_actor,
        details={"action": f"workstation_{status.value}", "workstation": workstation_id,
                 "name": changed.info.name, "from": before.value},
    )  # fmt: skip
    commands.publish(store, workstation_id, Command(CommandKind.STATUS, {"status": status.value}))
    return changed


def update_settings(
    *,
    registry: WorkstationRepository,
    audit: AuditRepository,
    store: EphemeralStore,
    actor: AdminActor,
    workstation_id: str,
    settings: ProximitySettings,
    now: dt.datetime,
) -> Workstation:
    actor.require(*_MANAGERS, action="changing workstation settings")
    if not registry.require(workstation_id).approved:
        raise WorkstationNotApproved("only approved workstations get proximity settings")
    changed = registry.set_settings(workstation_id, settings)
    audit.append_event(
        kind=AuditKind.ADMIN_CHANGE,
        at=now,
        actor=actor.audit_actor,
        details={"action": "workstation_settings", "workstation": workstation_id,
                 **{k: str(v) for k, v in settings.to_wire().items()}},
    )  # fmt: skip
    commands.publish(store, workstation_id, Command(CommandKind.SETTINGS, settings.to_wire()))
    return changed


def lock_workstation(
    *,
    registry: WorkstationRepository,
    audit: AuditRepository,
    store: EphemeralStore,
    actor: AdminActor,
    workstation_id: str,
    now: dt.datetime,
) -> Workstation:
    """Lock one workstation remotely (it must be approved; it locks if connected)."""
    actor.require(*_MANAGERS, action="locking a workstation")
    workstation = registry.require(workstation_id)
    if not workstation.approved:
        raise WorkstationNotApproved(f"{workstation_id} is {workstation.status.value}")
    audit.append_event(
        kind=AuditKind.ADMIN_CHANGE,
        at=now,
        actor=actor.audit_actor,
        details={"action": "workstation_lock", "workstation": workstation_id},
    )
    commands.publish(store, workstation_id, commands.lock("admin"))
    return workstation


def raise_alarm(
    *,
    registry: WorkstationRepository,
    audit: AuditRepository,
    store: EphemeralStore,
    actor: AdminActor,
    now: dt.datetime,
) -> AlarmState:
    """Lock every connected workstation and refuse unlocks until the alarm is lifted.

    The state is in the database first, so workstations that connect later (or to a server
    that restarted) are locked too.
    """
    actor.require(*_MANAGERS, action="raising the emergency alarm")
    state, changed = registry.set_alarm(active=True, by=actor.name, now=now)
    if changed:
        audit.append_event(kind=AuditKind.ALARM_RAISED, at=now, actor=actor.audit_actor)
    commands.publish(store, commands.ALL, commands.alarm(True))
    commands.publish(store, commands.ALL, commands.lock("alarm"))
    return state


def lift_alarm(
    *,
    registry: WorkstationRepository,
    audit: AuditRepository,
    store: EphemeralStore,
    actor: AdminActor,
    proof: FreshAuthentication,
    now: dt.datetime,
) -> AlarmState:
    """Lift the alarm: an admin (not helpdesk) with a fresh authentication."""
    actor.require(AdminRole.ADMIN, action="lifting the emergency alarm")
    try:
        proof.check(actor, now=now, action="lifting the emergency alarm")
    except ReauthenticationRequired as exc:
        audit.append_event(
            kind=AuditKind.ALARM_LIFTED,
            at=now,
            actor=actor.audit_actor,
            outcome=Outcome.FAILURE,
            reason=exc.description,
        )
        raise
    state, changed = registry.set_alarm(active=False, by=actor.name, now=now)
    if changed:
        audit.append_event(
            kind=AuditKind.ALARM_LIFTED,
            at=now,
            actor=actor.audit_actor,
            details={"reauthenticated": proof.method},
        )
    commands.publish(store, commands.ALL, commands.alarm(False))
    return state

"""Administrative actions on proximity: per workstation × key settings and RFID tags.

Like :mod:`idp.admin.workstations`: the actor's permission (``workstations:write``, the one
role table of :mod:`idp.admin.access`) is checked first, every change is
audited (``admin_change``) and the workstations concerned are sent their new ``settings``
command at once through the command channel (an offline one gets it in its next welcome).
"""

from __future__ import annotations

import datetime as dt

from idp.admin.access import Actor, Permission, check
from idp.audit import AuditKind
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql.repositories.audit import AuditRepository
from idp.workstations import commands
from idp.workstations.errors import WorkstationNotApproved
from idp.workstations.model import ProximitySettings, Workstation, WorkstationStatus
from idp.workstations.proximity import Calibration
from idp.workstations.proximity_store import KeySettings, ProximityRepository, RfidTag
from idp.workstations.registry import WorkstationRepository

_PAGE = 500


def push_settings(
    store: EphemeralStore,
    workstation: Workstation,
    proximity: ProximityRepository,
    calibration: Calibration,
) -> None:
    """Send ``workstation`` the settings command it would get in its welcome."""
    body = proximity.policy_for(workstation, calibration).to_wire()
    commands.publish(store, workstation.id, commands.Command(commands.CommandKind.SETTINGS, body))


class ProximityAdmin:
    def __init__(
        self,
        *,
        registry: WorkstationRepository,
        proximity: ProximityRepository,
        audit: AuditRepository,
        store: EphemeralStore,
        calibration: Calibration,
    ) -> None:
        self.registry = registry
        self.proximity = proximity
        self.audit = audit
        self.store = store
        self.calibration = calibration

    def _approved(self, workstation_id: str) -> Workstation:
        workstation = self.registry.require(workstation_id)
        if not workstation.approved:
            raise WorkstationNotApproved(
                f"{workstation_id} is {workstation.status.value}: only approved workstations "
                "get proximity settings"
            )
        return workstation

    def _audit(self, actor: Actor, now: dt.datetime, **details: str) -> None:
        self.audit.append_event(
            kind=AuditKind.ADMIN_CHANGE, at=now, actor=actor.name, details=details
        )

    def set_key_settings(
        self,
        *,
        actor: Actor,
        workstation_id: str,
        serial: str,
        settings: ProximitySettings,
        now: dt.datetime,
    ) -> KeySettings:
        check(actor, Permission.WORKSTATIONS_WRITE)
        workstation = self._approved(workstation_id)
        saved = self.proximity.set_key(
            workstation_id=workstation_id,
            serial=serial,
            settings=settings,
            by=actor.username,
            now=now,
        )
        wire = {k: str(v) for k, v in settings.to_wire().items()}
        self._audit(
            actor,
            now,
            action="proximity_set",
            workstation=workstation_id,
            key=saved.key_serial,
            **wire,
        )
        push_settings(self.store, workstation, self.proximity, self.calibration)
        return saved

    def reset_key_settings(
        self, *, actor: Actor, workstation_id: str, serial: str, now: dt.datetime
    ) -> Workstation:
        """The key follows the workstation's own settings again (returned)."""
        check(actor, Permission.WORKSTATIONS_WRITE)
        workstation = self._approved(workstation_id)
        self.proximity.reset_key(workstation_id=workstation_id, serial=serial)
        self._audit(actor, now, action="proximity_reset", workstation=workstation_id, key=serial)
        push_settings(self.store, workstation, self.proximity, self.calibration)
        return workstation

    def assign_tag(self, *, actor: Actor, tag: str, serial: str, now: dt.datetime) -> RfidTag:
        check(actor, Permission.WORKSTATIONS_WRITE)
        assigned = self.proximity.assign_tag(tag=tag, serial=serial, by=actor.username, now=now)
        self._audit(actor, now, action="rfid_assign", tag=assigned.tag, key=assigned.key_serial)
        self._push_everywhere()
        return assigned

    def remove_tag(self, *, actor: Actor, tag: str, now: dt.datetime) -> RfidTag:
        check(actor, Permission.WORKSTATIONS_WRITE)
        removed = self.proximity.remove_tag(tag)
        self._audit(actor, now, action="rfid_remove", tag=removed.tag, key=removed.key_serial)
        self._push_everywhere()
        return removed

    def _push_everywhere(self) -> None:
        """Tags are the same at every workstation: every approved one gets new settings."""
        offset = 0
        while True:
            page = self.registry.list(status=WorkstationStatus.APPROVED, offset=offset, limit=_PAGE)
            for workstation in page.items:
                push_settings(self.store, workstation, self.proximity, self.calibration)
            offset += _PAGE
            if offset >= page.total:
                return

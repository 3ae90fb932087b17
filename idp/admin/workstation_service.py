"""Workstations and the emergency alarm as API/console resources: typed models over
:class:`idp.admin.workstations.WorkstationAdmin` (which the CLI calls too), so every shell
has the same permission checks, transitions, audit and workstation commands."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

from idp.admin.access import Actor, Permission, requires
from idp.admin.models import (
    Input,
    Output,
    Page,
    check_if_match,
    decode_cursor,
    encode_cursor,
    field_error,
)
from idp.admin.workstations import WorkstationAdmin
from idp.runtime import Runtime
from idp.workstations.errors import InvalidWorkstationInput
from idp.workstations.model import ProximitySettings, Workstation, WorkstationStatus
from idp.workstations.registry import AlarmState, WorkstationRepository

_CURSOR = "workstations"


class WorkstationOut(Output):
    id: str
    name: str
    domain: str
    os: str
    ip: str
    client_version: str
    status: WorkstationStatus
    lock_proximity: int
    unlock_proximity: int
    lock_timeout: int
    registered_at: dt.datetime
    last_seen_at: dt.datetime | None
    approved_by: str | None
    approved_at: dt.datetime | None

    @classmethod
    def of(cls, w: Workstation) -> WorkstationOut:
        return cls(
            id=w.id, name=w.info.name, domain=w.info.domain, os=w.info.os, ip=w.info.ip,
            client_version=w.info.client_version, status=w.status,
            lock_proximity=w.settings.lock_proximity,
            unlock_proximity=w.settings.unlock_proximity, lock_timeout=w.settings.lock_timeout,
            registered_at=w.registered_at, last_seen_at=w.last_seen_at,
            approved_by=w.approved_by, approved_at=w.approved_at,
        )  # fmt: skip


class WorkstationQuery(Input):
    status: WorkstationStatus | None = None
    search: str | None = Field(default=None, max_length=128)
    limit: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class StatusAction(StrEnum):
    APPROVE = "approve"
    UNAPPROVE = "unapprove"
    REMOVE = "remove"


_TARGET = {
    StatusAction.APPROVE: WorkstationStatus.APPROVED,
    StatusAction.UNAPPROVE: WorkstationStatus.UNAPPROVED,
    StatusAction.REMOVE: WorkstationStatus.REMOVED,
}


class SettingsUpdate(Input):
    """Proximity: lock below ``lock_proximity`` for ``lock_timeout`` s, unlock above
    ``unlock_proximity`` (0–100 from RSSI; unlock must be above lock)."""

    lock_proximity: int = Field(ge=0, le=100)
    unlock_proximity: int = Field(ge=0, le=100)
    lock_timeout: int = Field(ge=1, le=300)


class AlarmOut(Output):
    active: bool
    raised_at: dt.datetime | None
    raised_by: str | None
    lifted_at: dt.datetime | None
    lifted_by: str | None
    #: registered workstations by status
    workstations: dict[str, int]


class WorkstationService:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._registry = WorkstationRepository(runtime.db)
        self._actions = WorkstationAdmin(
            self._registry,
            runtime.audit,
            runtime.ephemeral,
            calibration=runtime.config.workstations.proximity.calibration,
        )

    @requires(Permission.WORKSTATIONS_READ)
    def page(self, actor: Actor, query: WorkstationQuery) -> Page[WorkstationOut]:
        offset = 0
        state = {"status": query.status.value if query.status else None, "search": query.search}
        if query.cursor is not None:
            saved = decode_cursor(_CURSOR, query.cursor)
            offset_value = saved.pop("offset", None)
            if not isinstance(offset_value, int) or offset_value < 0 or saved != state:
                raise field_error("cursor", "not a cursor of this filter; start again")
            offset = offset_value
        found = self._registry.list(
            status=query.status, text=query.search, offset=offset, limit=query.limit
        )
        following = offset + len(found.items)
        more = following < found.total
        return Page[WorkstationOut](
            items=[WorkstationOut.of(w) for w in found.items],
            next_cursor=encode_cursor(_CURSOR, {**state, "offset": following}) if more else None,
        )

    @requires(Permission.WORKSTATIONS_READ)
    def get(self, actor: Actor, workstation_id: str) -> WorkstationOut:
        return WorkstationOut.of(self._registry.require(workstation_id[:64]))

    @requires(Permission.WORKSTATIONS_WRITE)
    def set_status(self, actor: Actor, workstation_id: str, action: StatusAction) -> WorkstationOut:
        done = self._actions.set_status(
            actor=actor, workstation_id=workstation_id[:64], status=_TARGET[action],
            now=self._rt.now(),
        )  # fmt: skip
        return WorkstationOut.of(done)

    @requires(Permission.WORKSTATIONS_WRITE)
    def lock(self, actor: Actor, workstation_id: str) -> WorkstationOut:
        done = self._actions.lock_workstation(
            actor=actor, workstation_id=workstation_id[:64], now=self._rt.now()
        )
        return WorkstationOut.of(done)

    @requires(Permission.WORKSTATIONS_WRITE)
    def update_settings(
        self, actor: Actor, workstation_id: str, body: SettingsUpdate, *, if_match: str | None
    ) -> WorkstationOut:
        check_if_match(if_match, self.get(actor, workstation_id))
        try:
            settings = ProximitySettings(
                body.lock_proximity, body.unlock_proximity, body.lock_timeout
            )
        except InvalidWorkstationInput as exc:  # the one rule across fields: unlock above lock
            raise field_error("unlock_proximity", exc.description) from None
        done = self._actions.update_settings(
            actor=actor, workstation_id=workstation_id[:64], settings=settings, now=self._rt.now()
        )
        return WorkstationOut.of(done)

    def _alarm(self, state: AlarmState) -> AlarmOut:
        counts = self._registry.counts()
        return AlarmOut(
            active=state.active, raised_at=state.raised_at, raised_by=state.raised_by,
            lifted_at=state.lifted_at, lifted_by=state.lifted_by,
            workstations={s.value: counts.get(s, 0) for s in WorkstationStatus},
        )  # fmt: skip

    @requires(Permission.WORKSTATIONS_READ)
    def alarm(self, actor: Actor) -> AlarmOut:
        return self._alarm(self._registry.alarm())

    @requires(Permission.ALARM_RAISE)
    def raise_alarm(self, actor: Actor) -> AlarmOut:
        return self._alarm(self._actions.raise_alarm(actor=actor, now=self._rt.now()))

    @requires(Permission.ALARM_LIFT)
    def lift_alarm(self, actor: Actor) -> AlarmOut:
        """Needs a sign-in within the last minutes (an API key never has one)."""
        return self._alarm(self._actions.lift_alarm(actor=actor, now=self._rt.now()))

"""Admin actions on workstations and the alarm: role checks, transitions, audit, fresh
re-authentication for the lift; a refused action changes nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from idp.admin.access import Actor, PermissionDenied, ReauthenticationRequired, Role
from idp.admin.workstations import WorkstationAdmin
from idp.audit import AuditKind, Outcome
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql import AuditRepository, Database
from idp.workstations import commands
from idp.workstations.errors import (
    InvalidWorkstationInput,
    WorkstationNotApproved,
    WorkstationNotFound,
)
from idp.workstations.model import ProximitySettings, WorkstationInfo, WorkstationStatus
from idp.workstations.registry import WorkstationRepository

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
ROOT = Actor("admin:root", Role.ADMIN)
HELPDESK = Actor("admin:hd", Role.HELPDESK)
AUDITOR = Actor("admin:aud", Role.AUDITOR)
WS = "ws-" + "a" * 32


@pytest.fixture
def parts(db: Database, ephemeral: EphemeralStore) -> WorkstationAdmin:
    registry = WorkstationRepository(db)
    registry.register(
        workstation_id=WS,
        public_key="k",
        info=WorkstationInfo("pc-1", "CORP", "Win", "10.0.0.1", "1"),
        now=NOW,
    )
    return WorkstationAdmin(registry, AuditRepository(db), ephemeral)


def test_approval_by_a_non_admin_is_refused_and_changes_nothing(parts: WorkstationAdmin) -> None:
    registry = parts.registry
    with pytest.raises(PermissionDenied, match="the auditor role may not do this"):
        parts.set_status(
            actor=AUDITOR,
            workstation_id=WS,
            status=WorkstationStatus.APPROVED,
            now=NOW,
        )
    assert registry.require(WS).status is WorkstationStatus.PENDING
    audit = parts.audit
    assert audit.list().total == 0


def test_approve_unapprove_remove_are_audited_and_announced(
    parts: WorkstationAdmin, ephemeral: EphemeralStore
) -> None:
    subscription = ephemeral.subscribe(commands.CHANNEL)
    try:
        for status in (
            WorkstationStatus.APPROVED,
            WorkstationStatus.UNAPPROVED,
            WorkstationStatus.APPROVED,
            WorkstationStatus.REMOVED,
        ):
            parts.set_status(
                actor=HELPDESK,
                workstation_id=WS,
                status=status,
                now=NOW,
            )
            message = subscription.get(2)
            assert message is not None
            target, command = commands.routed(message)
            assert (target, command.body) == (WS, {"status": status.value})
    finally:
        subscription.close()
    audit = parts.audit
    actions = [e.details["action"] for e in audit.list(newest_first=False).items]
    assert actions == [
        "workstation_approved",
        "workstation_unapproved",
        "workstation_approved",
        "workstation_removed",
    ]
    with pytest.raises(InvalidWorkstationInput, match="is removed; it cannot become approved"):
        parts.set_status(
            actor=ROOT,
            workstation_id=WS,
            status=WorkstationStatus.APPROVED,
            now=NOW,
        )


def test_unknown_workstation_and_unapproved_lock_are_refused(parts: WorkstationAdmin) -> None:
    with pytest.raises(WorkstationNotFound):
        parts.lock_workstation(
            actor=ROOT,
            workstation_id="ws-" + "b" * 32,
            now=NOW,
        )
    with pytest.raises(WorkstationNotApproved):
        parts.lock_workstation(actor=ROOT, workstation_id=WS, now=NOW)
    with pytest.raises(WorkstationNotApproved, match="only approved"):
        parts.update_settings(
            actor=ROOT,
            workstation_id=WS,
            now=NOW,
            settings=ProximitySettings(),
        )


@pytest.mark.parametrize(
    ("lock", "unlock", "timeout", "message"),
    [(70, 30, 5, "must be above"), (30, 101, 5, "0-100"), (30, 70, 0, "1-300")],
)
def test_proximity_settings_are_checked(lock: int, unlock: int, timeout: int, message: str) -> None:
    with pytest.raises(InvalidWorkstationInput, match=message):
        ProximitySettings(lock, unlock, timeout)


def test_alarm_lift_needs_an_admin_with_a_fresh_authentication(parts: WorkstationAdmin) -> None:
    registry, audit = parts.registry, parts.audit
    with pytest.raises(PermissionDenied):
        parts.raise_alarm(actor=AUDITOR, now=NOW)
    assert not registry.alarm().active
    parts.raise_alarm(actor=HELPDESK, now=NOW)
    parts.raise_alarm(actor=ROOT, now=NOW)  # idempotent
    assert registry.alarm().active and registry.alarm().raised_by == "hd"
    fresh = dataclasses.replace(ROOT, auth_time=NOW - dt.timedelta(minutes=1), auth_method="pwd")
    helpdesk = dataclasses.replace(HELPDESK, auth_time=NOW)
    with pytest.raises(PermissionDenied, match=r"helpdesk role may not do this .*alarm:lift"):
        parts.lift_alarm(actor=helpdesk, now=NOW)
    stale = dataclasses.replace(ROOT, auth_time=NOW - dt.timedelta(minutes=30))
    with pytest.raises(ReauthenticationRequired, match="last 5 minutes"):
        parts.lift_alarm(actor=stale, now=NOW)
    future = dataclasses.replace(ROOT, auth_time=NOW + dt.timedelta(minutes=3))
    with pytest.raises(ReauthenticationRequired, match="in the future"):
        parts.lift_alarm(actor=future, now=NOW)
    with pytest.raises(ReauthenticationRequired, match="an API key cannot do it"):
        parts.lift_alarm(actor=ROOT, now=NOW)  # no proof at all
    assert registry.alarm().active
    parts.lift_alarm(actor=fresh, now=NOW)
    state = registry.alarm()
    assert not state.active and state.lifted_by == "root" and state.lifted_at == NOW
    kinds = [(e.kind, e.outcome) for e in audit.list(newest_first=False).items]
    assert kinds == [
        (AuditKind.ALARM_RAISED, Outcome.SUCCESS),
        (AuditKind.ALARM_LIFTED, Outcome.FAILURE),
        (AuditKind.ALARM_LIFTED, Outcome.FAILURE),
        (AuditKind.ALARM_LIFTED, Outcome.FAILURE),
        (AuditKind.ALARM_LIFTED, Outcome.SUCCESS),
    ]

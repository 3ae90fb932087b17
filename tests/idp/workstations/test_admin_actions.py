"""Admin actions on workstations and the alarm: role checks, transitions, audit, fresh
re-authentication for the lift; a refused action changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.admin.actors import (
    AdminActor,
    AdminRole,
    FreshAuthentication,
    NotPermitted,
    ReauthenticationRequired,
)
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
ROOT = AdminActor("root", AdminRole.ADMIN)
HELPDESK = AdminActor("hd", AdminRole.HELPDESK)
AUDITOR = AdminActor("aud", AdminRole.AUDITOR)
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
    with pytest.raises(NotPermitted, match="needs the admin or helpdesk role; aud is auditor"):
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
    with pytest.raises(NotPermitted):
        parts.raise_alarm(actor=AUDITOR, now=NOW)
    assert not registry.alarm().active
    parts.raise_alarm(actor=HELPDESK, now=NOW)
    parts.raise_alarm(actor=ROOT, now=NOW)  # idempotent
    assert registry.alarm().active and registry.alarm().raised_by == "hd"
    fresh = FreshAuthentication("root", NOW - dt.timedelta(minutes=1), "pwd")
    with pytest.raises(NotPermitted, match="lifting the emergency alarm needs the admin role"):
        parts.lift_alarm(actor=HELPDESK, proof=fresh, now=NOW)
    stale = FreshAuthentication("root", NOW - dt.timedelta(minutes=30), "pwd")
    with pytest.raises(ReauthenticationRequired, match="last 5 minutes"):
        parts.lift_alarm(actor=ROOT, proof=stale, now=NOW)
    someone_else = FreshAuthentication("mallory", NOW, "pwd")
    with pytest.raises(ReauthenticationRequired, match="not 'root'"):
        parts.lift_alarm(actor=ROOT, proof=someone_else, now=NOW)
    assert registry.alarm().active
    parts.lift_alarm(actor=ROOT, proof=fresh, now=NOW)
    state = registry.alarm()
    assert not state.active and state.lifted_by == "root" and state.lifted_at == NOW
    kinds = [(e.kind, e.outcome) for e in audit.list(newest_first=False).items]
    assert kinds == [
        (AuditKind.ALARM_RAISED, Outcome.SUCCESS),
        (AuditKind.ALARM_LIFTED, Outcome.FAILURE),
        (AuditKind.ALARM_LIFTED, Outcome.FAILURE),
        (AuditKind.ALARM_LIFTED, Outcome.SUCCESS),
    ]

"""Admin actions on workstations and the alarm: role checks, transitions, audit, fresh
re-authentication for the lift; a refused action changes nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.admin import workstations as admin
from idp.admin.actors import (
    AdminActor,
    AdminRole,
    FreshAuthentication,
    NotPermitted,
    ReauthenticationRequired,
)
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
def parts(db: Database, ephemeral: EphemeralStore) -> dict[str, object]:
    registry = WorkstationRepository(db)
    registry.register(workstation_id=WS, public_key="k",
                      info=WorkstationInfo("pc-1", "CORP", "Win", "10.0.0.1", "1"), now=NOW)  # fmt: skip
    return {"registry": registry, "audit": AuditRepository(db), "store": ephemeral}


def test_approval_by_a_non_admin_is_refused_and_changes_nothing(parts: dict[str, object]) -> None:
    registry = parts["registry"]
    assert isinstance(registry, WorkstationRepository)
    with pytest.raises(NotPermitted, match="needs the admin or helpdesk role; aud is auditor"):
        admin.set_status(**parts, actor=AUDITOR, workstation_id=WS,  # type: ignore[arg-type]
                         status=WorkstationStatus.APPROVED, now=NOW)  # fmt: skip
    assert registry.require(WS).status is WorkstationStatus.PENDING
    audit = parts["audit"]
    assert isinstance(audit, AuditRepository)
    assert audit.list().total == 0


def test_approve_unapprove_remove_are_audited_and_announced(
    parts: dict[str, object], ephemeral: EphemeralStore
) -> None:
    subscription = ephemeral.subscribe(commands.CHANNEL)
    try:
        for status in (WorkstationStatus.APPROVED, WorkstationStatus.UNAPPROVED,
                       WorkstationStatus.APPROVED, WorkstationStatus.REMOVED):  # fmt: skip
            admin.set_status(**parts, actor=HELPDESK, workstation_id=WS,  # type: ignore[arg-type]
                             status=status, now=NOW)  # fmt: skip
            message = subscription.get(2)
            assert message is not None
            target, command = commands.routed(message)
            assert (target, command.body) == (WS, {"status": status.value})
    finally:
        subscription.close()
    audit = parts["audit"]
    assert isinstance(audit, AuditRepository)
    actions = [e.details["action"] for e in audit.list(newest_first=False).items]
    assert actions == ["workstation_approved", "workstation_unapproved", "workstation_approved",
                       "workstation_removed"]  # fmt: skip
    with pytest.raises(InvalidWorkstationInput, match="is removed; it cannot become approved"):
        admin.set_status(**parts, actor=ROOT, workstation_id=WS,  # type: ignore[arg-type]
                         status=WorkstationStatus.APPROVED, now=NOW)  # fmt: skip


def test_unknown_workstation_and_unapproved_lock_are_refused(parts: dict[str, object]) -> None:
    with pytest.raises(WorkstationNotFound):
        admin.lock_workstation(**parts, actor=ROOT, workstation_id="ws-" + "b" * 32,  # type: ignore[arg-type]
                               now=NOW)  # fmt: skip
    with pytest.raises(WorkstationNotApproved):
        admin.lock_workstation(**parts, actor=ROOT, workstation_id=WS, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(WorkstationNotApproved, match="only approved"):
        admin.update_settings(**parts, actor=ROOT, workstation_id=WS, now=NOW,  # type: ignore[arg-type]
                              settings=ProximitySettings())  # fmt: skip


@pytest.mark.parametrize(
    ("lock", "unlock", "timeout", "message"),
    [(70, 30, 5, "must be above"), (30, 101, 5, "0-100"), (30, 70, 0, "1-300")],
)
def test_proximity_settings_are_checked(lock: int, unlock: int, timeout: int, message: str) -> None:
    with pytest.raises(InvalidWorkstationInput, match=message):
        ProximitySettings(lock, unlock, timeout)


def test_alarm_lift_needs_an_admin_with_a_fresh_authentication(parts: dict[str, object]) -> None:
    registry, audit = parts["registry"], parts["audit"]
    assert isinstance(registry, WorkstationRepository) and isinstance(audit, AuditRepository)
    with pytest.raises(NotPermitted):
        admin.raise_alarm(**parts, actor=AUDITOR, now=NOW)  # type: ignore[arg-type]
    assert not registry.alarm().active
    admin.raise_alarm(**parts, actor=HELPDESK, now=NOW)  # type: ignore[arg-type]
    admin.raise_alarm(**parts, actor=ROOT, now=NOW)  # type: ignore[arg-type]  # idempotent
    assert registry.alarm().active and registry.alarm().raised_by == "hd"
    fresh = FreshAuthentication("root", NOW - dt.timedelta(minutes=1), "pwd")
    with pytest.raises(NotPermitted, match="lifting the emergency alarm needs the admin role"):
        admin.lift_alarm(**parts, actor=HELPDESK, proof=fresh, now=NOW)  # type: ignore[arg-type]
    stale = FreshAuthentication("root", NOW - dt.timedelta(minutes=30), "pwd")
    with pytest.raises(ReauthenticationRequired, match="last 5 minutes"):
        admin.lift_alarm(**parts, actor=ROOT, proof=stale, now=NOW)  # type: ignore[arg-type]
    someone_else = FreshAuthentication("mallory", NOW, "pwd")
    with pytest.raises(ReauthenticationRequired, match="not 'root'"):
        admin.lift_alarm(**parts, actor=ROOT, proof=someone_else, now=NOW)  # type: ignore[arg-type]
    assert registry.alarm().active
    admin.lift_alarm(**parts, actor=ROOT, proof=fresh, now=NOW)  # type: ignore[arg-type]
    state = registry.alarm()
    assert not state.active and state.lifted_by == "root" and state.lifted_at == NOW
    kinds = [(e.kind, e.outcome) for e in audit.list(newest_first=False).items]
    assert kinds == [(AuditKind.ALARM_RAISED, Outcome.SUCCESS),
                     (AuditKind.ALARM_LIFTED, Outcome.FAILURE),
                     (AuditKind.ALARM_LIFTED, Outcome.FAILURE),
                     (AuditKind.ALARM_LIFTED, Outcome.SUCCESS)]  # fmt: skip

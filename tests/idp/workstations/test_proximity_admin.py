"""Proximity admin actions on both databases and both stores: roles checked first, audited,
the full settings command pushed to the workstations concerned; refusals store nothing."""

from __future__ import annotations

import pytest

from idp.admin.access import Actor, PermissionDenied, Role
from idp.admin.proximity import ProximityAdmin
from idp.admin.workstations import WorkstationAdmin
from idp.store.ephemeral.base import EphemeralStore, Subscription
from idp.store.sql import AuditRepository, Database
from idp.workstations import commands
from idp.workstations import proximity_store as store_module
from idp.workstations.commands import CommandKind
from idp.workstations.errors import WorkstationNotApproved
from idp.workstations.model import ProximitySettings, WorkstationInfo, WorkstationStatus
from idp.workstations.proximity import Calibration, ProximityPolicy
from idp.workstations.proximity_store import (
    ProximityRepository,
    RfidTagTaken,
    TooManyProximityEntries,
)
from idp.workstations.registry import WorkstationRepository
from tests.idp.workstations.test_admin_actions import AUDITOR, HELPDESK, NOW, ROOT

WS, OTHER, PENDING = ("ws-" + c * 32 for c in "abc")
ALICE = "HK-ALICE-0001"
CALIBRATION = Calibration(rssi_near=-45, rssi_far=-95)


@pytest.fixture
def admin(db: Database, ephemeral: EphemeralStore) -> ProximityAdmin:
    registry = WorkstationRepository(db, defaults=ProximitySettings(20, 80, 7))
    for ws_id in (WS, OTHER, PENDING):
        info = WorkstationInfo("pc", "CORP", "Win", "10.0.0.1", "1")
        registry.register(workstation_id=ws_id, public_key="k", info=info, now=NOW)
        if ws_id != PENDING:
            registry.set_status(ws_id, WorkstationStatus.APPROVED, by="root", now=NOW)
    return ProximityAdmin(
        registry=registry,
        proximity=ProximityRepository(db),
        audit=AuditRepository(db),
        store=ephemeral,
        calibration=CALIBRATION,
    )


def _pushed(subscription: Subscription, count: int) -> dict[str, ProximityPolicy]:
    out = {}
    for _ in range(count):
        message = subscription.get(2)
        assert message is not None
        target, command = commands.routed(message)
        assert command.kind is CommandKind.SETTINGS
        out[target] = ProximityPolicy.from_wire(command.body)
    assert subscription.get(0.05) is None
    return out


def test_key_settings_are_audited_and_pushed_to_that_workstation(
    admin: ProximityAdmin, ephemeral: EphemeralStore
) -> None:
    settings = ProximitySettings(35, 75, 9)
    subscription = ephemeral.subscribe(commands.CHANNEL)
    try:
        admin.set_key_settings(
            actor=HELPDESK, workstation_id=WS, serial=ALICE, settings=settings, now=NOW
        )
        policy = _pushed(subscription, 1)[WS]
        # The workstation's own (the configured defaults), the key's, the calibration.
        assert policy.defaults == ProximitySettings(20, 80, 7)
        assert policy.for_key(ALICE) == settings and policy.calibration == CALIBRATION
        admin.reset_key_settings(actor=ROOT, workstation_id=WS, serial=ALICE, now=NOW)
        assert _pushed(subscription, 1)[WS].keys == {}
        # A change of the workstation's own settings carries the keys and tags too.
        admin.assign_tag(actor=ROOT, tag="04a2b3c4", serial=ALICE, now=NOW)
        assert set(_pushed(subscription, 2)) == {WS, OTHER}  # every approved workstation
        WorkstationAdmin(admin.registry, admin.audit, ephemeral).update_settings(
            actor=ROOT, workstation_id=WS, settings=ProximitySettings(30, 60, 5), now=NOW
        )
        policy = _pushed(subscription, 1)[WS]
        assert policy.defaults.unlock_proximity == 60 and policy.rfid == {"04a2b3c4": ALICE}
    finally:
        subscription.close()
    actions = [e.details["action"] for e in admin.audit.list(newest_first=False).items]
    assert actions == ["proximity_set", "proximity_reset", "rfid_assign", "workstation_settings"]


def test_refusals_change_nothing(admin: ProximityAdmin) -> None:
    settings = ProximitySettings()
    with pytest.raises(PermissionDenied, match="the auditor role may not do this"):
        admin.set_key_settings(
            actor=AUDITOR, workstation_id=WS, serial=ALICE, settings=settings, now=NOW
        )
    with pytest.raises(PermissionDenied):
        admin.assign_tag(actor=AUDITOR, tag="04a2b3c4", serial=ALICE, now=NOW)
    with pytest.raises(WorkstationNotApproved, match="only approved workstations"):
        admin.set_key_settings(
            actor=ROOT, workstation_id=PENDING, serial=ALICE, settings=settings, now=NOW
        )
    assert admin.proximity.keys(PENDING) == () and admin.proximity.tags() == ()
    assert admin.audit.list().total == 0


def test_a_tag_belongs_to_one_key(admin: ProximityAdmin) -> None:
    admin.assign_tag(actor=ROOT, tag="04a2b3c4", serial=ALICE, now=NOW)
    with pytest.raises(RfidTagTaken, match=f"assigned to {ALICE}") as taken:
        admin.assign_tag(actor=ROOT, tag="04:a2:b3:c4", serial="HK-BOB-0002", now=NOW)
    assert taken.value.status == 409
    assert [(t.tag, t.key_serial) for t in admin.proximity.tags()] == [("04a2b3c4", ALICE)]


def test_the_settings_command_stays_within_its_limits(
    admin: ProximityAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_KEYS", 2)
    monkeypatch.setattr(store_module, "MAX_TAGS", 1)
    for serial in ("K1", "K2"):
        admin.proximity.set_key(
            workstation_id=WS, serial=serial, settings=ProximitySettings(), by="r", now=NOW
        )
    with pytest.raises(TooManyProximityEntries, match="2 keys"):
        admin.proximity.set_key(
            workstation_id=WS, serial="K3", settings=ProximitySettings(), by="r", now=NOW
        )
    admin.proximity.assign_tag(tag="01020304", serial="K1", by="r", now=NOW)
    with pytest.raises(TooManyProximityEntries, match="1 tags"):
        admin.proximity.assign_tag(tag="01020305", serial="K1", by="r", now=NOW)
    # Changing an existing key's settings is no new entry.
    admin.proximity.set_key(
        workstation_id=WS, serial="K2", settings=ProximitySettings(10, 90, 3), by="r", now=NOW
    )


def test_admin_without_a_role_is_refused_for_reset_and_remove(admin: ProximityAdmin) -> None:
    nobody = Actor("admin:x", Role.AUDITOR)
    with pytest.raises(PermissionDenied):
        admin.reset_key_settings(actor=nobody, workstation_id=WS, serial=ALICE, now=NOW)
    with pytest.raises(PermissionDenied):
        admin.remove_tag(actor=nobody, tag="04a2b3c4", now=NOW)

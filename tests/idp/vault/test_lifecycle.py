"""The key's whole life through VaultService, as the driver and the admin see it, on SQLite
and PostgreSQL: assign → link with the code → lock → suspend → re-activate → deactivate →
wipe → Ready; compromised refused forever; every refusal typed, nothing changed by it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.audit import AuditKind, Outcome
from idp.store.errors import RecordInUse
from idp.store.sql import Database
from idp.vault.errors import (
    ActivationCodeExpired,
    ActivationCodeNotVerified,
    ActivationCodeWrong,
    EmployeeHasKey,
    EmployeeNotFound,
    InvalidVaultInput,
    KeyCompromised,
    KeyExists,
    KeyNotFound,
    KeyStatusForbids,
    LinkedToAnotherServer,
    TaskNotFound,
    UnknownKey,
    VaultInputTooLarge,
    WipedByHand,
)
from idp.vault.model import KeyImport, PlanKind, Reported
from idp.vault.service import Assignment, parse_key_csv
from idp.vault.states import IllegalTransition, VaultReason, VaultStatus
from idp.vault.tables import HardwareVaultRow
from tests.idp.vault.conftest import ADMIN, KEYS, Vaults, second_service

SERIAL = KEYS[0].serial
FRESH = Reported(linked=False, locked=False, firmware="4.0.2", battery=90)
LINKED = Reported(linked=True, locked=False)


def _assigned(vaults: Vaults, username: str = "alice") -> Assignment:
    vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    employee = vaults.employee(username)
    return vaults.service.assign(actor=ADMIN, serial=SERIAL, employee_id=employee)


def _active(vaults: Vaults) -> Assignment:
    assigned = _assigned(vaults)
    vaults.service.check_activation_code(serial=SERIAL, code=assigned.activation_code)
    vaults.service.linked(serial=SERIAL)
    return assigned


def _status(vaults: Vaults) -> VaultStatus:
    return vaults.service.show_key(serial=SERIAL).status


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_the_whole_life_of_a_key(vaults: Vaults) -> None:
    service = vaults.service
    assigned = _assigned(vaults)
    assert assigned.vault.status is VaultStatus.RESERVED
    assert len(assigned.activation_code) == 6 and assigned.activation_code.isdigit()
    plan = service.connection_plan(serial=SERIAL, reported=FRESH)
    assert plan.kind is PlanKind.LINK and plan.master_key is not None and len(plan.master_key) == 32
    assert plan.profile is not None and plan.profile.pin_length == 4
    check = service.check_activation_code(serial=SERIAL, code=assigned.activation_code)
    assert check.status is VaultStatus.RESERVED
    service.linked(serial=SERIAL)
    active = service.show_key(serial=SERIAL)
    assert active.status is VaultStatus.ACTIVE and active.linked_at is not None
    assert active.firmware == "4.0.2" and active.battery == 90
    run = service.connection_plan(serial=SERIAL, reported=LINKED)
    assert run.kind is PlanKind.RUN_TASKS and run.master_key == plan.master_key

    locked = service.connection_plan(serial=SERIAL, reported=Reported(linked=True, locked=True))
    assert locked.kind is PlanKind.NOTHING and locked.master_key is None
    assert service.show_key(serial=SERIAL).reason is VaultReason.LOCKED_BY_INVALID_PIN

    suspended = service.suspend(actor=ADMIN, serial=SERIAL)
    assert suspended.vault.status is VaultStatus.SUSPENDED and suspended.vault.reason is None
    assert suspended.activation_code != ""
    unlock = service.connection_plan(serial=SERIAL, reported=LINKED)
    assert unlock.kind is PlanKind.UNLOCK_WITH_CODE and unlock.master_key == plan.master_key
    again = service.check_activation_code(serial=SERIAL, code=suspended.activation_code)
    assert again.status is VaultStatus.ACTIVE is _status(vaults)

    gone = service.deactivate(actor=ADMIN, serial=SERIAL, reason=VaultReason.LOST)
    assert gone.status is VaultStatus.DEACTIVATED and gone.reason is VaultReason.LOST
    assert gone.employee_id is None
    wipe = service.connection_plan(serial=SERIAL, reported=LINKED)
    assert wipe.kind is PlanKind.WIPE and wipe.master_key == plan.master_key
    service.wiped(serial=SERIAL)
    ready = service.show_key(serial=SERIAL)
    assert ready.status is VaultStatus.READY and not ready.has_master_key
    assert ready.linked_at is None and ready.reason is None
    assert service.connection_plan(serial=SERIAL, reported=FRESH).kind is PlanKind.NOTHING

    changes = vaults.audit.list(kind=AuditKind.VAULT_STATUS_CHANGED, newest_first=False).items
    actions = [(e.details["action"], e.details["from"], e.details["to"]) for e in changes]
    assert actions == [
        ("assign", "ready", "reserved"),
        ("link", "reserved", "active"),
        ("key_locked", "active", "locked"),
        ("suspend", "locked", "suspended"),
        ("reactivate", "suspended", "active"),
        ("deactivate", "active", "deactivated"),
        ("wiped", "deactivated", "ready"),
    ]


def test_a_compromised_key_is_refused_forever(vaults: Vaults) -> None:
    _active(vaults)
    vault = vaults.service.compromise(actor=ADMIN, serial=SERIAL)
    assert vault.status is VaultStatus.COMPROMISED and not vault.has_master_key
    for reported in (FRESH, LINKED):
        with pytest.raises(KeyCompromised, match="every connection is refused") as caught:
            vaults.service.connection_plan(serial=SERIAL, reported=reported)
        assert caught.value.status == 403
    for act in (
        lambda: vaults.service.suspend(actor=ADMIN, serial=SERIAL),
        lambda: vaults.service.wiped(serial=SERIAL),
        lambda: vaults.service.compromise(actor=ADMIN, serial=SERIAL),
    ):
        with pytest.raises(IllegalTransition, match="for a key that is compromised"):
            act()
    refusals = vaults.audit.list(kind=AuditKind.VAULT_EVENT).items
    assert [e.reason for e in refusals] == ["key_compromised", "key_compromised"]
    assert all(e.outcome is Outcome.FAILURE for e in refusals)


def test_a_ready_key_can_be_compromised_too(vaults: Vaults) -> None:
    vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    assert vaults.service.compromise(actor=ADMIN, serial=SERIAL).status is VaultStatus.COMPROMISED


def test_wiped_by_hand_and_linked_elsewhere_are_told_apart(vaults: Vaults) -> None:
    _active(vaults)
    with pytest.raises(WipedByHand, match="holds its master key: it was wiped by hand"):
        vaults.service.connection_plan(serial=SERIAL, reported=FRESH)
    with pytest.raises(LinkedToAnotherServer, match="another server's key"):
        vaults.service.connection_plan(serial=KEYS[1].serial, reported=LINKED)  # Ready
    employee = vaults.employee("bob")
    vaults.service.assign(actor=ADMIN, serial=KEYS[1].serial, employee_id=employee)
    with pytest.raises(LinkedToAnotherServer):  # reserved, but linked to someone else
        vaults.service.connection_plan(serial=KEYS[1].serial, reported=LINKED)
    assert _status(vaults) is VaultStatus.ACTIVE  # a refusal changes nothing


def test_an_unknown_key_is_refused_and_audited(vaults: Vaults) -> None:
    with pytest.raises(UnknownKey, match="no key with serial 'NOPE1' was imported") as caught:
        vaults.service.connection_plan(serial="NOPE1", reported=FRESH)
    assert caught.value.status == 401
    (event,) = vaults.audit.list(kind=AuditKind.VAULT_EVENT).items
    assert event.reason == "unknown_key" and event.details["serial"] == "NOPE1"


def test_three_wrong_codes_lock_the_key_durably(vaults: Vaults, db: Database) -> None:
    assigned = _assigned(vaults)
    code = assigned.activation_code
    with pytest.raises(ActivationCodeWrong, match="2 attempt") as first:
        vaults.service.check_activation_code(serial=SERIAL, code=_wrong(code))
    assert first.value.attempts_left == 2 and first.value.status == 401
    # another process (a second service over the same database) sees the attempt counted
    with pytest.raises(ActivationCodeWrong, match="1 attempt"):
        second_service(vaults, db).check_activation_code(serial=SERIAL, code="")
    assert vaults.service.show_key(serial=SERIAL).code_attempts_left == 1
    with pytest.raises(ActivationCodeWrong, match=r"0 attempt.*now locked"):
        vaults.service.check_activation_code(serial=SERIAL, code="x" * 10_000)
    vault = vaults.service.show_key(serial=SERIAL)
    assert vault.status is VaultStatus.LOCKED
    assert vault.reason is VaultReason.INVALID_ACTIVATION_CODE
    with pytest.raises(KeyStatusForbids, match="is locked: no code to check"):
        vaults.service.check_activation_code(serial=SERIAL, code=code)  # even the right one
    assert vaults.service.connection_plan(serial=SERIAL, reported=FRESH).kind is PlanKind.NOTHING
    # an admin recovers it: a new code, and the never-linked key is linked with it
    fresh = vaults.service.suspend(actor=ADMIN, serial=SERIAL)
    assert vaults.service.connection_plan(serial=SERIAL, reported=FRESH).kind is PlanKind.LINK
    vaults.service.check_activation_code(serial=SERIAL, code=fresh.activation_code)
    vaults.service.linked(serial=SERIAL)
    assert _status(vaults) is VaultStatus.ACTIVE


def test_a_suspended_key_locks_after_three_wrong_codes(vaults: Vaults) -> None:
    _active(vaults)
    code = vaults.service.suspend(actor=ADMIN, serial=SERIAL).activation_code
    for _ in range(3):
        with pytest.raises(ActivationCodeWrong):
            vaults.service.check_activation_code(serial=SERIAL, code=_wrong(code))
    assert _status(vaults) is VaultStatus.LOCKED


def test_an_expired_code_is_refused_without_using_a_try(vaults: Vaults) -> None:
    assigned = _assigned(vaults)
    vaults.clock.advance(hours=24)
    with pytest.raises(ActivationCodeExpired, match="expired at 2026-12-03 09:00 UTC"):
        vaults.service.check_activation_code(serial=SERIAL, code=assigned.activation_code)
    assert vaults.service.show_key(serial=SERIAL).code_attempts_left == 3


def test_a_link_before_the_code_is_refused(vaults: Vaults) -> None:
    _assigned(vaults)
    with pytest.raises(ActivationCodeNotVerified):
        vaults.service.linked(serial=SERIAL)
    assert _status(vaults) is VaultStatus.RESERVED


def test_the_master_key_and_code_are_stored_encrypted(vaults: Vaults, db: Database) -> None:
    assigned = _assigned(vaults)
    plan = vaults.service.connection_plan(serial=SERIAL, reported=FRESH)
    assert plan.master_key is not None
    with db.transaction() as s:
        row = s.scalars(select(HardwareVaultRow).where(HardwareVaultRow.serial == SERIAL)).one()
    assert row.master_key is not None and plan.master_key not in row.master_key
    assert row.activation_code is not None
    assert assigned.activation_code.encode() not in row.activation_code
    assert "activation_code" not in repr(assigned) and "master_key=b" not in repr(plan)
    assert vaults.service.activation_code(actor=ADMIN, serial=SERIAL) == assigned.activation_code


def test_cancel_returns_a_reserved_key_to_ready_and_drops_its_secrets(vaults: Vaults) -> None:
    _assigned(vaults)
    vault = vaults.service.cancel(actor=ADMIN, serial=SERIAL)
    assert vault.status is VaultStatus.READY and vault.employee_id is None
    assert not vault.has_master_key and vault.pending_tasks == 0
    carol = vaults.employee("carol")
    vaults.service.assign(actor=ADMIN, serial=SERIAL, employee_id=carol)


def test_cancel_after_the_link_is_refused(vaults: Vaults) -> None:
    _active(vaults)
    with pytest.raises(IllegalTransition, match="'cancel' is not allowed for a key that is active"):
        vaults.service.cancel(actor=ADMIN, serial=SERIAL)


def test_one_key_per_employee_and_only_known_employees(vaults: Vaults) -> None:
    assigned = _assigned(vaults)
    with pytest.raises(EmployeeHasKey, match=f"already holds key {SERIAL}"):
        vaults.service.assign(
            actor=ADMIN, serial=KEYS[1].serial, employee_id=assigned.vault.employee_id or ""
        )
    with pytest.raises(EmployeeNotFound):
        vaults.service.assign(actor=ADMIN, serial=KEYS[1].serial, employee_id="nobody")
    other = vaults.employee("bob")
    with pytest.raises(KeyNotFound):
        vaults.service.assign(actor=ADMIN, serial="ST99999", employee_id=other)
    with pytest.raises(
        IllegalTransition, match="'assign' is not allowed for a key that is reserved"
    ):
        vaults.service.assign(actor=ADMIN, serial=SERIAL, employee_id=other)
    assert vaults.service.show_key(serial=KEYS[1].serial).status is VaultStatus.READY


def test_deactivation_needs_an_admin_reason(vaults: Vaults) -> None:
    _active(vaults)
    with pytest.raises(Exception, match="needs a reason"):
        vaults.service.deactivate(
            actor=ADMIN, serial=SERIAL, reason=VaultReason.LOCKED_BY_INVALID_PIN
        )
    assert _status(vaults) is VaultStatus.ACTIVE


def test_a_deactivated_key_never_linked_is_wiped_without_a_session(vaults: Vaults) -> None:
    _assigned(vaults)
    vaults.service.deactivate(actor=ADMIN, serial=SERIAL, reason=VaultReason.BROKEN)
    plan = vaults.service.connection_plan(serial=SERIAL, reported=FRESH)
    assert plan.kind is PlanKind.WIPE and plan.master_key is None
    with pytest.raises(LinkedToAnotherServer):
        vaults.service.connection_plan(serial=SERIAL, reported=LINKED)


def test_import_is_all_or_nothing(vaults: Vaults) -> None:
    vaults.service.import_keys(actor=ADMIN, keys=KEYS[:1])
    with pytest.raises(KeyExists, match=f"key {SERIAL}"):
        vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    assert [v.serial for v in vaults.service.list_keys()] == [SERIAL]
    twice = (KEYS[1], KeyImport(KEYS[1].serial, "AA:BB:CC:00:00:09", "m", "1"))
    with pytest.raises(InvalidVaultInput, match="names a serial twice"):
        vaults.service.import_keys(actor=ADMIN, keys=twice)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (KeyImport("s!", "AA:BB:CC:00:00:01", "m", "1"), "a key serial is"),
        (KeyImport("ST1000", "AABBCC", "m", "1"), "a MAC address is"),
        (KeyImport("ST1000", "AA:BB:CC:00:00:01", "", "1"), "model must not be empty"),
        (KeyImport("ST1000", "AA:BB:CC:00:00:01", "m\x00", "1"), "control characters"),
        (KeyImport("ST1000", "AA:BB:CC:00:00:01", "m" * 300, "1"), "at most 255"),
    ],
)
def test_import_refuses_malformed_keys(sqlite_vaults: Vaults, key: KeyImport, message: str) -> None:
    vaults = sqlite_vaults
    with pytest.raises((InvalidVaultInput, VaultInputTooLarge), match=message):
        vaults.service.import_keys(actor=ADMIN, keys=[key])
    assert vaults.service.list_keys() == ()


def test_key_csv() -> None:
    data = "Serial,MAC,Model,Firmware\nst10101,aa-bb-cc-00-00-01,Hideez Key 4,4.0.1\n"
    assert parse_key_csv(data) == (
        KeyImport("st10101", "aa-bb-cc-00-00-01", "Hideez Key 4", "4.0.1"),
    )
    with pytest.raises(InvalidVaultInput, match="header must be serial,mac,model,firmware"):
        parse_key_csv("a,b\n1,2\n")
    with pytest.raises(InvalidVaultInput, match="line 2: expected 4 fields"):
        parse_key_csv("serial,mac,model,firmware\nST1,AA\n")
    with pytest.raises(VaultInputTooLarge):
        parse_key_csv("x" * 2_000_001)


def test_seen_records_battery_and_firmware(vaults: Vaults) -> None:
    _active(vaults)
    vaults.clock.advance(minutes=5)
    vaults.service.seen(serial=SERIAL, battery=42, firmware="4.1.0")
    vault = vaults.service.show_key(serial=SERIAL)
    assert (vault.battery, vault.firmware, vault.last_seen_at) == (42, "4.1.0", vaults.clock())
    with pytest.raises(InvalidVaultInput, match="battery is a percentage 0-100, got 101"):
        vaults.service.seen(serial=SERIAL, battery=101, firmware="")


def test_an_employee_holding_a_key_cannot_be_deleted(vaults: Vaults) -> None:
    assigned = _assigned(vaults)
    employee_id = assigned.vault.employee_id or ""
    with pytest.raises(RecordInUse, match="still holds a Hideez Key") as caught:
        vaults.employees.delete(employee_id)
    assert caught.value.status == 409
    assert vaults.employees.get(employee_id) is not None
    vaults.service.deactivate(actor=ADMIN, serial=SERIAL, reason=VaultReason.WITHDRAWAL)
    vaults.employees.delete(employee_id)
    assert vaults.employees.get(employee_id) is None
    assert _status(vaults) is VaultStatus.DEACTIVATED


def test_serials_are_matched_as_imported_and_hostile_ones_name_no_key(vaults: Vaults) -> None:
    assigned = _assigned(vaults)
    lower = SERIAL.lower()
    assert vaults.service.connection_plan(serial=lower, reported=FRESH).serial == SERIAL
    vaults.service.check_activation_code(serial=f" {lower} ", code=assigned.activation_code)
    vaults.service.linked(serial=lower)
    tasks = vaults.service.pending_tasks(serial=lower)
    vaults.service.task_done(serial=lower, task_id=tasks[0].id)
    with pytest.raises(TaskNotFound):
        vaults.service.task_done(serial=SERIAL, task_id=2**63)
    with pytest.raises(UnknownKey) as caught:
        vaults.service.connection_plan(serial="X" * 100_000, reported=FRESH)
    assert len(caught.value.description) < 200
    with pytest.raises(KeyNotFound):
        vaults.service.show_key(serial="")

"""Access profiles through VaultService (defaults, edits queued to every key using them, a
profile in use is kept) and concurrent activation-code guesses counted exactly."""

from __future__ import annotations

import dataclasses
import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest

from idp.errors import IdpError
from idp.store.sql import Database
from idp.vault.errors import (
    ActivationCodeWrong,
    InvalidVaultInput,
    KeyStatusForbids,
    NameTaken,
    ProfileInUse,
)
from idp.vault.model import DEFAULT_PROFILE_ID, AccessProfile, Requirement, TaskKind
from idp.vault.states import VaultReason, VaultStatus
from tests.idp.vault.conftest import ADMIN, KEYS, Vaults, second_service

STRICT = AccessProfile(
    id="",
    name="Strict",
    connection=Requirement(button=True, pin=True),
    pin_length=6,
    pin_expiry=dt.timedelta(hours=8),
    pin_attempts=5,
)


def test_the_default_profile(vaults: Vaults) -> None:
    (default,) = vaults.service.list_profiles()
    assert default.id == DEFAULT_PROFILE_ID
    assert default.pairing == Requirement(button=True, pin=False, master_key=True)
    assert default.connection == default.storage == Requirement()
    assert (default.pin_length, default.pin_expiry, default.pin_attempts) == (
        4,
        dt.timedelta(hours=24),
        10,
    )
    with pytest.raises(ProfileInUse, match="default access profile cannot be deleted"):
        vaults.service.delete_profile(actor=ADMIN, profile_id=DEFAULT_PROFILE_ID)


def test_a_profile_edit_is_queued_for_every_key_using_it(vaults: Vaults) -> None:
    service = vaults.service
    service.import_keys(actor=ADMIN, keys=KEYS)
    strict = service.save_profile(actor=ADMIN, profile=STRICT, create=True)
    for key, name in zip(KEYS[:2], ("alice", "bob"), strict=True):
        employee = vaults.employee(name)
        code = service.assign(actor=ADMIN, serial=key.serial, employee_id=employee)
        service.check_activation_code(serial=key.serial, code=code.activation_code)
        service.linked(serial=key.serial)
        service.set_profile(actor=ADMIN, serial=key.serial, profile_id=strict.id)
        for task in service.pending_tasks(serial=key.serial):
            service.task_done(serial=key.serial, task_id=task.id)
    service.set_profile(actor=ADMIN, serial=KEYS[2].serial, profile_id=strict.id)  # Ready
    changed = dataclasses.replace(strict, pin_attempts=3)
    service.save_profile(actor=ADMIN, profile=changed, create=False)
    for key in KEYS[:2]:
        (task,) = service.pending_tasks(serial=key.serial)
        assert task.kind is TaskKind.PROFILE and task.profile is not None
        assert task.profile.pin_attempts == 3 and task.profile.connection.pin
    assert service.show_key(serial=KEYS[2].serial).pending_tasks == 0  # a Ready key gets none
    with pytest.raises(ProfileInUse, match="used by 3 key"):
        service.delete_profile(actor=ADMIN, profile_id=strict.id)
    with pytest.raises(NameTaken):
        service.save_profile(
            actor=ADMIN, profile=dataclasses.replace(STRICT, name="strict"), create=True
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"pin_length": 3}, "PIN length is 4-8"),
        ({"pin_attempts": 100}, "PIN attempts are 3-15"),
        ({"pin_expiry": dt.timedelta(seconds=10)}, "PIN expiry"),
        ({"name": " "}, "must not be empty"),
    ],
)
def test_malformed_profiles_are_refused(
    sqlite_vaults: Vaults, change: dict[str, object], message: str
) -> None:
    with pytest.raises(IdpError, match=message):
        sqlite_vaults.service.save_profile(
            actor=ADMIN, profile=dataclasses.replace(STRICT, **change), create=True
        )
    assert len(sqlite_vaults.service.list_profiles()) == 1


def test_concurrent_wrong_codes_use_exactly_three_attempts(vaults: Vaults, db: Database) -> None:
    vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    employee = vaults.employee("alice")
    serial = KEYS[0].serial
    code = vaults.service.assign(actor=ADMIN, serial=serial, employee_id=employee).activation_code
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    services = [second_service(vaults, db) for _ in range(6)]

    def guess(index: int) -> str:
        try:
            services[index].check_activation_code(serial=serial, code=wrong)
        except (ActivationCodeWrong, KeyStatusForbids) as exc:
            return exc.error
        return "accepted"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = sorted(pool.map(guess, range(6)))
    assert outcomes == ["activation_code_wrong"] * 3 + ["key_status_forbids"] * 3
    vault = vaults.service.show_key(serial=serial)
    assert vault.status is VaultStatus.LOCKED
    assert vault.reason is VaultReason.INVALID_ACTIVATION_CODE


def test_list_limit_is_bounded(sqlite_vaults: Vaults) -> None:
    with pytest.raises(InvalidVaultInput, match="limit is 1-500"):
        sqlite_vaults.service.list_keys(limit=0)

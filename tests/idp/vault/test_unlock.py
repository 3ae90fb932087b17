"""Unlocking a workstation with the key's primary account (idp.vault.unlock) against the real
VaultService (SQLite and PostgreSQL) and the key side of the protocol, messages by hand: the
plan and its refusals, the credential read and its audit, the PIN (set, wrong, used up →
Locked), the button, and hostile keys (another serial, replayed replies)."""

from __future__ import annotations

import dataclasses
import time

import pytest

from idp.audit import AuditKind
from idp.vault.conversation import ToKey
from idp.vault.errors import (
    KeyCompromised,
    KeyLockedByPin,
    KeyStatusForbids,
    UnknownKey,
    UnlockRefused,
)
from idp.vault.model import AccountInput, KeyImport, LoginType, Requirement
from idp.vault.protocol.errors import ButtonNotPressed, ReplayedMessage, SerialMismatch
from idp.vault.protocol.key import KeyEndpoint, KeyStorage
from idp.vault.states import VaultReason, VaultStatus
from idp.vault.unlock import AskPin, Unlocked, unlock
from tests.idp.vault.conftest import ADMIN, Vaults
from tests.idp.vault.test_conversation import SERIAL, connect

WS = "ws-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def run(
    vaults: Vaults, key: KeyEndpoint, pins: list[str] | None = None, prompts: list | None = None
) -> Unlocked:
    """One unlock: the conversation runs until it returns; PIN prompts take ``pins`` and are
    noted in ``prompts`` (purpose, attempts left)."""
    key.disconnected()
    steps = unlock(vault=vaults.service, serial=SERIAL, workstation_id=WS)
    answer: bytes | str | None = None
    try:
        while True:
            step = steps.send(answer) if answer is not None else next(steps)
            if isinstance(step, ToKey):
                answer = key.receive(step.message)
            else:
                assert isinstance(step, AskPin) and pins, f"unexpected {step}"
                assert step.serial == SERIAL and prompts is not None
                prompts.append((step.purpose, step.attempts_left))
                answer = pins.pop(0)
    except StopIteration as done:
        assert isinstance(done.value, Unlocked)
        return done.value


@pytest.fixture
def key() -> KeyEndpoint:
    return KeyEndpoint(KeyStorage(serial=SERIAL), clock=time.time)


@pytest.fixture
def active(vaults: Vaults, key: KeyEndpoint) -> str:
    """Alice's key, Active, her Windows account (primary) and GitHub delivered."""
    service = vaults.service
    service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:11", "Hideez Key 4", "4.0.1")]
    )
    alice = vaults.employee("alice")
    for name, login, kind, password in (
        ("GitHub", "alice", LoginType.WEB_APP, "gh-secret"),
        ("Windows", "CORP\\alice", LoginType.DOMAIN, "win-secret"),
    ):
        data = AccountInput(name=name, login=login, login_type=kind, password=password)
        account = service.add_account(actor=ADMIN, employee_id=alice, data=data)
    service.set_primary(actor=ADMIN, account_id=account.id)
    code = service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice).activation_code
    assert connect(vaults, key, [code]).status is VaultStatus.ACTIVE
    return alice


def pin_profile(vaults: Vaults, *, attempts: int = 3) -> None:
    service = vaults.service
    [default] = service.list_profiles()
    strict = dataclasses.replace(
        default, id="", name="Strict", storage=Requirement(pin=True), pin_attempts=attempts
    )
    saved = service.save_profile(actor=ADMIN, profile=strict, create=True)
    service.set_profile(actor=ADMIN, serial=SERIAL, profile_id=saved.id)


def test_the_primary_account_is_read_and_audited_without_its_password(vaults, key, active):
    unlocked = run(vaults, key)
    assert unlocked == Unlocked(SERIAL, "CORP\\alice", "alice", "win-secret")
    assert "win-secret" not in repr(unlocked)
    [event] = [
        e
        for e in vaults.audit.list(kind=AuditKind.VAULT_EVENT).items
        if e.details.get("action") == "credentials_read"
    ]
    assert event.details["login"] == "CORP\\alice" and event.details["workstation"] == WS
    assert event.employee_id == active
    assert "win-secret" not in str(event.details)


def test_refusals_before_the_key_is_touched(vaults, key, active):
    service = vaults.service
    windows = next(a for a in service.list_accounts(employee_id=active) if a.name == "Windows")

    def refused(error: type[Exception], match: str, serial: str = SERIAL) -> None:
        steps = unlock(vault=service, serial=serial, workstation_id=WS)
        with pytest.raises(error, match=match):
            next(steps)

    refused(UnknownKey, "ST99", serial="ST99")
    vaults.employees.set_enabled(active, False)
    refused(UnlockRefused, "deactivated")
    vaults.employees.set_enabled(active, True)
    service.add_account(
        actor=ADMIN,
        employee_id=active,
        data=AccountInput(
            name="Laptop", login="laptop", login_type=LoginType.LOCAL, skip_password=True
        ),
    )
    laptop = next(a for a in service.list_accounts(employee_id=active) if a.name == "Laptop")
    service.set_primary(actor=ADMIN, account_id=laptop.id)
    refused(UnlockRefused, "no password yet")
    service.delete_account(actor=ADMIN, account_id=laptop.id)
    refused(UnlockRefused, "no primary")
    service.set_primary(actor=ADMIN, account_id=windows.id)
    code = service.suspend(actor=ADMIN, serial=SERIAL).activation_code
    assert code
    refused(KeyStatusForbids, "suspended: only an Active key")
    service.compromise(actor=ADMIN, serial=SERIAL)
    refused(KeyCompromised, "compromised")
    failures = [
        e.reason
        for e in vaults.audit.list(kind=AuditKind.VAULT_EVENT).items
        if e.details.get("action") == "unlock"
    ]
    assert sorted(failures) == sorted(
        ["unknown_key", "key_status_forbids", "key_compromised"] + ["key_unlock_refused"] * 3
    )


def test_a_key_without_the_delivered_password_is_refused(vaults, key, active):
    account = next(a for a in key.storage.accounts.values() if a.primary)
    key.storage.accounts[account.id] = dataclasses.replace(account, password="")
    with pytest.raises(UnlockRefused, match="tasks are not delivered"):
        run(vaults, key)


def test_a_first_pin_is_set_then_verified_and_wrong_pins_lock_the_key(vaults, key, active):
    pin_profile(vaults, attempts=3)
    connect(vaults, key, [])  # the profile task reaches the key
    prompts: list[tuple[str, int | None]] = []
    assert run(vaults, key, ["2468"], prompts).password == "win-secret"
    assert prompts == [("set", None)]
    key.storage.pin_verified_at = None  # the PIN expired on the key
    assert run(vaults, key, ["1111", "2468"], prompts).account == "CORP\\alice"
    assert prompts[1:] == [("verify", 3), ("verify", 2)]

    key.storage.pin_verified_at = None
    with pytest.raises(KeyLockedByPin, match="locked itself"):
        run(vaults, key, ["0000", "0000", "0000"], prompts)
    assert prompts[3:] == [("verify", 3), ("verify", 2), ("verify", 1)]
    assert key.storage.locked
    shown = vaults.service.show_key(serial=SERIAL)
    assert (shown.status, shown.reason) == (VaultStatus.LOCKED, VaultReason.LOCKED_BY_INVALID_PIN)
    with pytest.raises(KeyStatusForbids, match="locked"):
        run(vaults, key)


def test_a_pin_the_key_refuses_to_set_is_asked_again(vaults, key, active):
    pin_profile(vaults)
    connect(vaults, key, [])
    prompts: list[tuple[str, int | None]] = []
    assert run(vaults, key, ["12", "0x12", "975310"], prompts).password == "win-secret"
    assert [p for p, _ in prompts] == ["set", "set", "set"]


def test_a_key_locked_meanwhile_is_reported_locked(vaults, key, active):
    key.storage.locked_by_pin = True
    with pytest.raises(KeyLockedByPin):
        run(vaults, key)
    assert vaults.service.show_key(serial=SERIAL).status is VaultStatus.LOCKED


def test_the_button_the_profile_asks_for(vaults, key, active):
    service = vaults.service
    [default] = service.list_profiles()
    pressed = dataclasses.replace(default, id="", name="Press", storage=Requirement(button=True))
    saved = service.save_profile(actor=ADMIN, profile=pressed, create=True)
    service.set_profile(actor=ADMIN, serial=SERIAL, profile_id=saved.id)
    connect(vaults, key, [])
    key.button = lambda: False
    with pytest.raises(ButtonNotPressed):
        run(vaults, key)
    key.button = lambda: True
    assert run(vaults, key).password == "win-secret"


def test_a_key_answering_for_another_serial_is_refused(vaults, active):
    impostor = KeyEndpoint(KeyStorage(serial="ST10309999999999"), clock=time.time)
    with pytest.raises(SerialMismatch, match="ST10309999999999"):
        run(vaults, impostor)


def test_replayed_replies_in_the_read_are_refused(vaults, key, active):
    steps = unlock(vault=vaults.service, serial=SERIAL, workstation_id=WS)
    key.disconnected()
    hello = next(steps)
    assert isinstance(hello, ToKey)
    confirm = steps.send(key.receive(hello.message))
    assert isinstance(confirm, ToKey)
    ready = key.receive(confirm.message)
    read = steps.send(ready)
    assert isinstance(read, ToKey)
    key.receive(read.message)
    with pytest.raises(ReplayedMessage):
        steps.send(ready)  # the session's first sealed reply again, instead of the read's
    reads = [
        e
        for e in vaults.audit.list(kind=AuditKind.VAULT_EVENT).items
        if e.details.get("action") == "credentials_read"
    ]
    assert reads == []

"""The server's conversation with a key (idp.vault.conversation) against the real
VaultService (SQLite and PostgreSQL) and the key side of the protocol, messages by hand:
assign → activate with code (wrong ×3 → Locked) → accounts on the key → suspend →
re-activate → deactivate → next connection wipes → Ready; compromised refused."""

from __future__ import annotations

import time

import pytest

from idp.vault.conversation import AskCode, Outcome, ToKey, converse
from idp.vault.errors import KeyCompromised, LinkedToAnotherServer, UnknownKey, WipedByHand
from idp.vault.model import AccountInput, KeyImport, LoginType, PlanKind
from idp.vault.protocol.errors import SerialMismatch
from idp.vault.protocol.key import KeyEndpoint, KeyStorage
from idp.vault.states import VaultReason, VaultStatus
from tests.idp.vault.conftest import ADMIN, Vaults

SERIAL = "ST10301234567890"


def connect(vaults: Vaults, key: KeyEndpoint, codes: list[str], serial: str = SERIAL) -> Outcome:
    """One connection: the conversation runs until it returns; prompts take ``codes``."""
    key.disconnected()
    steps = converse(vault=vaults.service, serial=serial)
    answer: bytes | str | None = None
    try:
        while True:
            step = steps.send(answer) if answer is not None else next(steps)
            if isinstance(step, ToKey):
                answer = key.receive(step.message)
            else:
                assert isinstance(step, AskCode) and step.serial == serial
                answer = codes.pop(0)
    except StopIteration as done:
        return done.value


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.fixture
def key() -> KeyEndpoint:
    return KeyEndpoint(KeyStorage(serial=SERIAL, battery=77), clock=time.time)


@pytest.fixture
def alice(vaults: Vaults) -> str:
    vaults.service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:11", "Hideez Key 4", "4.0.1")]
    )
    employee = vaults.employee("alice")
    service = vaults.service
    service.add_account(
        actor=ADMIN,
        employee_id=employee,
        data=AccountInput(
            name="GitHub",
            login="alice",
            login_type=LoginType.WEB_APP,
            urls=("https://github.com",),
            password="gh-secret",
        ),
    )
    service.add_account(
        actor=ADMIN,
        employee_id=employee,
        data=AccountInput(
            name="Windows", login="CORP\\alice", login_type=LoginType.DOMAIN, password="win-secret"
        ),
    )
    return employee


def test_the_lifecycle_over_the_key_protocol(vaults: Vaults, key: KeyEndpoint, alice: str):
    service = vaults.service
    code = service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice).activation_code

    # wrong code ×3 → Locked; the key stays unlinked
    out = connect(vaults, key, [wrong(code)] * 3)
    assert out.plan is PlanKind.LINK and out.status is VaultStatus.LOCKED
    assert service.show_key(serial=SERIAL).reason is VaultReason.INVALID_ACTIVATION_CODE
    assert not key.storage.linked
    assert connect(vaults, key, []).plan is PlanKind.NOTHING

    # a new code (suspend a never-linked key) → link with it, tasks delivered, OS account first
    code = service.suspend(actor=ADMIN, serial=SERIAL).activation_code
    out = connect(vaults, key, [wrong(code), code])
    assert out.status is VaultStatus.ACTIVE and out.tasks_done >= 2 and out.battery == 77
    assert key.storage.linked
    stored = list(key.storage.accounts.values())
    assert [a.name for a in stored] == ["Windows", "GitHub"]
    assert {a.password for a in stored} == {"gh-secret", "win-secret"}
    assert service.show_key(serial=SERIAL).pending_tasks == 0

    # an edit reaches the key on its next connection
    github = next(a for a in service.list_accounts(employee_id=alice) if a.name == "GitHub")
    service.change_password(actor=ADMIN, account_id=github.id, password="rotated")
    out = connect(vaults, key, [])
    assert out.plan is PlanKind.RUN_TASKS and out.tasks_done == 1
    assert key.storage.accounts[github.id].password == "rotated"

    # suspend → the key is locked with a one-time code until the user's code checks out
    code = service.suspend(actor=ADMIN, serial=SERIAL).activation_code
    out = connect(vaults, key, [code])
    assert out.plan is PlanKind.UNLOCK_WITH_CODE and out.status is VaultStatus.ACTIVE
    assert not key.storage.locked

    # deactivate → next connection wipes → Ready
    service.deactivate(actor=ADMIN, serial=SERIAL, reason=VaultReason.WITHDRAWAL)
    out = connect(vaults, key, [])
    assert out.plan is PlanKind.WIPE and out.status is VaultStatus.READY
    assert not key.storage.linked and not key.storage.accounts
    assert service.show_key(serial=SERIAL).status is VaultStatus.READY


def test_a_key_locked_by_its_pin_is_reported_locked(vaults, key, alice):
    code = vaults.service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice).activation_code
    connect(vaults, key, [code])
    key.storage.locked_by_pin = True
    out = connect(vaults, key, [])
    assert out.status is VaultStatus.LOCKED
    assert vaults.service.show_key(serial=SERIAL).reason is VaultReason.LOCKED_BY_INVALID_PIN


def test_refusals(vaults, key, alice):
    service = vaults.service
    with pytest.raises(UnknownKey):
        connect(vaults, KeyEndpoint(KeyStorage(serial="ZZ1234"), clock=time.time), [], "ZZ1234")
    with pytest.raises(SerialMismatch):
        connect(vaults, key, [], serial="ST10309999999999")
    code = service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice).activation_code
    connect(vaults, key, [code])
    # wiped by hand: the key asks to be linked, the server holds its master key
    master = key.storage.master_key
    key.storage.wipe()
    with pytest.raises(WipedByHand):
        connect(vaults, key, [])
    key.storage.master_key = master
    service.compromise(actor=ADMIN, serial=SERIAL)
    for _ in range(2):
        with pytest.raises(KeyCompromised):
            connect(vaults, key, [])


def test_another_servers_key_is_refused(vaults, key, alice):
    vaults.service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice)
    key.storage.master_key = b"\x07" * 32
    with pytest.raises(LinkedToAnotherServer):
        connect(vaults, key, [])

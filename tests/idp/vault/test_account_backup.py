"""Export and restore of an employee's accounts through VaultService (both databases): secrets
come back, conflicts are skipped or replaced as asked, the key gets the tasks, the primary
account is restored, and one bad entry refuses the whole restore."""

from __future__ import annotations

import dataclasses

import pytest

from idp.admin.access import Actor, PermissionDenied, Role
from idp.vault.account_backup import OnConflict, RestoreAction
from idp.vault.backup import BackupEntry
from idp.vault.errors import InvalidVaultInput
from idp.vault.model import AccountInput, LoginType, TaskKind
from tests.idp.vault.conftest import ADMIN, KEYS, Vaults

OTP = "JBSWY3DPEHPK3PXPJBSWY3DP"
HELPDESK = Actor(name="admin:help", role=Role.HELPDESK)


def _accounts(vaults: Vaults, employee: str) -> None:
    svc = vaults.service
    web = AccountInput(name="GitHub", login="alice", urls=("https://github.com",),
                       password="gh-pass", otp_secret=OTP)  # fmt: skip
    svc.add_account(actor=ADMIN, employee_id=employee, data=web)
    pc = AccountInput(name="PC", login="CORP\\alice", login_type=LoginType.DOMAIN,
                      password="pc-pass")  # fmt: skip
    pc_id = svc.add_account(actor=ADMIN, employee_id=employee, data=pc).id
    svc.set_primary(actor=ADMIN, account_id=pc_id)


def test_export_carries_the_secrets_and_restore_brings_them_back(vaults: Vaults) -> None:
    alice, bob = vaults.employee("alice"), vaults.employee("bob")
    _accounts(vaults, alice)
    entries = vaults.service.export_entries(actor=ADMIN, employee_id=alice)
    assert {(e.name, e.password, e.otp_secret, e.primary) for e in entries} == {
        ("GitHub", "gh-pass", OTP, False), ("PC", "pc-pass", None, True)}  # fmt: skip

    vaults.service.import_keys(actor=ADMIN, keys=KEYS[:1])
    serial = KEYS[0].serial
    code = vaults.service.assign(actor=ADMIN, serial=serial, employee_id=bob).activation_code
    vaults.service.check_activation_code(serial=serial, code=code)
    vaults.service.linked(serial=serial)
    done = vaults.service.restore_entries(
        actor=ADMIN, employee_id=bob, entries=entries, on_conflict=OnConflict.SKIP
    )
    assert [o.action for o in done] == [RestoreAction.ADDED, RestoreAction.ADDED]
    again = vaults.service.export_entries(actor=ADMIN, employee_id=bob)
    assert sorted(again, key=lambda e: e.name) == sorted(entries, key=lambda e: e.name)
    kinds = [t.kind for t in vaults.service.pending_tasks(serial=serial)]
    assert kinds.count(TaskKind.CREATE) >= 2 and TaskKind.PRIMARY in kinds


def test_a_conflict_is_skipped_or_replaced_as_asked(vaults: Vaults) -> None:
    alice = vaults.employee("alice")
    _accounts(vaults, alice)
    entries = vaults.service.export_entries(actor=ADMIN, employee_id=alice)
    changed = tuple(dataclasses.replace(e, password="new-" + (e.password or "")) for e in entries)
    extra = BackupEntry("Mail", "ALICE", LoginType.WEB_APP, ("https://mail.example",), (),
                        "m-pass", None, False, False)  # fmt: skip

    skipped = vaults.service.restore_entries(
        actor=ADMIN, employee_id=alice, entries=(*changed, extra), on_conflict=OnConflict.SKIP
    )
    assert [o.action.value for o in skipped] == ["skipped", "skipped", "added"]
    assert {e.password for e in vaults.service.export_entries(actor=ADMIN, employee_id=alice)} == {
        "gh-pass", "pc-pass", "m-pass"}  # fmt: skip

    replaced = vaults.service.restore_entries(
        actor=ADMIN, employee_id=alice, entries=changed, on_conflict=OnConflict.REPLACE
    )
    assert [o.action.value for o in replaced] == ["replaced", "replaced"]
    assert [o.account_id for o in replaced] == [o.account_id for o in skipped[:2]]
    after = vaults.service.export_entries(actor=ADMIN, employee_id=alice)
    assert {e.password for e in after} == {"new-gh-pass", "new-pc-pass", "m-pass"}
    assert len(after) == 3


def test_one_bad_entry_refuses_the_whole_restore(vaults: Vaults) -> None:
    alice = vaults.employee("alice")
    good = BackupEntry("Ok", "ok", LoginType.WEB_APP, (), (), "pw", None, False, False)
    bad = dataclasses.replace(good, name="Bad", login="no-backslash", login_type=LoginType.DOMAIN)
    with pytest.raises(InvalidVaultInput):
        vaults.service.restore_entries(
            actor=ADMIN, employee_id=alice, entries=(good, bad), on_conflict=OnConflict.SKIP
        )
    assert vaults.service.list_accounts(employee_id=alice) == ()


def test_helpdesk_may_neither_export_nor_restore(vaults: Vaults) -> None:
    alice = vaults.employee("alice")
    with pytest.raises(PermissionDenied, match="secrets"):
        vaults.service.export_entries(actor=HELPDESK, employee_id=alice)
    with pytest.raises(PermissionDenied, match="secrets"):
        vaults.service.restore_entries(
            actor=HELPDESK, employee_id=alice, entries=(), on_conflict=OnConflict.SKIP
        )

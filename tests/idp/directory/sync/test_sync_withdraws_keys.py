"""Directory withdrawals reach the Hideez Keys (idp/vault/withdrawal.py), against Samba."""

from __future__ import annotations

import secrets

import pytest

from idp.admin.access import CLI
from idp.audit import AuditKind, Outcome
from idp.config.loader import load_config
from idp.directory.sync.engine import format_summary
from idp.directory.sync.records import Action
from idp.directory.sync.service import run_sync
from idp.runtime import build_runtime
from idp.vault.model import AccountInput, KeyImport, LoginType
from idp.vault.service import VaultService, build_vault_service
from idp.vault.states import VaultReason, VaultStatus
from idp.vault.withdrawal import key_withdrawal
from tests import samba_dc as ad
from tests.idp.directory.conftest import Scenario

pytestmark = pytest.mark.samba
DISABLED = ad.NO_PASSWORD_ACCOUNT | ad.ACCOUNTDISABLE


def _give_key(vault: VaultService, employee_id: str, shared_id: str) -> str:
    """A key assigned to the employee (Reserved), a personal account and a shared copy."""
    serial = f"ST{secrets.token_hex(6).upper()}"
    mac = ":".join(secrets.token_hex(1).upper() for _ in range(6))
    vault.import_keys(actor=CLI, keys=[KeyImport(serial, mac, "Hideez Key 4", "4.0.1")])
    vault.add_account(
        actor=CLI, employee_id=employee_id,
        data=AccountInput(name="PC", login="CORP\\x", login_type=LoginType.DOMAIN, password="pw"),
    )  # fmt: skip
    vault.share_account(actor=CLI, shared_id=shared_id, employee_id=employee_id)
    vault.assign(actor=CLI, serial=serial, employee_id=employee_id)
    assert vault.key_tasks(serial=serial)
    return serial


def _shared(vault: VaultService) -> str:
    data = AccountInput(name="Ops", login="ops", urls=("https://ops.example",), password="s")
    return vault.add_shared_account(actor=CLI, data=data).id


def test_a_disabled_user_loses_the_key_and_its_accounts(scenario: Scenario) -> None:
    rt = scenario.runtime
    vault = build_vault_service(rt)
    dn = scenario.user("kim")
    scenario.sync()
    kim = scenario.employee("kim")
    serial = _give_key(vault, kim.id, _shared(vault))

    ad.set_attributes(scenario.conn, dn, userAccountControl=DISABLED)
    summary = scenario.sync(on_withdrawn=key_withdrawal(rt))

    assert [c.action for c in summary.changes] == [Action.DISABLE]
    key = vault.show_key(serial=serial)
    assert (key.status, key.reason, key.employee_id) == (
        VaultStatus.DEACTIVATED, VaultReason.WITHDRAWAL, None,
    )  # fmt: skip
    assert vault.list_accounts(employee_id=kim.id) == ()  # the shared copy too
    assert vault.key_tasks(serial=serial) == ()
    [event] = [
        e for e in rt.audit.list(kind=AuditKind.VAULT_STATUS_CHANGED, employee_id=kim.id).items
        if e.details.get("to") == VaultStatus.DEACTIVATED
    ]  # fmt: skip
    assert (event.actor, event.outcome) == (f"directory:{scenario.source.name}", Outcome.SUCCESS)
    assert [(k.serial, k.username, k.error) for k in summary.keys] == [(serial, kim.username, None)]
    assert f"key withdrawn     {serial} ({kim.username})" in format_summary(summary)
    assert scenario.sync(on_withdrawn=key_withdrawal(rt)).keys == ()  # nothing twice


def test_a_deleted_leaver_loses_the_key_before_the_employee_goes(scenario: Scenario) -> None:
    s = scenario.with_source(on_leave_scope="delete")
    rt = s.runtime
    vault = build_vault_service(rt)
    dn = s.user("lee")
    s.sync()
    lee = s.employee("lee")
    serial = _give_key(vault, lee.id, _shared(vault))

    ad.remove_members(s.conn, s.group, [dn])
    summary = s.sync(on_withdrawn=key_withdrawal(rt))

    assert [c.action for c in summary.changes] == [Action.LEAVE_DELETE]
    assert rt.employees.get(lee.id) is None
    assert vault.show_key(serial=serial).status is VaultStatus.DEACTIVATED
    assert [k.serial for k in summary.keys] == [serial]


def test_locked_secrets_finish_the_sync_and_report_the_keys_kept(scenario: Scenario) -> None:
    s = scenario.with_source(on_leave_scope="delete")
    vault = build_vault_service(s.runtime)
    shared = _shared(vault)
    mia_dn, ned_dn = s.user("mia"), s.user("ned")
    s.sync()
    mia, ned = s.employee("mia"), s.employee("ned")
    keys = {_give_key(vault, mia.id, shared): mia, _give_key(vault, ned.id, shared): ned}
    config = s.runtime.config.source
    locked_config = config.with_name("locked.yaml")
    text = config.read_text().splitlines()
    locked_config.write_text("\n".join(line for line in text if "master_key" not in line))
    locked = build_runtime(load_config(locked_config))
    try:
        assert locked.secrets.locked
        ad.set_attributes(s.conn, mia_dn, userAccountControl=DISABLED)
        ad.remove_members(s.conn, s.group, [ned_dn])
        summary = run_sync(locked, s.source, on_withdrawn=key_withdrawal(locked))
    finally:
        locked.close()

    assert sorted(c.action for c in summary.changes) == [Action.DISABLE, Action.LEAVE_DEACTIVATE]
    assert not s.employee("mia").enabled
    assert s.runtime.employees.get(ned.id) is not None  # kept: it still holds its key
    assert not s.employee("ned").enabled
    [kept] = [c for c in summary.changes if c.action is Action.LEAVE_DEACTIVATE]
    assert "not deleted: their Hideez Key could not be withdrawn" in kept.reason
    assert sorted(k.serial for k in summary.keys_not_withdrawn()) == sorted(keys)
    for serial in keys:
        assert vault.show_key(serial=serial).status is VaultStatus.RESERVED
    assert all("unlock the server's secrets first" in (k.error or "") for k in summary.keys)
    refusals = s.runtime.audit.list(kind=AuditKind.VAULT_STATUS_CHANGED, employee_id=mia.id).items
    assert [(e.outcome, e.details["action"]) for e in refusals if e.outcome is Outcome.FAILURE] == [
        (Outcome.FAILURE, "deactivate")
    ]
    assert "key NOT withdrawn" in format_summary(summary)

"""Restoring key accounts through the admin service while another restore onto the same
employee runs: the second is refused (409) naming the running one, and the claim is let go
when a restore ends, whether it succeeded or was refused. The first restore is held inside
its write (waiting on an event) so that the second meets it there, as on two instances."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from idp.admin.access import Actor, Role
from idp.admin.backup import (
    RESTORE_CLAIM,
    BackupAdmin,
    BackupExport,
    RestoreForm,
    RestoreInProgress,
    RestoreReport,
)
from idp.vault.account_backup import OnConflict
from idp.vault.backup import WrongBackupPassphrase
from idp.vault.model import AccountInput
from idp.vault.service import build_vault_service
from tests.idp.admin.conftest import ADMIN, World

PASS = "a long backup passphrase"
FORM = RestoreForm(passphrase=PASS, on_conflict=OnConflict.SKIP)
OTHER = Actor(name="admin:other", role=Role.ADMIN)


def _backup(world: World) -> bytes:
    ann = world.employee()
    for name in ("GitHub", "GitLab"):
        data = AccountInput(name=name, login="dev", urls=(f"https://{name.lower()}.com",),
                            password=f"{name}-pw")  # fmt: skip
        world.driver.add_account(actor=ADMIN, employee_id=ann, data=data)
    return world.svc.backup.export(ADMIN, ann, BackupExport(passphrase=PASS)).content


def _held(world: World, monkeypatch: pytest.MonkeyPatch) -> tuple[BackupAdmin, Any, Any]:
    """A BackupAdmin whose restores stop inside the write until ``go`` is set."""
    vault = build_vault_service(world.runtime)
    inside, go = threading.Event(), threading.Event()
    real: Callable[..., Any] = vault.restore_entries

    def held(**kwargs: Any) -> Any:
        inside.set()
        assert go.wait(30), "the test never let the first restore go on"
        return real(**kwargs)

    monkeypatch.setattr(vault, "restore_entries", held)
    return BackupAdmin(world.runtime, vault), inside, go


def test_a_second_restore_meanwhile_is_refused_naming_the_first(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob, bea = _backup(world), world.employee()
    first, inside, go = _held(world, monkeypatch)
    reports: list[RestoreReport] = []

    def restore() -> None:
        reports.append(first.restore(ADMIN, bea, FORM, backup=blob))

    worker = threading.Thread(target=restore)
    worker.start()
    try:
        assert inside.wait(30), "the first restore never reached its write"
        with pytest.raises(RestoreInProgress) as refused:
            world.svc.backup.restore(OTHER, bea, FORM, backup=blob)
    finally:
        go.set()
        worker.join(30)
    assert refused.value.status == 409 and refused.value.error == "key_restore_in_progress"
    assert "is running (started by root at 2026-12-02T12:00:00+00:00)" in (
        refused.value.description
    )
    (report,) = reports
    assert report.added == 2
    assert world.runtime.ephemeral.get(RESTORE_CLAIM + bea) is None  # let go at the end
    again = world.svc.backup.restore(OTHER, bea, FORM, backup=blob)
    assert (again.added, again.skipped) == (0, 2)
    world.runtime.audit.flush()
    refusals = [
        e for e in world.runtime.audit.list(employee_id=bea).items
        if e.details.get("action") == "key_accounts_restore_refused"
    ]  # fmt: skip
    assert [(e.actor, e.reason) for e in refusals] == [("admin:other", "key_restore_in_progress")]


def test_a_refused_restore_lets_go_of_its_claim(world: World) -> None:
    blob, cara = _backup(world), world.employee()
    wrong = RestoreForm(passphrase="not the passphrase", on_conflict=OnConflict.SKIP)
    with pytest.raises(WrongBackupPassphrase):
        world.svc.backup.restore(ADMIN, cara, wrong, backup=blob)
    assert world.runtime.ephemeral.get(RESTORE_CLAIM + cara) is None
    assert world.svc.backup.restore(ADMIN, cara, FORM, backup=blob).added == 2


def test_a_restore_onto_another_employee_is_not_held_up(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    blob, dan, eve = _backup(world), world.employee(), world.employee()
    first, inside, go = _held(world, monkeypatch)
    worker = threading.Thread(target=lambda: first.restore(ADMIN, dan, FORM, backup=blob))
    worker.start()
    try:
        assert inside.wait(30)
        assert world.svc.backup.restore(OTHER, eve, FORM, backup=blob).added == 2
    finally:
        go.set()
        worker.join(30)

"""Listing keys for the admin pages: by status, by holder, by the last status change, in
pages (on SQLite and PostgreSQL)."""

from __future__ import annotations

from tests.idp.vault.conftest import ADMIN, KEYS, Vaults


def test_filter_sort_and_offset(vaults: Vaults) -> None:
    service = vaults.service
    service.import_keys(actor=ADMIN, keys=KEYS)
    ann = vaults.employee("ann")
    vaults.clock.advance(minutes=1)
    service.assign(actor=ADMIN, serial=KEYS[1].serial, employee_id=ann)
    assert [v.serial for v in service.list_keys(employee_id=ann)] == [KEYS[1].serial]
    assert service.list_keys(employee_id=vaults.employee("bob")) == ()
    serials = [k.serial for k in KEYS]
    assert [v.serial for v in service.list_keys(descending=True)] == serials[::-1]
    newest = service.list_keys(sort="status_changed_at", descending=True, limit=1)
    assert [v.serial for v in newest] == [KEYS[1].serial]
    pages = [service.list_keys(offset=n, limit=1) for n in range(4)]
    assert [v.serial for page in pages for v in page] == serials

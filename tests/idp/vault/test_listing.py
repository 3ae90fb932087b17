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


def test_free_text_search_on_the_serial_and_the_holder(vaults: Vaults) -> None:
    service = vaults.service
    service.import_keys(actor=ADMIN, keys=KEYS)
    ann, annette = vaults.employee("ann"), vaults.employee("annette_x")
    service.assign(actor=ADMIN, serial=KEYS[0].serial, employee_id=ann)
    service.assign(actor=ADMIN, serial=KEYS[2].serial, employee_id=annette)

    def found(text: str, **more: object) -> list[str]:
        return [v.serial for v in service.list_keys(text=text, **more)]  # type: ignore[arg-type]

    assert found(KEYS[1].serial.lower()[-4:]) == [KEYS[1].serial]  # any case, any part
    assert found("ANN") == [KEYS[0].serial, KEYS[2].serial]  # the holder's username
    assert found("annette_x tester") == [KEYS[2].serial]  # the holder's full name
    assert found("Tester", limit=1, offset=1) == [KEYS[2].serial]
    assert found("ann", descending=True) == [KEYS[2].serial, KEYS[0].serial]
    # LIKE's wildcards are taken literally, SQL-looking input is only text
    assert found("%") == [] and found("_x") == [KEYS[2].serial]
    assert found("' OR '1'='1") == []
    assert found("   ") == [v.serial for v in service.list_keys()]  # blank: no filter
    assert found("nobody") == []

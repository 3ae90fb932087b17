"""Walk up and it unlocks, over the real radio path (tests/e2e/keys/harness.py): a real link
server with the vault, a real gateway (bleak's API over the bumble backend, the key agent, the
proximity monitor) and a virtual key whose RSSI the test sets. The server reads the key's
primary account (PIN where the profile says) and seals the password to the workstation;
SQLite + the in-process store and PostgreSQL + Redis."""

from __future__ import annotations

import asyncio
import time

from idp.audit import AuditKind
from idp.store.sql import EmployeeRepository
from idp.vault.model import Requirement
from idp.vault.states import VaultReason, VaultStatus
from idp.workstations.events import EventType, UnlockedBy
from tests.e2e.keys.harness import ALICE, BAND, FAR, NEAR, SERIAL, TAP, TIMEOUT, walk
from tests.e2e.workstations.harness import Site, until


def moves(site: Site) -> list[tuple[EventType, UnlockedBy | None, str | None, str | None]]:
    ws_id = site.registry.list().items[0].id
    events = [e.event for e in reversed(site.journal.events(workstation_id=ws_id).items)]
    return [
        (e.type, e.unlocked_by, e.details.get("reason"), e.account)
        for e in events
        if e.type in (EventType.LOCK, EventType.UNLOCK)
    ]


def test_a_scripted_walk_unlocks_lingers_locks_and_times_out(site: Site) -> None:
    async def scenario() -> None:
        async with walk(site, bob=True) as w:
            key, bob = w.key, w.bob
            assert bob is not None
            assert w.calls() == 0  # far: nothing yet
            key.rssi = NEAR  # approach
            await w.moved(0, "the unlock")
            assert w.actuator.calls == [("unlock", ALICE)]

            key.rssi = BAND  # linger between the thresholds, longer than LockTimeout,
            bob.rssi = NEAR  # while Bob's key passes by and goes: not his session
            await asyncio.sleep(0.3)
            bob.rssi = FAR
            await asyncio.sleep(1.5 * TIMEOUT)
            assert w.calls() == 1

            key.rssi = FAR  # leave: locked LockTimeout after the median drops below
            left = time.monotonic()
            locked = await w.moved(1, "the proximity lock")
            assert TIMEOUT <= locked - left <= TIMEOUT + 1.0
            assert w.actuator.calls[-1] == ("lock", None)

            key.rssi = NEAR  # back: it dropped below, so it is armed again
            await w.moved(2, "the second unlock")
            await key.device.stop_advertising()  # vanish: not heard, still connected
            gone = time.monotonic()
            timed_out = await w.moved(3, "the timeout lock")
            assert 2 * TIMEOUT - 0.1 <= timed_out - gone <= 2 * TIMEOUT + 1.0
            assert SERIAL in w.agent.radio.links

            key.rssi = TAP  # tap-and-go at the dongle
            await key.start()
            await w.moved(4, "the tap unlock")
            await key.stop()  # the connection drops: locked at once
            await w.moved(5, "the connection-lost lock")
            await until(lambda: len(w.gateway.spool) == 0, what="events acknowledged")

            reads = [
                e
                for e in w.vaults.audit.list(kind=AuditKind.VAULT_EVENT).items
                if e.details.get("action") == "credentials_read"
            ]
            assert len(reads) == 3 and {e.details["login"] for e in reads} == {"CORP\\alice"}
            assert all("win-secret" not in str(e.details) for e in reads)

    asyncio.run(scenario())
    ws_id = site.registry.list().items[0].id
    alice = EmployeeRepository(site.db).get_by_username("alice")
    assert alice is not None
    unlocks = [
        e
        for e in site.journal.events(workstation_id=ws_id).items
        if e.event.type is EventType.UNLOCK
    ]
    # the sessions are Alice's: the gateway named her, as the server did
    assert {(e.employee_id, e.event.details.get("key")) for e in unlocks} == {(alice.id, SERIAL)}
    assert moves(site) == [
        (EventType.UNLOCK, UnlockedBy.PROXIMITY, None, "CORP\\alice"),
        (EventType.LOCK, None, "proximity", ""),
        (EventType.UNLOCK, UnlockedBy.PROXIMITY, None, "CORP\\alice"),
        (EventType.LOCK, None, "timeout", ""),
        (EventType.UNLOCK, UnlockedBy.DONGLE, None, "CORP\\alice"),
        (EventType.LOCK, None, "connection_lost", ""),
    ]


def test_the_pin_is_asked_at_the_workstation_and_wrong_pins_lock_the_key(site: Site) -> None:
    async def scenario() -> None:
        async with walk(site, profile=Requirement(pin=True)) as w:
            w.pins[:] = ["2468"]  # the key holds no PIN yet: the user sets one
            w.key.rssi = NEAR
            await w.moved(0, "the unlock after setting a PIN")
            assert w.actuator.calls == [("unlock", ALICE)] and w.prompts == [("set", None)]
            w.key.rssi = FAR
            await w.moved(1, "the proximity lock")

            w.key_clock.offset += 2 * 86400
            w.pins[:] = ["1111", "2222", "3333"]  # the PIN expired; three wrong ones
            w.key.rssi = NEAR
            service = w.vaults.service
            await until(
                lambda: service.show_key(serial=SERIAL).status is VaultStatus.LOCKED,
                what="the key Locked by its PIN",
            )
            assert w.prompts[1:] == [("verify", 3), ("verify", 2), ("verify", 1)]
            assert w.key.storage.locked
            assert service.show_key(serial=SERIAL).reason is VaultReason.LOCKED_BY_INVALID_PIN
            await asyncio.sleep(0.3)  # near, but no further attempt: it stays locked
            assert w.actuator.calls == [("unlock", ALICE), ("lock", None)]
            assert len(w.prompts) == 4

    asyncio.run(scenario())

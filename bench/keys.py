"""Hideez Key figures on the simulated radio (bumble, 20 ms advertising), through bleak's API
and the gateway's own BLE code (device_gateway/keys.py), with the protocol's real crypto:

  1. advertisement → session ready: a key starts advertising; the gateway hears it, connects,
     and the master-key session (two ECDH P-256 + HKDF + proofs) is up;
  2. advertisement → linked and ready again: an unlinked key is linked with a new master key and
     a second session opened with it (the protocol part of activation; the vault service's
     database round trips are not in this figure);
  2b. advertisement → Active: the server's whole conversation (idp/vault/conversation.py) with a
     real VaultService on SQLite — plan, activation code (typed at once), link, profile and
     two accounts delivered — driven over the BLE link in this process;
  3. 100 accounts written to a key (SAVE_ACCOUNT each, framed to MTU 23) and listed back;
  4. simultaneous keys one gateway handles: N keys (advertising every 200 ms) connected at
     once, each with a session and an INFO round trip; connections are made one at a time (a
     controller holds one pending LE connection), the sessions then run side by side;
  5. advertisement → unlocked: the whole walk-up path (tests/e2e/keys/harness.py) — a real
     link server with the vault (SQLite, the in-process store), a real gateway with the
     proximity monitor, an Active key coming into range near: connect, the server's
     conversation (session, no tasks), the readings, the unlock decision, the server's
     credential read (a second session, READ_CREDENTIALS), the password sealed to the
     workstation, opened, the actuator's unlock — beside figure 1 of the same run;
  6. lock decision latency after the key leaves: the unlocked key's RSSI drops to far; the
     time to the actuator's lock (goal: within LockTimeout + 100 ms).

Run: .venv/bin/python bench/keys.py [rounds]
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from device_gateway.bleak_bumble import BumbleCentral, BumbleClient, BumbleScanner  # noqa: E402
from device_gateway.bumble_radio import Radio  # noqa: E402
from device_gateway.keys import BleBackend, KeyLink, KeyRadio  # noqa: E402
from device_gateway.virtual_key.key import VirtualKey  # noqa: E402
from idp.directory.model import Employee  # noqa: E402
from idp.secrets import SecretBox, new_data_key  # noqa: E402
from idp.store.ephemeral.memory import MemoryStore  # noqa: E402
from idp.store.sql import AuditRepository, EmployeeRepository, open_database  # noqa: E402
from idp.store.sql.database import migrate  # noqa: E402
from idp.vault.conversation import ToKey, converse  # noqa: E402
from idp.vault.model import AccountInput, KeyImport, LoginType  # noqa: E402
from idp.vault.protocol import messages as m  # noqa: E402
from idp.vault.protocol.host import HostSession  # noqa: E402
from idp.vault.protocol.key import KeyStorage  # noqa: E402
from idp.vault.service import VaultService  # noqa: E402
from tests.e2e.keys.harness import FAR, NEAR, walk  # noqa: E402
from tests.e2e.workstations.harness import Site, until  # noqa: E402
from tests.idp.vault.conftest import ADMIN  # noqa: E402

#: the LockTimeout of the walk-up figures (seconds)
LOCK_TIMEOUT = 1


async def session(link: KeyLink, master_key: bytes | None) -> HostSession:
    host = HostSession(expected_serial=link.serial)
    host.on_hello_reply(await link.exchange(host.hello()))
    host.on_ready(await link.exchange(host.confirm(master_key=master_key)))
    return host


async def call(link: KeyLink, host: HostSession, command: m.Command) -> object:
    return host.on_reply(await link.exchange(host.request(command)))


async def setup(
    serials: list[str], interval: float = 20
) -> tuple[list[VirtualKey], KeyRadio, BumbleCentral]:
    radio = Radio()
    keys = [VirtualKey(radio, KeyStorage(serial=s), advertising_interval=interval) for s in serials]
    central = await BumbleCentral.on_radio(radio, "gateway")
    gateway = KeyRadio(backend=BleBackend(BumbleScanner, BumbleClient, {"bumble": central}))
    await gateway.start()
    return keys, gateway, central


async def to_session(rounds: int) -> tuple[list[float], list[float]]:
    ready, linked = [], []
    for n in range(rounds):
        serial = f"ST1030{n:010d}"
        [key], gateway, central = await setup([serial])
        master_key = os.urandom(32)
        key.storage.master_key = master_key
        started = time.perf_counter()
        await key.start()
        link = await gateway.connect(serial)
        await session(link, master_key)
        ready.append(time.perf_counter() - started)
        await link.close()
        key.storage.wipe()
        started = time.perf_counter()
        link = await gateway.connect(serial)
        await call(link, await session(link, None), m.Link(master_key))
        await session(link, master_key)
        linked.append(time.perf_counter() - started)
        await gateway.stop()
        await key.close()
        await central.close()
    return ready, linked


def vault_service(directory: str) -> tuple[VaultService, EmployeeRepository]:
    db = open_database(f"sqlite:///{directory}/vault.db")
    migrate(db.engine)
    box = SecretBox()
    key = os.urandom(32)
    box.unlock(new_data_key(master_key=key), master_key=key)
    employees = EmployeeRepository(db)
    return VaultService(
        db=db, secrets=box, audit=AuditRepository(db), employees=employees,
        clock=lambda: dt.datetime.now(dt.UTC),
    ), employees  # fmt: skip


async def to_active(rounds: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as directory:
        service, employees = vault_service(directory)
        for n in range(rounds):
            serial = f"ST3030{n:010d}"
            service.import_keys(actor=ADMIN, keys=[KeyImport(serial, f"AA:BB:CC:00:01:{n:02X}",
                                                             "Hideez Key 4", "4.0.1")])  # fmt: skip
            employee = employees.add(
                Employee(id=f"e{n}", username=f"user{n}", email=f"user{n}@corp.example",
                         first_name="U", last_name=str(n)),
                now=dt.datetime.now(dt.UTC),
            ).id  # fmt: skip
            for kind, login in ((LoginType.DOMAIN, f"CORP\\user{n}"), (LoginType.WEB_APP, "u")):
                service.add_account(actor=ADMIN, employee_id=employee, data=AccountInput(
                    name=kind.value, login=login, login_type=kind, password="pw"))  # fmt: skip
            code = service.assign(actor=ADMIN, serial=serial, employee_id=employee).activation_code
            [key], gateway, central = await setup([serial])
            started = time.perf_counter()
            await key.start()
            link = await gateway.connect(serial)
            steps = converse(vault=service, serial=serial)
            answer: bytes | str | None = None
            try:
                while True:
                    step = next(steps) if answer is None else steps.send(answer)
                    answer = await link.exchange(step.message) if isinstance(step, ToKey) else code
            except StopIteration as done:
                assert done.value.status.value == "active", done.value
            times.append(time.perf_counter() - started)
            await gateway.stop()
            await key.close()
            await central.close()
    return times


async def hundred_accounts() -> tuple[float, float]:
    serial = "ST10309999999999"
    [key], gateway, central = await setup([serial])
    await key.start()
    link = await gateway.connect(serial)
    master_key = os.urandom(32)
    await call(link, await session(link, None), m.Link(master_key))
    host = await session(link, master_key)
    started = time.perf_counter()
    for n in range(100):
        account = m.SaveAccount(
            f"acc-{n:03d}", f"Service {n}", f"alice{n}@corp.example", "x" * 24,
            (f"https://service{n}.example.com",), (), None, n == 0,
        )  # fmt: skip
        await call(link, host, account)
    written = time.perf_counter() - started
    started = time.perf_counter()
    start: int | None = 0
    listed = 0
    while start is not None:
        page = await call(link, host, m.ListAccounts(start=start))
        assert isinstance(page, m.AccountPage)
        listed += len(page.accounts)
        start = page.next
    assert listed == 100
    read = time.perf_counter() - started
    await gateway.stop()
    await key.close()
    await central.close()
    return written, read


async def simultaneous(count: int) -> tuple[float, int]:
    serials = [f"ST2030{n:010d}" for n in range(count)]
    # 20 ms × many keys floods the scanner's callbacks; real keys advertise far more slowly
    keys, gateway, central = await setup(serials, interval=200)
    for key in keys:
        await key.start()

    async def one(serial: str) -> bool:
        link = await gateway.connect(serial)
        host = await session(link, None)
        info = await call(link, host, m.InfoCommand())
        return isinstance(info, m.Info) and info.serial == serial

    started = time.perf_counter()
    results = await asyncio.gather(*(one(s) for s in serials), return_exceptions=True)
    elapsed = time.perf_counter() - started
    ok = sum(1 for r in results if r is True)
    await gateway.stop()
    for key in keys:
        await key.close()
    await central.close()
    return elapsed, ok


async def walk_up(rounds: int) -> tuple[list[float], list[float]]:
    """Seconds from the key's first advertisement (near) to the unlock, and from its RSSI
    dropping to far to the lock, over ``rounds`` visits of one Active key."""
    unlocked, locked = [], []
    with tempfile.TemporaryDirectory() as directory:
        db = open_database(f"sqlite:///{directory}/idp.db")
        migrate(db.engine)
        site = Site(db, MemoryStore(), Path(directory))
        async with walk(site, timeout=LOCK_TIMEOUT) as w:
            for _ in range(rounds):
                await w.key.stop()  # out of range: the next visit starts with an advertisement
                await until(lambda: not w.agent.radio.links, what="the key gone")
                calls = w.calls()
                w.key.rssi = NEAR
                started = time.monotonic()
                await w.key.start()
                unlocked.append(await w.moved(calls, "the unlock") - started)
                w.key.rssi = FAR
                left = time.monotonic()
                locked.append(await w.moved(calls + 1, "the lock") - left)
        db.dispose()
    return unlocked, locked


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


async def main(rounds: int) -> None:
    ready, linked = await to_session(rounds)
    print(f"advertisement → session ready ({rounds} rounds): {ms(ready)}")
    print(f"unlinked key → linked and a master-key session ready: {ms(linked)}")
    active = await to_active(rounds)
    print(f"advertisement → Active (vault service on SQLite, code, link, profile, 2 accounts): "
          f"{ms(active)}")  # fmt: skip
    written, read = await hundred_accounts()
    print(f"100 accounts onto a key: {written * 1000:.0f} ms ({written * 10:.1f} ms each); "
          f"listed back in {read * 1000:.0f} ms")  # fmt: skip
    for count in (5, 10, 20):
        elapsed, ok = await simultaneous(count)
        print(f"{count} keys at once on one gateway: {ok}/{count} with a session and INFO "
              f"in {elapsed * 1000:.0f} ms")  # fmt: skip
    unlocked, locked = await walk_up(rounds)
    ratio = statistics.median(unlocked) / statistics.median(ready)
    print(f"advertisement → unlocked (link server, vault, gateway, proximity, credential read): "
          f"{ms(unlocked)}; ratio {ratio:.1f}x advertisement → session ready")  # fmt: skip
    goal = LOCK_TIMEOUT + 0.1
    worst = max(locked)
    print(f"lock decision latency after the key leaves (LockTimeout {LOCK_TIMEOUT} s): "
          f"{ms(locked)}; max {worst / goal * 100:.0f}% of goal {goal * 1000:.0f} ms "
          f"({'within' if worst <= goal else 'OVER'})")  # fmt: skip


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))

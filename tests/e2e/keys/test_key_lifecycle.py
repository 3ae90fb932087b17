"""A key's whole life through the real link server, a real gateway agent (bleak's API over
the bumble backend) and a virtual key: assign → activate with the code (wrong ×3 → Locked)
→ accounts on the key → suspend → re-activate → deactivate → next connection wipes → Ready;
a compromised key is refused and disconnected."""

from __future__ import annotations

import asyncio
import time

from device_gateway.actuator import RecordingActuator
from device_gateway.agent import Gateway, GatewayOptions
from device_gateway.bleak_bumble import BumbleCentral, BumbleClient, BumbleScanner
from device_gateway.bumble_radio import Radio
from device_gateway.identity import Identity
from device_gateway.key_agent import KeyAgent
from device_gateway.keys import BleBackend, KeyRadio
from device_gateway.spool import Spool
from device_gateway.virtual_key.key import VirtualKey
from flask_idp.link_server import LinkServer
from idp.vault.model import AccountInput, KeyImport, LoginType
from idp.vault.protocol.key import KeyStorage
from idp.vault.relay import KeyConversations
from idp.vault.states import VaultReason, VaultStatus
from idp.workstations.link import LinkService
from idp.workstations.model import WorkstationInfo, WorkstationStatus
from tests.e2e.workstations.harness import ADMIN, Site, free_port, until
from tests.idp.vault.conftest import make_vaults

SERIAL = "ST10301234567890"


def test_the_lifecycle_through_link_server_gateway_and_virtual_key(site: Site) -> None:
    vaults = make_vaults(site.db)
    service = vaults.service
    service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:21", "Hideez Key 4", "4.0.1")]
    )
    alice = vaults.employee("alice")
    service.add_account(
        actor=ADMIN,
        employee_id=alice,
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
        employee_id=alice,
        data=AccountInput(
            name="Windows", login="CORP\\alice", login_type=LoginType.DOMAIN, password="win-secret"
        ),
    )
    codes: list[str] = []
    prompts: list[tuple[str, int, str]] = []

    async def prompt(serial: str, attempts_left: int, purpose: str) -> str:
        prompts.append((serial, attempts_left, purpose))
        return codes.pop(0)

    def status() -> VaultStatus:
        return service.show_key(serial=SERIAL).status

    async def scenario() -> None:
        link = LinkServer(
            LinkService(
                registry=site.registry,
                journal=site.journal,
                store=site.store,
                audit=site.audit,
                clock=site.clock,
                key_conversations=KeyConversations(vault=service),
            ),
            site.store,
        )
        port = free_port()
        server = await link.start("127.0.0.1", port)
        radio = Radio()
        key = VirtualKey(radio, KeyStorage(serial=SERIAL, battery=64))
        central = await BumbleCentral.on_radio(radio, "gateway")
        agent = KeyAgent(
            radio=KeyRadio(backend=BleBackend(BumbleScanner, BumbleClient, {"bumble": central})),
            prompt=prompt,
        )
        gateway = Gateway(
            identity=Identity.load_or_create(site.tmp / "pc" / "identity"),
            spool=Spool(site.tmp / "pc" / "spool"),
            actuator=RecordingActuator(),
            options=GatewayOptions(
                server_url=f"ws://127.0.0.1:{port}/link",
                info=WorkstationInfo("pc", "CORP", "Windows 11", "10.0.0.8", "1.0.0"),
                min_backoff=0.05,
                refused_retry=0.1,
            ),
            keys=agent,
        )
        stop = asyncio.Event()
        running = asyncio.create_task(gateway.run(stop))
        ws_id = gateway.identity.workstation_id
        await until(lambda: site.registry.get(ws_id) is not None, what="registration")
        site.admin.set_status(
            actor=ADMIN, workstation_id=ws_id, status=WorkstationStatus.APPROVED, now=site.clock()
        )
        await until(gateway.connected.is_set, what="the link")

        async def visit(expect: str) -> dict:
            """The key comes into range and the conversation runs to its end."""
            agent.outcomes.pop(SERIAL, None)
            await key.start()
            await until(lambda: SERIAL in agent.outcomes, what=f"the outcome ({expect})")
            return agent.outcomes[SERIAL]

        async def leave() -> None:
            await key.stop()
            await until(lambda: SERIAL not in agent.radio.links, what="the key gone")

        code = service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice).activation_code
        wrong = f"{(int(code) + 1) % 10**6:06d}"
        started = time.perf_counter()
        codes[:] = [wrong] * 3
        out = await visit("locked by wrong codes")
        assert out["status"] == "locked" and status() is VaultStatus.LOCKED
        assert [p[1] for p in prompts] == [3, 2, 1] and not key.storage.linked
        await leave()

        code = service.suspend(actor=ADMIN, serial=SERIAL).activation_code
        codes[:] = [code]
        out = await visit("linked")
        assert out["status"] == "active" and out["tasks_done"] >= 2 and out["battery"] == 64
        assert status() is VaultStatus.ACTIVE and key.storage.linked
        assert [a.name for a in key.storage.accounts.values()] == ["Windows", "GitHub"]
        assert service.show_key(serial=SERIAL).battery == 64
        linked_in = time.perf_counter() - started
        await leave()

        code = service.suspend(actor=ADMIN, serial=SERIAL).activation_code
        codes[:] = [code]
        out = await visit("re-activated")
        assert out["plan"] == "unlock_with_code" and status() is VaultStatus.ACTIVE
        assert prompts[-1][2] == "unlock" and not key.storage.locked
        await leave()

        service.deactivate(actor=ADMIN, serial=SERIAL, reason=VaultReason.WITHDRAWAL)
        out = await visit("wiped")
        assert out["plan"] == "wipe" and status() is VaultStatus.READY
        assert not key.storage.linked and not key.storage.accounts
        await leave()

        service.compromise(actor=ADMIN, serial=SERIAL)
        out = await visit("refused")
        assert out["refused"] and out["error"] == "key_compromised"
        await until(lambda: SERIAL not in agent.radio.links, what="the refused key dropped")
        assert linked_in < 20
        # every visit is in the workstation's journal: connected, then disconnected
        await until(lambda: len(gateway.spool) == 0, what="events acknowledged")
        kinds = [e.event.type.value for e in site.journal.events(workstation_id=ws_id).items]
        assert kinds.count("key_connected") == 5 and kinds.count("key_disconnected") >= 4

        stop.set()
        await asyncio.wait_for(running, 10)
        await key.close()
        await central.close()
        await link.stop(server)

    asyncio.run(scenario())

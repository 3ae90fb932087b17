"""A "skip password" domain account completed from the workstation, end to end: the real link
server, a real gateway agent (bleak's API over the bumble backend) answering the password prompt
from a ``--password-script`` file, a virtual key, and the real Samba AD DC checking the password
by a bind as the employee before the vault stores it and delivers it to the key."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from device_gateway.actuator import RecordingActuator
from device_gateway.agent import Gateway, GatewayOptions
from device_gateway.bleak_bumble import BumbleCentral, BumbleClient, BumbleScanner
from device_gateway.bumble_radio import Radio
from device_gateway.identity import Identity
from device_gateway.key_agent import KeyAgent
from device_gateway.keys import BleBackend, KeyRadio
from device_gateway.spool import Spool
from device_gateway.virtual_key.key import VirtualKey
from flask_idp.cli_gateway import scripted_passwords
from flask_idp.link_server import LinkServer
from idp.vault.model import AccountInput, KeyImport, LoginType
from idp.vault.protocol.key import KeyStorage
from idp.vault.relay import KeyConversations
from idp.vault.service import build_vault_service
from idp.vault.tables import VaultAccountRow
from idp.workstations.link import LinkService
from idp.workstations.model import WorkstationInfo, WorkstationStatus
from tests import samba_dc as ad
from tests.e2e.workstations.harness import ADMIN, Site, free_port, until
from tests.idp.directory import desks
from tests.idp.directory.conftest import Scenario, runtime, scenario  # noqa: F401 (fixtures)

pytestmark = pytest.mark.samba
SERIAL = "ST10301234567777"
PASSWORD = "Corr3ct-Horse-2026"


def test_a_skip_password_account_is_completed_at_the_workstation(
    scenario: Scenario,  # noqa: F811
    tmp_path: Path,
) -> None:
    scenario.user("erin", password=PASSWORD, userAccountControl=ad.NORMAL_ACCOUNT)
    scenario.sync()
    rt = scenario.runtime
    check = desks.checker(rt, scenario.source, lambda _: ad.ADMIN_PASSWORD)
    service = build_vault_service(rt, password_check=check)
    service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:77", "Hideez Key 4", "4.0.1")]
    )
    erin = scenario.employee("erin").id
    login = f"{ad.DOMAIN}\\{scenario.name('erin')}"
    account = service.add_account(
        actor=ADMIN,
        employee_id=erin,
        data=AccountInput(
            name="Windows", login=login, login_type=LoginType.DOMAIN, skip_password=True
        ),
    )
    code = service.assign(actor=ADMIN, serial=SERIAL, employee_id=erin).activation_code
    script = tmp_path / "passwords.txt"
    script.write_text(f"Wr0ng-Horse-2026\n{PASSWORD}\n")
    answers = scripted_passwords(script)
    prompts: list[tuple[str, str]] = []

    async def password(serial: str, name: str, login: str, refused: str) -> str:
        prompts.append((login, refused))
        return await answers(serial, name, login, refused)

    async def typed_code(serial: str, attempts_left: int, purpose: str) -> str:
        return code

    site = Site(rt.db, rt.ephemeral, tmp_path)

    async def workstation() -> dict:
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
        key = VirtualKey(radio, KeyStorage(serial=SERIAL, battery=80))
        central = await BumbleCentral.on_radio(radio, "gateway")
        agent = KeyAgent(
            radio=KeyRadio(backend=BleBackend(BumbleScanner, BumbleClient, {"bumble": central})),
            prompt=typed_code,
            password_prompt=password,
        )
        gateway = Gateway(
            identity=Identity.load_or_create(tmp_path / "pc" / "identity"),
            spool=Spool(tmp_path / "pc" / "spool"),
            actuator=RecordingActuator(),
            options=GatewayOptions(
                server_url=f"ws://127.0.0.1:{port}/link",
                info=WorkstationInfo("pc", ad.DOMAIN, "Windows 11", "10.0.0.9", "1.0.0"),
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
        await key.start()
        await until(lambda: SERIAL in agent.outcomes, timeout=30, what="the outcome")
        stored = key.storage.accounts[account.id].password
        stop.set()
        await asyncio.wait_for(running, 10)
        await key.close()
        await central.close()
        await link.stop(server)
        return {"outcome": agent.outcomes[SERIAL], "on_key": stored}

    result = asyncio.run(asyncio.wait_for(workstation(), 60))
    assert result["outcome"]["status"] == "active" and not result["outcome"]["refused"]
    assert result["on_key"] == PASSWORD  # delivered in the same connection
    assert [p[0] for p in prompts] == [login, login]
    assert prompts[0][1] == "" and "user name or password is wrong" in prompts[1][1]
    assert service.pending_tasks(serial=SERIAL) == ()
    with rt.db.transaction() as s:
        sealed = s.scalars(select(VaultAccountRow.password).where(VaultAccountRow.id == account.id))
        ciphertext = sealed.one()
    assert ciphertext is not None and PASSWORD.encode() not in ciphertext
    rt.audit.flush()

"""PC login by phone end to end: the reference authenticator over HTTP against the Flask IdP,
a real link server and a real gateway (recording actuator), on SQLite + the in-process store
and on PostgreSQL + Redis. The phone scans the lock-screen QR, the server checks and sends
the credential over the link, the gateway unlocks and reports who unlocked it; remote lock;
offline codes; and every hostile case refused with its status and error, nothing unlocked."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from authenticator import Authenticator, AuthenticatorError
from authenticator.pc import LOGIN_PATH, PcClient
from flask_idp.cli import main
from flask_idp.link_server import LinkServer
from idp.admin.pc_logon import set_pc_logon
from idp.audit import AuditKind
from idp.factors.authenticator import wire
from idp.workstations.ca import MS_UPN, SMART_CARD_LOGON, LocalCa
from idp.workstations.errors import OfflineCodeRefused
from idp.workstations.events import EventType, UnlockedBy
from idp.workstations.model import WorkstationStatus
from idp.workstations.offline_revocations import OfflineRevocations
from idp.workstations.pc_logon import PcLogonRepository
from idp.workstations.services import build_workstations
from tests.e2e.authenticator.helpers import authenticator_idp, enrolled_app, new_person
from tests.e2e.server import RunningServer
from tests.e2e.workstations.harness import ADMIN, Agent, Site, free_port, until

pytestmark = pytest.mark.e2e
PASSWORD = "Winter-2026-pass!"


@pytest.fixture(scope="module")
def pc_server(tmp_path_factory: pytest.TempPathFactory, storage: str) -> Iterator[RunningServer]:
    ca_dir = tmp_path_factory.mktemp(f"pc-ca-{storage}")
    LocalCa.create("PC logon test CA", now=dt.datetime.now(dt.UTC)).save(
        ca_dir / "ca.key", ca_dir / "ca.crt"
    )
    extra = (
        "workstations:\n"
        f"  logon_ca: {{key: {ca_dir}/ca.key, cert: {ca_dir}/ca.crt}}\n"
        "  pc_login: {offline_codes: 3, offline_hours: 1}\n"
    )
    directory = tmp_path_factory.mktemp(f"pc-{storage}")
    with authenticator_idp(directory, storage=storage, extra_config=extra) as server:
        yield server


class Desk:
    """One approved workstation (a real gateway) on a real link server of ``server``."""

    def __init__(self, server: RunningServer, site: Site, link: LinkServer, agent: Agent) -> None:
        self.server, self.site, self.link, self.agent = server, site, link, agent

    @property
    def ws_id(self) -> str:
        return self.agent.gateway.identity.workstation_id

    async def qr(self) -> str:
        gateway = self.agent.gateway
        gateway.state.qr_payload = None
        await gateway.request_qr()
        await until(lambda: gateway.state.qr_payload is not None, what="the lock-screen QR")
        assert gateway.state.qr_payload is not None
        return gateway.state.qr_payload

    def unlocks(self) -> list[Any]:
        return [c for name, c in self.agent.actuator.calls if name == "unlock"]


@asynccontextmanager
async def desks(server: RunningServer, tmp: Path, count: int = 1) -> AsyncIterator[list[Desk]]:
    rt = server.runtime
    site = Site(rt.db, rt.ephemeral, tmp)
    link = LinkServer(build_workstations(rt).link, rt.ephemeral)
    port = free_port()
    running = await link.start("127.0.0.1", port)
    made = []
    for i in range(count):
        agent = site.agent(f"pc-{secrets.token_hex(3)}-{i}", f"ws://127.0.0.1:{port}/")
        ws_id = agent.gateway.identity.workstation_id
        await until(lambda w=ws_id: site.registry.get(w) is not None, what="registration")
        site.admin.set_status(actor=ADMIN, workstation_id=ws_id,
                              status=WorkstationStatus.APPROVED, now=site.clock())  # fmt: skip
        await until(agent.gateway.connected.is_set, what="the welcome")
        made.append(Desk(server, site, link, agent))
    try:
        yield made
    finally:
        for desk in made:
            await desk.agent.shutdown()
        await link.stop(running)


def phone(server: RunningServer, tmp: Path, **person: Any) -> tuple[str, Authenticator, PcClient]:
    username = new_person(server, **person)
    app = enrolled_app(server, username, tmp / f"phone-{username}")
    return username, app, PcClient(app)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


async def refused(call: Callable[[], object], error: str, status: int) -> AuthenticatorError:
    with pytest.raises(AuthenticatorError) as caught:
        await asyncio.to_thread(call)
    assert (caught.value.error, caught.value.status) == (error, status), str(caught.value)
    return caught.value


def test_password_login_unlocks_then_the_phone_locks(pc_server: RunningServer, tmp_path: Path):
    username, _, pc = phone(pc_server, tmp_path)

    async def scenario() -> None:
        async with desks(pc_server, tmp_path) as [desk]:
            qr = await desk.qr()
            started = time.monotonic()
            done = await asyncio.to_thread(pc.login, qr, account="CORP\\" + username,
                                           password=PASSWORD)  # fmt: skip
            assert (done.workstation_id, done.method, done.offline_codes) == (
                desk.ws_id, "password", 3)  # fmt: skip
            await until(lambda: desk.unlocks() != [], what="the unlock")
            assert time.monotonic() - started < 5
            [credential] = desk.unlocks()
            assert (credential.account, credential.method, credential.secret) == (
                "CORP\\" + username, "password", PASSWORD)  # fmt: skip
            rt = pc_server.runtime
            employee = pc_server.employee(username)
            journal = desk.site.journal
            await until(lambda: journal.sessions(employee_id=employee.id, open_only=True).total
                        == 1, what="the session in the employee's name")  # fmt: skip
            [session] = journal.sessions(employee_id=employee.id).items
            assert session.unlocked_by is UnlockedBy.PHONE and session.workstation_id == desk.ws_id

            locked = await asyncio.to_thread(pc.lock)
            assert locked == [desk.ws_id]
            await until(lambda: desk.agent.actuator.locked, what="the lock from the phone")
            await until(lambda: journal.sessions(employee_id=employee.id, open_only=True).total
                        == 0, what="the session closed")  # fmt: skip
            # Nothing left to lock now: a clear refusal, not a silent success.
            await refused(pc.lock, "nothing_to_lock", 404)
            audit = rt.audit.list(kind=AuditKind.WORKSTATION_EVENT, employee_id=employee.id)
            actions = [(e.details["action"], e.outcome.value) for e in audit.items]
            assert ("pc_login", "success") in actions and ("pc_lock", "success") in actions
            assert PASSWORD not in repr([e.details for e in audit.items])

    run(scenario)


def test_passwordless_login_sends_a_logon_certificate(pc_server: RunningServer, tmp_path: Path):
    username, _, pc = phone(pc_server, tmp_path)

    async def scenario() -> None:
        async with desks(pc_server, tmp_path) as [desk]:
            done = await asyncio.to_thread(pc.login, await desk.qr())
            assert (done.method, done.offline_codes) == ("certificate", 0)
            await until(lambda: desk.unlocks() != [], what="the unlock")
            [credential] = desk.unlocks()
            assert credential.method == "certificate"
            leaf, ca_cert = x509.load_pem_x509_certificates(credential.secret.encode())
            public = ca_cert.public_key()
            assert isinstance(public, ec.EllipticCurvePublicKey)
            public.verify(leaf.signature, leaf.tbs_certificate_bytes,
                          ec.ECDSA(hashes.SHA256()))  # fmt: skip
            eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            assert SMART_CARD_LOGON in eku and ExtendedKeyUsageOID.CLIENT_AUTH in eku
            san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            [upn] = [n for n in san if isinstance(n, x509.OtherName) and n.type_id == MS_UPN]
            assert upn.value.endswith(f"{username}@example.com".encode())
            assert leaf.public_key() == desk.agent.gateway.identity.key.public_key()
            lifetime = leaf.not_valid_after_utc - leaf.not_valid_before_utc
            assert lifetime <= dt.timedelta(minutes=7)

    run(scenario)


def test_offline_codes_work_within_their_limits(pc_server: RunningServer, tmp_path: Path):
    username, _, pc = phone(pc_server, tmp_path)

    async def scenario() -> None:
        async with desks(pc_server, tmp_path) as [desk]:
            await asyncio.to_thread(pc.login, await desk.qr(), account="CORP\\" + username,
                                    password=PASSWORD)  # fmt: skip
            await until(lambda: len(desk.unlocks()) == 1, what="the online unlock")
            gateway = desk.agent.gateway
            await until(lambda: gateway.offline.grants() != [], what="the grant kept")
            # The server is gone now: codes from the phone unlock, each once, up to 3.
            ws, first, left = pc.next_offline_code()
            assert (ws, left) == (desk.ws_id, 2)
            assert gateway.offline_unlock(first)
            assert desk.unlocks()[-1].secret == PASSWORD
            with pytest.raises(OfflineCodeRefused):
                gateway.offline_unlock(first)  # used
            _, second, _ = pc.next_offline_code()
            _, third, left = pc.next_offline_code()
            assert left == 0
            assert gateway.offline_unlock(third)  # a later code burns the ones before it
            with pytest.raises(OfflineCodeRefused):
                gateway.offline_unlock(second)
            with pytest.raises(AuthenticatorError):
                pc.next_offline_code()
            assert len(desk.unlocks()) == 3
            # The alarm, as last heard from the server, refuses offline codes too.
            gateway.state.alarm = True
            with pytest.raises(OfflineCodeRefused, match="alarm"):
                gateway.offline_unlock(second)
            gateway.state.alarm = False
            # PC logon switched off for the app: connected workstations forget its grant.
            rt = pc_server.runtime
            set_pc_logon(
                employees=rt.employees, devices=rt.authenticator.devices, audit=rt.audit,
                pc_logon=PcLogonRepository(rt.db, default_enabled=True),
                revocations=OfflineRevocations(rt.db, rt.ephemeral),
                username=username, enabled=False, actor="test", now=rt.now(),
            )  # fmt: skip
            await until(lambda: gateway.offline.grants() == [], what="the grant revoked")
            await until(lambda: len(gateway.spool) == 0, what="the events reached the server")
            events = desk.site.journal.events(workstation_id=desk.ws_id).items
            offline = [e for e in events if e.event.details.get("method") == "offline_code"]
            assert len(offline) == 2 and all(e.event.type is EventType.UNLOCK for e in offline)

    run(scenario)


def test_hostile_qr_codes_are_refused(pc_server: RunningServer, tmp_path: Path):
    _, _, pc = phone(pc_server, tmp_path)
    rt = pc_server.runtime

    async def scenario() -> None:
        async with desks(pc_server, tmp_path, count=2) as [one, other]:
            qr = await one.qr()
            await asyncio.to_thread(pc.login, qr)
            await until(lambda: len(one.unlocks()) == 1, what="the first unlock")
            # The same QR again: single use.
            await refused(lambda: pc.login(qr), "qr_nonce_invalid", 400)
            # The nonce of one workstation's QR under another's id.
            nonce = (await one.qr()).rsplit("n=", 1)[1]
            forged = f"hideez-idp://pc-login?ws={other.ws_id}&n={nonce}"
            await refused(lambda: pc.login(forged), "qr_nonce_invalid", 400)
            # Expired: the store lets the nonce go (its TTL shortened to one second here).
            late = await one.qr()
            rt.ephemeral.put("ws-qr:" + late.rsplit("n=", 1)[1], one.ws_id.encode(), ttl=1)
            await asyncio.sleep(1.3)
            await refused(lambda: pc.login(late), "qr_nonce_invalid", 400)
            await refused(lambda: pc.login("https://evil.example/?ws=x"), "qr_nonce_invalid", 400)
            assert len(one.unlocks()) == 1 and other.unlocks() == []

    run(scenario)


def test_unsigned_and_forged_requests_are_refused(pc_server: RunningServer, tmp_path: Path):
    _, app, _ = phone(pc_server, tmp_path)

    async def scenario() -> None:
        async with desks(pc_server, tmp_path) as [desk]:
            qr = await desk.qr()
            url = pc_server.url(LOGIN_PATH)
            body = b'{"qr": "%s"}' % qr.encode()
            unsigned = await asyncio.to_thread(httpx.post, url, content=body)
            assert (unsigned.status_code, unsigned.json()["error"]) == (
                401, "device_request_invalid")  # fmt: skip
            device_id = app._enrolled()[0].device_id
            thief = ec.generate_private_key(ec.SECP256R1())
            headers = app._signed_headers(thief, device_id, "POST", LOGIN_PATH, body)
            forged = await asyncio.to_thread(httpx.post, url, content=body, headers=headers)
            assert (forged.status_code, forged.json()["error"]) == (401, "device_signature_invalid")
            # A genuine request replayed byte for byte.
            key = app._enrolled()[1]
            headers = app._signed_headers(key, device_id, "POST", LOGIN_PATH, body)
            first = await asyncio.to_thread(httpx.post, url, content=body, headers=headers)
            assert first.status_code == 200, first.text
            again = await asyncio.to_thread(httpx.post, url, content=body, headers=headers)
            assert (again.status_code, again.json()["error"]) == (401, "replay_detected")
            oversized = b'{"qr": "' + b"x" * (wire.MAX_BODY + 10) + b'"}'
            big = await asyncio.to_thread(httpx.post, url, content=oversized)
            assert big.status_code == 413
            await until(lambda: len(desk.unlocks()) == 1, what="only the genuine unlock")
            assert len(desk.unlocks()) == 1

    run(scenario)


def test_refusals_by_the_logon_check(pc_server: RunningServer, tmp_path: Path):
    username, _, pc = phone(pc_server, tmp_path)
    rt = pc_server.runtime
    config = str(pc_server.config_path)

    async def scenario() -> None:
        async with desks(pc_server, tmp_path, count=2) as [desk, spare]:
            # PC logon switched off for this app: refused, and the QR is not spent by it.
            assert main(["device", "pc-logon", "disable", username, "--config", config]) == 0
            qr = await desk.qr()
            await refused(lambda: pc.login(qr), "pc_logon_disabled", 403)
            assert main(["device", "pc-logon", "enable", username, "--config", config]) == 0
            await asyncio.to_thread(pc.login, qr)
            await until(lambda: len(desk.unlocks()) == 1, what="the unlock once enabled")

            # A workstation unapproved after its QR was shown.
            qr = await spare.qr()
            unapproved = WorkstationStatus.UNAPPROVED
            desk.site.admin.set_status(actor=ADMIN, workstation_id=spare.ws_id,
                                       status=unapproved, now=rt.now())  # fmt: skip
            await refused(lambda: pc.login(qr), "workstation_not_approved", 403)

            # A deactivated employee.
            qr = await desk.qr()
            employee = pc_server.employee(username)
            rt.employees.update(dataclasses.replace(employee, enabled=False))
            rt.directory.invalidate(employee.id)
            await refused(lambda: pc.login(qr), "logon_refused", 403)
            rt.employees.update(employee)
            rt.directory.invalidate(employee.id)

            # The emergency alarm (lifted again for the other tests on this server).
            qr = await desk.qr()
            desk.site.admin.raise_alarm(actor=ADMIN, now=rt.now())
            try:
                await refused(lambda: pc.login(qr), "alarm_active", 403)
            finally:
                desk.site.registry.set_alarm(active=False, by="test", now=rt.now())
            assert len(desk.unlocks()) == 1 and spare.unlocks() == []

    run(scenario)


def test_the_cli_commands(
    pc_server: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    username, app, _ = phone(pc_server, tmp_path)
    config = ["--config", str(pc_server.config_path)]
    assert main(["device", "pc-logon", "show", username, *config]) == 0
    assert "PC logon enabled (the configured default)" in capsys.readouterr().out
    assert main(["device", "pc-logon", "disable", username, *config]) == 0
    assert main(["device", "pc-logon", "show", username, *config]) == 0
    assert "PC logon disabled (set by cli)" in capsys.readouterr().out
    changes = pc_server.runtime.audit.list(kind=AuditKind.ADMIN_CHANGE,
                                           employee_id=pc_server.employee(username).id)  # fmt: skip
    assert changes.items[0].details["pc_logon"] == "disabled"
    # Hostile or mistaken input: a clear error line and a non-zero exit, nothing changed.
    assert main(["device", "pc-logon", "enable", "nobody-here", *config]) == 2
    assert "no employee with username 'nobody-here'" in capsys.readouterr().err
    without_app = new_person(pc_server)
    assert main(["device", "pc-logon", "enable", without_app, *config]) == 2
    assert "has no authenticator app" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["device", "pc-logon", "maybe", username, *config])
    assert main(["device", "pc-logon", "enable", username, *config]) == 0

    state = ["--state", str(tmp_path / f"phone-{username}")]
    assert main(["authenticator", "pc-login", "--qr", "hideez-idp://pc-login?ws=x&n=y",
                 "--account", "CORP\\x", *state]) == 2  # fmt: skip
    assert "--account and --password-file go together" in capsys.readouterr().err
    assert main(["authenticator", "pc-login", "--qr", "not a qr", *state]) == 2
    assert "qr_nonce_invalid" in capsys.readouterr().err
    assert main(["authenticator", "offline-code", *state]) == 2
    assert "log in to it online once first" in capsys.readouterr().err

    async def scenario() -> None:
        async with desks(pc_server, tmp_path) as [desk]:
            secret = tmp_path / "password.txt"
            secret.write_text(PASSWORD + "\n")
            argv = ["authenticator", "pc-login", "--qr", await desk.qr(), "--account",
                    "CORP\\" + username, "--password-file", str(secret), *state]  # fmt: skip
            assert await asyncio.to_thread(main, argv) == 0
            await until(lambda: len(desk.unlocks()) == 1, what="the unlock from the CLI")
            assert desk.unlocks()[0].secret == PASSWORD
            assert await asyncio.to_thread(main, ["authenticator", "lock-pc", *state]) == 0
            await until(lambda: desk.agent.actuator.locked, what="the lock from the CLI")
            assert main(["authenticator", "offline-code", *state]) == 0

    run(scenario)
    out = capsys.readouterr().out
    assert "password login sent; 3 offline codes kept" in out and "lock sent to ws-" in out
    assert re.search(r"^[0-9]{8}  \(for ws-[a-z2-7]{32}; 2 left\)$", out, re.M)
    assert app.pending() == []

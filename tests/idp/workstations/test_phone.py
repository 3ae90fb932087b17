"""PC login from the phone in the core (no HTTP): expired QR codes, the per-device switch and
its default, passwordless without a CA, malformed requests, remote lock of one's own
workstations only, offline-code grants agreeing between phone and gateway, and the
registration rate limit."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authenticator.pc import offline_code
from device_gateway.offline import OfflineGrants
from idp.config.workstations import PcLoginSettings, RegistrationLimit
from idp.factors.authenticator.model import Device, DeviceStatus
from idp.factors.authenticator.store import DeviceRepository
from idp.store.ephemeral.memory import MemoryStore
from idp.store.sql import AuditRepository, Database, EmployeeRepository
from idp.workstations import commands, offline, pclogin
from idp.workstations.ca import LocalCa
from idp.workstations.errors import (
    InvalidPcLoginRequest,
    LogonRefused,
    NothingToLock,
    OfflineCodeRefused,
    PcLogonDisabled,
    QrNonceInvalid,
    RegistrationRateLimited,
    SealedCredentialInvalid,
    WorkstationNotApproved,
)
from idp.workstations.events import EventType, UnlockedBy, new_event
from idp.workstations.journal import EventJournal
from idp.workstations.link import LinkService
from idp.workstations.model import (
    WorkstationInfo,
    WorkstationStatus,
    public_key_b64,
    workstation_id_for,
)
from idp.workstations.pc_logon import PcLogonRepository
from idp.workstations.phone import PcLoginRequest, PhonePcLogin
from idp.workstations.registry import WorkstationRepository
from idp.workstations.wire import sign_frame
from tests.conftest import FakeClock
from tests.store.sql.helpers import NOW, employee

INFO = WorkstationInfo("pc-1", "CORP", "Windows 11", "10.0.0.7", "1.0.0")


class World:
    def __init__(self, db: Database, store: MemoryStore, clock: FakeClock, **kw: Any) -> None:
        self.db, self.store, self.clock = db, store, clock
        self.now = NOW
        self.registry = WorkstationRepository(db)
        self.journal = EventJournal(db)
        self.audit = AuditRepository(db)
        self.pc_logon = PcLogonRepository(db, default_enabled=kw.pop("default_enabled", True))
        self.phone = PhonePcLogin(
            registry=self.registry, journal=self.journal, pc_logon=self.pc_logon, store=store,
            audit=self.audit, ca=kw.pop("ca", None), settings=kw.pop("settings", PcLoginSettings()),
            clock=lambda: self.now,
        )  # fmt: skip
        self.employees = EmployeeRepository(db)

    def person(self, n: int) -> tuple[Any, Device]:
        person = employee(n, username=f"user{n}", email=f"user{n}@corp.example")
        self.employees.add(person, now=NOW)
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        device = Device(
            device_id=f"device-{n:012d}", employee_id=person.id, status=DeviceStatus.ACTIVE,
            public_key=key.public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo),
            display_name="phone", platform="android", created_at=NOW,
        )  # fmt: skip
        DeviceRepository(self.db).replace_for_employee(device)
        return person, device

    def workstation(self) -> tuple[ec.EllipticCurvePrivateKey, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        ws_id = workstation_id_for(key.public_key())
        self.registry.register(workstation_id=ws_id, public_key=public_key_b64(key.public_key()),
                               info=INFO, now=NOW)  # fmt: skip
        self.registry.set_status(ws_id, WorkstationStatus.APPROVED, by="root", now=NOW)
        return key, ws_id

    def qr(self, ws_id: str) -> str:
        return pclogin.issue_qr(store=self.store, workstation=self.registry.require(ws_id),
                                now=self.now).payload  # fmt: skip


@pytest.fixture
def world(sqlite_db: Database, memory_store: MemoryStore, clock: FakeClock) -> World:
    return World(sqlite_db, memory_store, clock)


PASSWORD_LOGIN = {"account": "CORP\\user1", "password": "pw-1"}


def test_an_expired_qr_is_refused(world: World) -> None:
    person, device = world.person(1)
    _, ws_id = world.workstation()
    qr = world.qr(ws_id)
    world.clock.advance(pclogin.QR_TTL + 1)
    with pytest.raises(QrNonceInvalid, match="already used or has expired"):
        world.phone.login(device=device, employee=person, request=PcLoginRequest(qr))


def test_pc_logon_follows_the_default_until_an_admin_switches_it(
    sqlite_db: Database, memory_store: MemoryStore, clock: FakeClock
) -> None:
    world = World(sqlite_db, memory_store, clock, default_enabled=False)
    person, device = world.person(1)
    _, ws_id = world.workstation()
    qr = world.qr(ws_id)
    request = PcLoginRequest.from_json({"qr": qr, **PASSWORD_LOGIN})
    with pytest.raises(PcLogonDisabled):
        world.phone.login(device=device, employee=person, request=request)
    assert not world.pc_logon.get(device.device_id).explicit
    world.pc_logon.set(device.device_id, enabled=True, by="root", now=NOW)
    done = world.phone.login(device=device, employee=person, request=request)  # QR unspent
    assert done.method == "password" and done.workstation.id == ws_id
    failures = [e for e in world.audit.list().items if e.outcome.value == "failure"]
    assert failures[0].reason == "pc_logon_disabled"


def test_passwordless_needs_a_logon_ca(world: World) -> None:
    person, device = world.person(1)
    _, ws_id = world.workstation()
    with pytest.raises(LogonRefused, match="needs a logon CA"):
        world.phone.login(device=device, employee=person, request=PcLoginRequest(world.qr(ws_id)))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "field 'qr'"),
        ({"qr": 7}, "field 'qr'"),
        ({"qr": "x" * 513}, "field 'qr'"),
        ({"qr": "q", "account": "CORP\\a"}, "needs both"),
        ({"qr": "q", "password": "p"}, "needs both"),
        ({"qr": "q", "account": "", "password": "p"}, "field 'account'"),
        ({"qr": "q", "account": "a", "password": "p" * 513}, "field 'password'"),
        ({"qr": "q", "account": "a", "password": ["p"]}, "field 'password'"),
        ({"qr": "q", "admin": True}, "unknown fields: admin"),
    ],
)
def test_malformed_requests_are_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPcLoginRequest, match=message):
        PcLoginRequest.from_json(body)


def test_remote_lock_reaches_only_ones_own_workstations(world: World) -> None:
    alice, alice_device = world.person(1)
    bob, bob_device = world.person(2)
    _, ws_id = world.workstation()
    unlock = new_event(EventType.UNLOCK, at=NOW, account="CORP\\user1", employee="user1",
                       unlocked_by=UnlockedBy.PHONE)  # fmt: skip
    world.journal.ingest(ws_id, [unlock], now=NOW)
    with pytest.raises(NothingToLock):
        world.phone.lock(device=bob_device, employee=bob, workstation_id=ws_id)
    with pytest.raises(InvalidPcLoginRequest):
        world.phone.lock(device=alice_device, employee=alice, workstation_id="../etc")
    subscription = world.store.subscribe(commands.CHANNEL)
    assert world.phone.lock(device=alice_device, employee=alice).workstation_ids == (ws_id,)
    message = subscription.get(1)
    assert message is not None
    target, command = commands.routed(message)
    assert (target, command.kind, command.body) == (ws_id, commands.CommandKind.LOCK,
                                                    {"reason": "phone"})  # fmt: skip


def test_offline_grant_codes_agree_and_are_limited(world: World, tmp_path: Path) -> None:
    person, device = world.person(1)
    key, ws_id = world.workstation()
    subscription = world.store.subscribe(commands.CHANNEL)
    request = PcLoginRequest.from_json({"qr": world.qr(ws_id), **PASSWORD_LOGIN})
    done = world.phone.login(device=device, employee=person, request=request)
    assert done.offline is not None and done.offline["count"] == PcLoginSettings().offline_codes
    message = subscription.get(1)
    assert message is not None
    _, command = commands.routed(message)
    assert "pw-1" not in json.dumps(command.body) and command.body["employee"] == "user1"
    secret = base64.urlsafe_b64decode(str(done.offline["secret"]) + "==")
    codes = [offline_code(secret, workstation_id=ws_id, device_id=device.device_id, index=i)
             for i in range(1, 6)]  # fmt: skip
    assert codes[0] == offline.code_at(secret, workstation_id=ws_id,
                                       device_id=device.device_id, index=1)  # fmt: skip
    now = [NOW]
    grants = OfflineGrants(tmp_path / "offline", key=key, workstation_id=ws_id,
                           clock=lambda: now[0])  # fmt: skip
    grants.keep(body=command.body["offline"], employee="user1", account="CORP\\user1",
                sealed_password=command.body["sealed"])  # fmt: skip
    assert grants.redeem(codes[1]).password == "pw-1"
    for _ in range(offline.MAX_FAILURES):
        with pytest.raises(OfflineCodeRefused, match="wrong, used already or expired"):
            grants.redeem("00000000")
    # Five wrong tries: even the right code waits for the window to pass.
    with pytest.raises(OfflineCodeRefused, match="5 wrong offline codes"):
        grants.redeem(codes[2])
    now[0] = NOW + offline.FAILURE_WINDOW + dt.timedelta(seconds=1)
    assert grants.redeem(codes[2]).grant.next_index == 4
    now[0] = NOW + dt.timedelta(hours=PcLoginSettings().offline_hours, seconds=1)
    with pytest.raises(OfflineCodeRefused):
        grants.redeem(codes[3])  # expired


def test_a_grant_for_another_workstation_does_not_open(world: World, tmp_path: Path) -> None:
    person, device = world.person(1)
    _, ws_id = world.workstation()
    other_key, other_id = world.workstation()
    subscription = world.store.subscribe(commands.CHANNEL)
    request = PcLoginRequest.from_json({"qr": world.qr(ws_id), **PASSWORD_LOGIN})
    done = world.phone.login(device=device, employee=person, request=request)
    message = subscription.get(1)
    assert message is not None and done.offline is not None
    _, command = commands.routed(message)
    # Copied onto another workstation, the sealed secret does not open: no code matches.
    grants = OfflineGrants(tmp_path / "o", key=other_key, workstation_id=other_id,
                           clock=lambda: NOW)  # fmt: skip
    grants.keep(body=command.body["offline"], employee="user1", account="CORP\\user1",
                sealed_password=command.body["sealed"])  # fmt: skip
    secret = base64.urlsafe_b64decode(str(done.offline["secret"]) + "==")
    code = offline_code(secret, workstation_id=other_id, device_id=device.device_id, index=1)
    with pytest.raises(SealedCredentialInvalid, match="does not open"):
        grants.redeem(code)


def test_passwordless_login_carries_no_offline_grant(
    sqlite_db: Database, memory_store: MemoryStore, clock: FakeClock
) -> None:
    ca = LocalCa.create("test CA", now=NOW)
    world = World(sqlite_db, memory_store, clock, ca=ca)
    person, device = world.person(1)
    _, ws_id = world.workstation()
    done = world.phone.login(
        device=device, employee=person, request=PcLoginRequest(world.qr(ws_id))
    )
    assert (done.method, done.offline) == ("certificate", None)


# -- the registration rate limit ---------------------------------------------------------------


def _register(link: LinkService, address: str, key: ec.EllipticCurvePrivateKey | None = None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    frame = sign_frame(
        key=key, type="register", workstation_id=workstation_id_for(key.public_key()),
        ts=int(link.clock().timestamp()),
        body={**INFO.to_wire(), "public_key": public_key_b64(key.public_key())},
    )  # fmt: skip
    link.open(frame, address=address)


def test_registrations_are_rate_limited_per_address_and_overall(
    sqlite_db: Database, memory_store: MemoryStore, clock: FakeClock
) -> None:
    now = [NOW]
    link = LinkService(
        registry=WorkstationRepository(sqlite_db), journal=EventJournal(sqlite_db),
        store=memory_store, audit=AuditRepository(sqlite_db), clock=lambda: now[0],
        registration_limit=RegistrationLimit(per_address=2, overall=3, window=60),
    )  # fmt: skip
    known = ec.generate_private_key(ec.SECP256R1())
    for key in (known, None):
        with pytest.raises(WorkstationNotApproved):
            _register(link, "10.0.0.1", key)
    with pytest.raises(RegistrationRateLimited, match=r"more than 2 .* from 10\.0\.0\.1") as caught:
        _register(link, "10.0.0.1")
    assert caught.value.status == 429
    # A known pending workstation asking again adds no row and is not counted.
    with pytest.raises(WorkstationNotApproved):
        _register(link, "10.0.0.1", known)
    with pytest.raises(WorkstationNotApproved):
        _register(link, "10.0.0.2")
    with pytest.raises(RegistrationRateLimited, match=r"more than 3 .* in all"):
        _register(link, "10.0.0.3")
    assert link.registry.list().total == 3
    # The window slides on: two minutes later registrations are accepted again.
    now[0] = NOW + dt.timedelta(minutes=2)
    clock.advance(120)
    with pytest.raises(WorkstationNotApproved):
        _register(link, "10.0.0.1")

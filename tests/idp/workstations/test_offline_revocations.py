"""Every path that ends an app's or an employee's access revokes the app's offline PC-login
codes durably: the revocation is stored (a workstation offline now learns it in its next
welcome) and published at once to the connected ones."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.admin import devices
from idp.admin.access import CLI
from idp.admin.pc_logon import set_pc_logon
from idp.admin.services import build_admin_services
from idp.config.loader import load_config
from idp.directory.model import Employee
from idp.directory.sync.service import sync_context
from idp.factors.authenticator.model import Device, DeviceStatus
from idp.runtime import Runtime, build_runtime
from idp.workstations import commands
from idp.workstations.model import (
    WorkstationInfo,
    WorkstationStatus,
    public_key_b64,
    workstation_id_for,
)
from idp.workstations.offline_revocations import OfflineRevocations
from idp.workstations.pc_logon import PcLogonRepository
from idp.workstations.services import build_workstations

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare(tmp_path_factory.mktemp("revocations") / "demo", port=18080, sp_port=18081)


@pytest.fixture(scope="module")
def runtime(config: Path) -> Iterator[Runtime]:
    rt = build_runtime(load_config(config))
    yield rt
    rt.close()


def _person(rt: Runtime) -> tuple[Employee, Device]:
    username = f"p{secrets.token_hex(4)}"
    employee = Employee(id=secrets.token_hex(8), username=username, first_name="Pat",
                        email=f"{username}@example.com", last_name="Doe")  # fmt: skip
    rt.employees.add(employee, now=rt.now())
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    device = Device(
        device_id=f"device-{secrets.token_hex(8)}", employee_id=employee.id,
        public_key=key.public_bytes(serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo),
        display_name="phone", platform="android", status=DeviceStatus.ACTIVE, created_at=rt.now(),
    )  # fmt: skip
    rt.authenticator.devices.replace_for_employee(device)
    return employee, device


def _revoked(rt: Runtime, device: Device, action: Callable[[], object]) -> str:
    """Run ``action``; the reason it stored for ``device``, having published it too."""
    subscription = rt.ephemeral.subscribe(commands.CHANNEL)
    try:
        action()
        published = []
        while (message := subscription.get(0.2)) is not None:
            published.append(commands.routed(message))
    finally:
        subscription.close()
    assert (commands.ALL, device.device_id) in [
        (target, c.body["device_id"]) for target, c in published
        if c.kind is commands.CommandKind.OFFLINE_REVOKE
    ]  # fmt: skip
    return _stored(rt)[device.device_id]


def _stored(rt: Runtime) -> dict[str, str]:
    return {r.device_id: r.reason for r in OfflineRevocations(rt.db, rt.ephemeral).since(EPOCH)}


def test_the_app_disabled_removed_or_denied_pc_logon(runtime: Runtime) -> None:
    rt = runtime
    revocations = OfflineRevocations(rt.db, rt.ephemeral)
    repos = {"employees": rt.employees, "devices": rt.authenticator.devices, "audit": rt.audit}
    employee, device = _person(rt)

    def disable() -> None:
        off = DeviceStatus.DISABLED
        devices.set_device_status(**repos, revocations=revocations, username=employee.username,
                                  status=off, actor="test", now=rt.now())  # fmt: skip

    def remove() -> None:
        devices.remove_device(**repos, revocations=revocations, username=employee.username,
                              actor="test", now=rt.now())  # fmt: skip

    assert _revoked(rt, device, disable) == "device_disabled"
    assert _revoked(rt, device, remove) == "device_removed"
    employee, device = _person(rt)

    def switch_off() -> None:
        set_pc_logon(**repos, pc_logon=PcLogonRepository(rt.db, default_enabled=True),
                     revocations=revocations, username=employee.username, enabled=False,
                     actor="test", now=rt.now())  # fmt: skip

    assert _revoked(rt, device, switch_off) == "pc_logon_disabled"


def test_the_employee_disabled_deleted_or_withdrawn_by_sync(runtime: Runtime) -> None:
    rt, admin = runtime, build_admin_services(runtime).employees
    for reason, end_access in (
        ("employee_disabled", lambda e: admin.set_enabled(CLI, e.id, False)),
        ("employee_deleted", lambda e: admin.delete(CLI, e.id)),
        ("left_sync_group", lambda e: sync_context(rt).end_access(e.id, "left_sync_group")),
    ):
        employee, device = _person(rt)
        assert _revoked(rt, device, lambda: end_access(employee)) == reason  # noqa: B023


def test_employee_update_disable_at_the_cli(config: Path, runtime: Runtime) -> None:
    employee, device = _person(runtime)
    assert (
        main(["employee", "update", employee.username, "--disable", "--config", str(config)]) == 0
    )
    stored = {
        r.device_id: r for r in OfflineRevocations(runtime.db, runtime.ephemeral).since(EPOCH)
    }
    assert stored[device.device_id].reason == "employee_disabled"


def test_a_workstation_that_was_away_is_told_in_its_welcome(runtime: Runtime) -> None:
    rt = runtime
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    parts = build_workstations(rt)
    ws_id = workstation_id_for(key)
    info = WorkstationInfo("pc-away", "CORP", "Windows 11", "10.0.0.8", "1.0")
    parts.registry.register(workstation_id=ws_id, public_key=public_key_b64(key), info=info,
                            now=rt.now())  # fmt: skip
    parts.registry.set_status(ws_id, WorkstationStatus.APPROVED, by="root", now=rt.now())
    _, device = _person(rt)
    revocations = OfflineRevocations(rt.db, rt.ephemeral)
    made = revocations.revoke(device_id=device.device_id, reason="device_removed", now=rt.now())
    hours = rt.config.workstations.pc_login.offline_hours
    old = revocations.revoke(
        device_id="device-" + "0" * 16,
        reason="device_removed",
        now=rt.now() - dt.timedelta(hours=hours, minutes=1),
    )
    frames = parts.link.welcome(parts.registry.require(ws_id))
    told = [c.body for c in map(_command, frames) if c is not None
            and c.kind is commands.CommandKind.OFFLINE_REVOKE]  # fmt: skip
    assert made.command().body in told  # with its time: the gateway drops older grants only
    assert old.command().body not in told  # older than any grant it could concern


def _command(frame: str) -> commands.Command | None:
    value = json.loads(frame)
    return commands.Command.from_wire(value) if value.get("type") == "command" else None

"""What the key tests of the admin service share: a runtime over its own SQLite database
(one per module), the admin services, the VaultService the key driver calls, and a clock."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from flask_idp.demo import prepare
from idp.admin.access import CLI, Actor, Role
from idp.admin.employee_models import EmployeeCreate
from idp.admin.keys_models import KeyImportIn, KeyImportItem
from idp.admin.services import AdminServices, build_admin_services
from idp.config.loader import load_config
from idp.runtime import Runtime, build_runtime
from idp.vault.service import VaultService, build_vault_service

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


class Clock:
    now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class World:
    svc: AdminServices
    runtime: Runtime
    driver: VaultService
    clock: Clock

    def employee(self) -> str:
        name = f"emp-{secrets.token_hex(3)}"
        made = self.svc.employees.create(CLI, EmployeeCreate(username=name, email=f"{name}@e.com"))
        return made.id

    def keys(self, n: int = 1) -> list[str]:
        items = []
        for _ in range(n):
            tail = secrets.token_hex(5).upper()
            mac = ":".join(tail[i : i + 2] for i in range(0, 10, 2))
            items.append(
                KeyImportItem(serial=f"ST{tail}", mac=f"AA:{mac}", model="Key 4", firmware="4.0")
            )
        made = self.svc.keys.import_keys(ADMIN, KeyImportIn(keys=items))
        return [k.serial for k in made.items]

    def fresh(self) -> Actor:
        return Actor(name="admin:root", role=Role.ADMIN, auth_time=self.clock(), auth_method="hwk")


ADMIN = Actor(name="admin:root", role=Role.ADMIN)
HELPDESK = Actor(name="admin:help", role=Role.HELPDESK)
AUDITOR = Actor(name="admin:audit", role=Role.AUDITOR)


def make_world(config: Path, directory: Path, clock: Clock) -> World:
    lines = config.read_text().splitlines()
    own = [
        f"database_url: sqlite:///{directory}/idp.sqlite3" if line.startswith("database_url:")
        else line
        for line in lines
    ]  # fmt: skip
    path = config.with_name(f"idp-{directory.name}.yaml")
    path.write_text("\n".join(own) + "\n")
    runtime = build_runtime(load_config(path), clock=clock)
    return World(build_admin_services(runtime), runtime, build_vault_service(runtime), clock)


@pytest.fixture(scope="module")
def keys_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return prepare(tmp_path_factory.mktemp("keys"), port=18097, sp_port=18098)


@pytest.fixture(scope="module")
def keys_world(keys_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One database for the module: each test makes its own keys and employees."""
    made = make_world(keys_config, tmp_path_factory.mktemp("keys_db"), Clock())
    yield made
    made.runtime.audit.flush()
    made.runtime.db.engine.dispose()


@pytest.fixture
def world(keys_world: World) -> Iterator[World]:
    yield keys_world
    keys_world.clock.now = NOW

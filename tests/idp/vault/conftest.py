"""A VaultService over the parametrised database (SQLite and PostgreSQL), an unlocked
secrets envelope, a settable clock, and employees to hand keys to."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from idp.admin.access import Actor, Role
from idp.directory.model import Employee
from idp.secrets import SecretBox, new_data_key
from idp.store.sql import AuditRepository, Database, EmployeeRepository
from idp.vault.base import PasswordCheck
from idp.vault.model import KeyImport
from idp.vault.service import VaultService

START = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
ADMIN = Actor(name="admin:root", role=Role.ADMIN)
KEYS = (
    KeyImport("ST10101", "AA:BB:CC:00:00:01", "Hideez Key 4", "4.0.1"),
    KeyImport("ST10102", "AA:BB:CC:00:00:02", "Hideez Key 4", "4.0.1"),
    KeyImport("ST10103", "AA:BB:CC:00:00:03", "Hideez Key 3", "3.5.0"),
)


@dataclass
class Clock:
    now: dt.datetime = START

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@dataclass
class Vaults:
    service: VaultService
    secrets: SecretBox
    audit: AuditRepository
    employees: EmployeeRepository
    clock: Clock

    def employee(self, username: str) -> str:
        employee = Employee(
            id=os.urandom(8).hex(),
            username=username,
            email=f"{username}@corp.example",
            first_name=username.title(),
            last_name="Tester",
        )
        return self.employees.add(employee, now=self.clock()).id


def _clean_vault_tables(db: Database) -> None:
    """PostgreSQL is shared by the session: drop what the previous test left (SQLite is a copy)."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE vault_tasks, vault_accounts, hardware_vaults CASCADE"))
        conn.execute(text("TRUNCATE vault_shared_accounts, vault_templates CASCADE"))
        conn.execute(text("DELETE FROM vault_profiles WHERE id <> 'default'"))


def make_vaults(db: Database, password_check: PasswordCheck | None = None) -> Vaults:
    _clean_vault_tables(db)
    box = SecretBox()
    key = os.urandom(32)
    box.unlock(new_data_key(master_key=key), master_key=key)
    audit, employees, clock = AuditRepository(db), EmployeeRepository(db), Clock()
    service = VaultService(
        db=db,
        secrets=box,
        audit=audit,
        employees=employees,
        clock=clock,
        password_check=password_check,
    )
    return Vaults(service, box, audit, employees, clock)


def second_service(vaults: Vaults, db: Database) -> VaultService:
    """Another service over the same database and secrets (as another process would be)."""
    return VaultService(
        db=db,
        secrets=vaults.secrets,
        audit=AuditRepository(db),
        employees=EmployeeRepository(db),
        clock=vaults.clock,
    )


@pytest.fixture
def vaults(db: Database) -> Iterator[Vaults]:
    made = make_vaults(db)
    yield made
    made.audit.flush()  # what was queued (connections, delivered tasks) before the db goes


@pytest.fixture
def sqlite_vaults(sqlite_db: Database) -> Iterator[Vaults]:
    """For what does not depend on the engine (a refusal before any query)."""
    made = make_vaults(sqlite_db)
    yield made
    made.audit.flush()

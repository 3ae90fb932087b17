"""Admin accounts and API keys through the service (SQLite + the in-process store)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from flask_idp.demo import prepare
from idp.admin.access import CLI, Permission, PermissionDenied, Role
from idp.admin.accounts import (
    AdminCreate,
    AdminUpdate,
    ApiKeyCreate,
    InvalidApiKey,
    LastAdmin,
)
from idp.admin.employee_models import EmployeeCreate
from idp.admin.models import InvalidInput
from idp.admin.services import AdminServices, build_admin_services
from idp.config.loader import load_config
from idp.runtime import build_runtime
from idp.store.sql.repositories.admins import DuplicateAdmin

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


class Clock:
    now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys and files made once; each test gets its own database."""
    return prepare(tmp_path_factory.mktemp("accounts"), port=18095, sp_port=18096)


@pytest.fixture
def svc(demo_config: Path, tmp_path: Path, clock: Clock) -> Iterator[AdminServices]:
    lines = demo_config.read_text().splitlines()
    own = [
        f"database_url: sqlite:///{tmp_path}/idp.sqlite3"
        if line.startswith("database_url:")
        else line
        for line in lines
    ]
    config = demo_config.with_name(f"idp-{tmp_path.name}.yaml")
    config.write_text("\n".join(own) + "\n")
    runtime = build_runtime(load_config(config), clock=clock)
    services = build_admin_services(runtime)
    for name in ("ann", "ben"):
        services.employees.create(CLI, EmployeeCreate(username=name, email=f"{name}@example.com"))
    yield services
    runtime.db.engine.dispose()


def test_the_last_admin_keeps_the_role(svc: AdminServices) -> None:
    ann = svc.accounts.create_admin(CLI, AdminCreate(username="ann", role=Role.ADMIN))
    with pytest.raises(LastAdmin):
        svc.accounts.set_role(CLI, ann.id, AdminUpdate(role=Role.HELPDESK))
    with pytest.raises(LastAdmin):
        svc.accounts.remove_admin(CLI, ann.id)
    ben = svc.accounts.create_admin(CLI, AdminCreate(username="ben", role=Role.ADMIN))
    svc.accounts.set_role(CLI, ann.id, AdminUpdate(role=Role.AUDITOR))
    with pytest.raises(LastAdmin):
        svc.accounts.remove_admin(CLI, ben.id)
    with pytest.raises(DuplicateAdmin):
        svc.accounts.create_admin(CLI, AdminCreate(username="ann", role=Role.ADMIN))
    with pytest.raises(InvalidInput) as unknown:
        svc.accounts.create_admin(CLI, AdminCreate(username="nobody", role=Role.ADMIN))
    assert unknown.value.errors[0].field == "username"


def test_a_key_acts_within_its_owner_role_until_it_expires(
    svc: AdminServices, clock: Clock
) -> None:
    helpdesk = svc.accounts.create_admin(CLI, AdminCreate(username="ben", role=Role.HELPDESK))
    with pytest.raises(InvalidInput, match="secrets"):
        svc.accounts.create_key(
            CLI, ApiKeyCreate(name="x", scopes=[Permission.SECRETS], admin_id=helpdesk.id)
        )
    made = svc.accounts.create_key(
        CLI,
        ApiKeyCreate(
            name="sync", scopes=[Permission.EMPLOYEES_READ], admin_id=helpdesk.id, expires_in_days=1
        ),
    )
    actor = svc.accounts.authenticate_key(made.secret)
    assert (actor.name, actor.role, actor.permissions()) == (
        "admin:ben",
        Role.HELPDESK,
        {Permission.EMPLOYEES_READ},
    )
    with pytest.raises(PermissionDenied):
        svc.employees.create(actor, EmployeeCreate(username="eve", email="eve@example.com"))
    clock.now = NOW + dt.timedelta(days=1)
    with pytest.raises(InvalidApiKey, match="expired"):
        svc.accounts.authenticate_key(made.secret)


def test_a_disabled_admin_employee_key_stops_working(svc: AdminServices) -> None:
    ann = svc.accounts.create_admin(CLI, AdminCreate(username="ann", role=Role.ADMIN))
    made = svc.accounts.create_key(
        CLI, ApiKeyCreate(name="k", scopes=[Permission.AUDIT_READ], admin_id=ann.id)
    )
    svc.accounts.authenticate_key(made.secret)
    svc.employees.set_enabled(CLI, ann.employee_id, False)
    with pytest.raises(InvalidApiKey, match="disabled employee"):
        svc.accounts.authenticate_key(made.secret)


def test_malformed_or_unknown_keys(svc: AdminServices) -> None:
    forged = "hik_" + "0" * 16 + "_" + "A" * 43
    for presented in ("", "hik_", "hik_zz_yy", "Bearer x", forged, "x" * 10_000):
        with pytest.raises(InvalidApiKey, match="the API key is not valid"):
            svc.accounts.authenticate_key(presented)

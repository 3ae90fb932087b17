"""Hideez Keys and access profiles through the admin service (SQLite + the in-process store):
the lifecycle with the code shown once, paging and filters, re-authentication for
compromise, the roles, If-Match, and secrets locked. The key's own side (code checks, link)
is driven through the same VaultService the key driver calls."""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from idp.admin.access import CLI, Actor, PermissionDenied, ReauthenticationRequired, Role
from idp.admin.audit_views import AuditQuery
from idp.admin.employee_models import EmployeeCreate
from idp.admin.keys_models import (
    AssignIn,
    DeactivateIn,
    KeyProfileSet,
    KeyQuery,
    ProfileCreate,
    ProfileUpdate,
    RequirementModel,
)
from idp.admin.models import InvalidInput, PreconditionFailed, PreconditionRequired, etag_of
from idp.audit import AuditKind
from idp.vault.errors import ProfileInUse, VaultSecretsLocked
from idp.vault.model import TaskKind
from idp.vault.states import IllegalTransition, VaultStatus
from tests.idp.admin.conftest import ADMIN, AUDITOR, HELPDESK, NOW, Clock, World, make_world


def test_a_key_through_its_life(world: World) -> None:
    (serial,) = world.keys()
    ann = world.employee()
    done = world.svc.keys.assign(HELPDESK, serial, AssignIn(employee_id=ann))
    assert len(done.activation_code) == 6 and done.activation_code.isdigit()
    assert done.key.status is VaultStatus.RESERVED and done.key.employee_id == ann
    assert done.key.employee_username and done.key.employee_username.startswith("emp-")
    assert done.redacted().activation_code == "" and done.redacted().key == done.key
    detail = world.svc.keys.get(AUDITOR, serial)
    assert [t.kind for t in detail.tasks] == [TaskKind.PROFILE]
    assert world.svc.keys.of_employee(AUDITOR, ann) == detail.key

    world.driver.check_activation_code(serial=serial, code=done.activation_code)
    world.driver.linked(serial=serial)
    again = world.svc.keys.suspend(HELPDESK, serial)
    assert again.key.status is VaultStatus.SUSPENDED and len(again.activation_code) == 6
    with pytest.raises(IllegalTransition, match="'cancel' is not allowed for a key that is"):
        world.svc.keys.cancel(ADMIN, serial)

    with pytest.raises(ReauthenticationRequired, match="proved who they are moments ago"):
        world.svc.keys.compromise(ADMIN, serial)
    stale = Actor(name="admin:root", role=Role.ADMIN, auth_time=NOW - dt.timedelta(minutes=6))
    with pytest.raises(ReauthenticationRequired, match="last was 6 minutes ago"):
        world.svc.keys.compromise(stale, serial)
    assert world.svc.keys.get(ADMIN, serial).key.status is VaultStatus.SUSPENDED
    world.runtime.audit.flush()
    refused = world.svc.audit.page(ADMIN, AuditQuery(kind=AuditKind.VAULT_STATUS_CHANGED))
    assert any(e.outcome == "failure" and e.details.get("serial") == serial for e in refused.items)

    gone = world.svc.keys.compromise(world.fresh(), serial)
    assert gone.status is VaultStatus.COMPROMISED and gone.employee_id is None
    assert not gone.has_master_key and gone.pending_tasks == 0


def test_deactivate_needs_a_reason_of_the_table(world: World) -> None:
    (serial,) = world.keys()
    world.svc.keys.assign(ADMIN, serial, AssignIn(employee_id=world.employee()))
    done = world.svc.keys.deactivate(ADMIN, serial, DeactivateIn(reason="lost"))
    assert done.status is VaultStatus.DEACTIVATED and done.reason == "lost"
    assert done.employee_id is None


def test_paging_filters_and_sort(world: World) -> None:
    serials = sorted(world.keys(5))
    seen: list[str] = []
    query = KeyQuery(status=VaultStatus.READY, limit=2)
    while True:
        page = world.svc.keys.page(AUDITOR, query)
        seen += [k.serial for k in page.items]
        if page.next_cursor is None:
            break
        query = KeyQuery(status=VaultStatus.READY, limit=2, cursor=page.next_cursor)
    assert [s for s in seen if s in serials] == serials
    assert seen == sorted(seen)
    backwards = world.svc.keys.page(AUDITOR, KeyQuery(sort="-serial", limit=200))
    assert [k.serial for k in backwards.items] == sorted(
        (k.serial for k in backwards.items), reverse=True
    )
    first = world.svc.keys.page(AUDITOR, KeyQuery(limit=1))
    assert first.next_cursor is not None
    with pytest.raises(InvalidInput) as other:
        world.svc.keys.page(AUDITOR, KeyQuery(limit=1, sort="-serial", cursor=first.next_cursor))
    assert other.value.errors[0].field == "cursor"
    holder = world.employee()
    world.svc.keys.assign(ADMIN, serials[0], AssignIn(employee_id=holder))
    held = world.svc.keys.page(AUDITOR, KeyQuery(employee_id=holder))
    assert [k.serial for k in held.items] == [serials[0]]


def test_free_text_search_by_serial_or_holder(world: World) -> None:
    tag = secrets.token_hex(3)
    made = world.svc.employees.create(CLI, EmployeeCreate(
        username=f"q-{tag}", email=f"q-{tag}@e.com", first_name="Quentin", last_name=f"Q{tag}",
    ))  # fmt: skip
    serials = sorted(world.keys(3))
    world.svc.keys.assign(ADMIN, serials[1], AssignIn(employee_id=made.id))

    def found(q: str, **more: object) -> list[str]:
        page = world.svc.keys.page(AUDITOR, KeyQuery.model_validate({"q": q, **more}))
        return [k.serial for k in page.items]

    assert found(f"Q-{tag}") == [serials[1]]  # the username, any case
    assert found(f"quentin q{tag}") == [serials[1]]  # the full name
    assert found(serials[2][-6:].lower()) == [serials[2]]  # part of the serial
    held = world.svc.keys.page(AUDITOR, KeyQuery(q=f"q{tag}")).items[0]
    assert held.employee_username == f"q-{tag}"
    first = world.svc.keys.page(AUDITOR, KeyQuery(q=serials[0][:2], limit=1))
    assert first.next_cursor is not None
    with pytest.raises(InvalidInput) as other:  # a cursor is tied to its search
        world.svc.keys.page(AUDITOR, KeyQuery(q="x", limit=1, cursor=first.next_cursor))
    assert other.value.errors[0].field == "cursor"
    with pytest.raises(ValidationError):
        KeyQuery(q="x" * 129)


def test_roles(world: World) -> None:
    (serial,) = world.keys()
    with pytest.raises(PermissionDenied, match="the auditor role may not"):
        world.svc.keys.assign(AUDITOR, serial, AssignIn(employee_id=world.employee()))
    with pytest.raises(PermissionDenied):
        world.svc.keys.create_profile(AUDITOR, ProfileCreate(name="Nope"))
    assert world.svc.keys.get(AUDITOR, serial).key.status is VaultStatus.READY


def test_profiles_crud_if_match_and_the_default(world: World) -> None:
    name = f"Strict {secrets.token_hex(2)}"
    made = world.svc.keys.create_profile(
        HELPDESK,
        ProfileCreate(name=name, connection=RequirementModel(button=True, pin=True), pin_length=6),
    )
    assert made.pin_length == 6 and made.connection.pin and made.pairing.master_key
    assert not made.default and made.pin_expiry_seconds == 86400
    change = ProfileUpdate(pin_attempts=5)
    with pytest.raises(PreconditionRequired):
        world.svc.keys.update_profile(ADMIN, made.id, change, if_match=None)
    with pytest.raises(PreconditionFailed, match="someone changed it"):
        world.svc.keys.update_profile(ADMIN, made.id, change, if_match='"stale"')
    changed = world.svc.keys.update_profile(ADMIN, made.id, change, if_match=etag_of(made))
    assert changed.pin_attempts == 5 and changed.pin_length == 6 and changed.name == name

    (serial,) = world.keys()
    world.svc.keys.assign(ADMIN, serial, AssignIn(employee_id=world.employee()))
    key = world.svc.keys.get(ADMIN, serial)
    with_profile = world.svc.keys.set_profile(
        ADMIN, serial, KeyProfileSet(profile_id=made.id), if_match=etag_of(key)
    )
    assert with_profile.key.profile_id == made.id
    with pytest.raises(InvalidInput) as unknown:
        world.svc.keys.set_profile(
            ADMIN, serial, KeyProfileSet(profile_id="nope"), if_match=etag_of(with_profile)
        )
    assert unknown.value.errors[0].field == "profile_id"
    with pytest.raises(ProfileInUse, match="is used by 1 key"):
        world.svc.keys.delete_profile(ADMIN, made.id, if_match=None)
    with pytest.raises(ProfileInUse, match="default access profile cannot be deleted"):
        world.svc.keys.delete_profile(ADMIN, "default", if_match=None)
    assert any(p.default for p in world.svc.keys.profiles(AUDITOR).items)


def test_keys_needing_attention(world: World) -> None:
    locked, waiting, fine = world.keys(3)
    code = world.svc.keys.assign(ADMIN, locked, AssignIn(employee_id=world.employee())).key
    assert code.status is VaultStatus.RESERVED
    for _ in range(3):
        with pytest.raises(Exception, match="wrong activation code"):
            world.driver.check_activation_code(serial=locked, code="x")
    world.svc.keys.assign(ADMIN, waiting, AssignIn(employee_id=world.employee()))
    world.svc.keys.assign(ADMIN, fine, AssignIn(employee_id=world.employee()))
    serials = {k.serial for k in world.svc.keys.attention(AUDITOR)}
    assert locked in serials and waiting not in serials and fine not in serials
    world.clock.now = NOW + dt.timedelta(hours=25)
    serials = {k.serial for k in world.svc.keys.attention(AUDITOR)}
    assert {locked, waiting, fine} <= serials


def test_secrets_locked_is_refused_before_anything(keys_config: Path, tmp_path: Path) -> None:
    locked = make_world(keys_config, tmp_path, Clock())
    try:
        locked.runtime.secrets.lock()
        with pytest.raises(VaultSecretsLocked, match="unlock the server's secrets first") as e:
            locked.svc.keys.page(AUDITOR, KeyQuery())
        assert e.value.status == 503
        with pytest.raises(VaultSecretsLocked):
            locked.svc.key_accounts.templates(AUDITOR)
    finally:
        locked.runtime.audit.flush()
        locked.runtime.db.engine.dispose()

"""Accounts on the keys through the admin service: personal accounts (secrets write-only and
reserved to the ``secrets`` permission), shared accounts whose edits fan out to every holder's
key, and templates."""

from __future__ import annotations

import secrets

import pytest

from idp.admin.access import PermissionDenied
from idp.admin.keys_models import (
    AssignIn,
    KeyAccountCreate,
    KeyAccountUpdate,
    OtpIn,
    PasswordIn,
    SharedAccountCreate,
    SharedAccountUpdate,
    ShareIn,
    TemplateCreate,
    TemplateUpdate,
)
from idp.admin.models import InvalidInput, PreconditionFailed, PreconditionRequired, etag_of
from idp.vault.errors import AccountNotFound, InvalidVaultInput, NameTaken, TemplateNotFound
from idp.vault.model import LoginType, TaskKind
from tests.idp.admin.conftest import ADMIN, AUDITOR, HELPDESK, World

PASSWORD = "correct horse battery staple"
OTP = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def test_personal_accounts_and_their_secrets(world: World) -> None:
    ann = world.employee()
    body = KeyAccountCreate(name="GitHub", login="ann", urls=["github.com"], password=PASSWORD)
    with pytest.raises(PermissionDenied, match="needs 'secrets'"):
        world.svc.key_accounts.create(HELPDESK, ann, body)
    with pytest.raises(PermissionDenied):
        world.svc.key_accounts.create(HELPDESK, ann, KeyAccountCreate(login="x", otp_secret=OTP))
    assert world.svc.key_accounts.accounts(AUDITOR, ann).items == []

    made = world.svc.key_accounts.create(ADMIN, ann, body.model_copy(update={"otp_secret": OTP}))
    assert made.has_password and made.has_otp and made.urls == ["https://github.com"]
    shown = made.model_dump_json() + world.svc.key_accounts.accounts(AUDITOR, ann).model_dump_json()
    assert PASSWORD not in shown and OTP not in shown

    pc = world.svc.key_accounts.create(
        HELPDESK,
        ann,
        KeyAccountCreate(
            name="PC", login="CORP\\ann", login_type=LoginType.DOMAIN, skip_password=True
        ),
    )
    assert pc.skip_password and not pc.has_password and pc.login == "CORP\\ann"
    assert world.svc.key_accounts.set_primary(HELPDESK, pc.id).primary

    renamed = KeyAccountUpdate(name="GitHub (work)")
    with pytest.raises(PreconditionFailed):
        world.svc.key_accounts.update(HELPDESK, made.id, renamed, if_match='"old"')
    changed = world.svc.key_accounts.update(HELPDESK, made.id, renamed, if_match=etag_of(made))
    assert changed.name == "GitHub (work)" and changed.has_otp
    with pytest.raises(PermissionDenied):
        world.svc.key_accounts.update(
            HELPDESK, made.id, KeyAccountUpdate(otp_secret=OTP), if_match=etag_of(changed)
        )
    for call in (
        lambda: world.svc.key_accounts.change_password(HELPDESK, made.id, PasswordIn(password="x")),
        lambda: world.svc.key_accounts.remove_otp(HELPDESK, made.id),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert not world.svc.key_accounts.remove_otp(ADMIN, made.id).has_otp
    assert world.svc.key_accounts.set_otp(ADMIN, made.id, OtpIn(otp_secret=OTP)).has_otp
    world.svc.key_accounts.change_password(ADMIN, made.id, PasswordIn(password="n3w-secret"))
    with pytest.raises(InvalidVaultInput, match="webapp is not an OS login"):
        world.svc.key_accounts.set_primary(ADMIN, made.id)

    world.svc.key_accounts.delete(HELPDESK, made.id, if_match=None)
    with pytest.raises(AccountNotFound):
        world.svc.key_accounts.get(AUDITOR, made.id)
    assert [a.id for a in world.svc.key_accounts.accounts(AUDITOR, ann).items] == [pc.id]


def test_shared_account_edits_fan_out_to_every_holder(world: World) -> None:
    holders = [world.employee() for _ in range(2)]
    serials = world.keys(2)
    for serial, employee in zip(serials, holders, strict=True):
        world.svc.keys.assign(ADMIN, serial, AssignIn(employee_id=employee))
    with pytest.raises(PermissionDenied):
        world.svc.key_accounts.shared_create(
            HELPDESK, SharedAccountCreate(name="Wi-Fi", login="guest", password=PASSWORD)
        )
    shared = world.svc.key_accounts.shared_create(
        ADMIN, SharedAccountCreate(name="Wi-Fi", login="guest", password=PASSWORD)
    )
    for employee in holders:
        copy = world.svc.key_accounts.share(HELPDESK, shared.id, ShareIn(employee_id=employee))
        assert copy.shared_id == shared.id and copy.has_password
    current = world.svc.key_accounts.shared_get(AUDITOR, shared.id)
    assert sorted(h.employee_id for h in current.holders) == sorted(holders)

    with pytest.raises(PermissionDenied):
        world.svc.key_accounts.shared_update(
            HELPDESK, shared.id, SharedAccountUpdate(password="x"), if_match=etag_of(current)
        )
    edited = world.svc.key_accounts.shared_update(
        HELPDESK, shared.id, SharedAccountUpdate(name="Guest Wi-Fi"), if_match=etag_of(current)
    )
    assert sorted(edited.queued_for) == sorted(serials)
    assert edited.account.name == "Guest Wi-Fi"
    for serial in serials:
        detail = world.svc.keys.get(AUDITOR, serial)
        assert [a.name for a in detail.accounts] == ["Guest Wi-Fi"]
        assert TaskKind.CREATE in {t.kind for t in detail.tasks}

    world.svc.key_accounts.shared_delete(ADMIN, shared.id, if_match=etag_of(edited.account))
    for serial in serials:
        assert world.svc.keys.get(AUDITOR, serial).accounts == []
    with pytest.raises(AccountNotFound):
        world.svc.key_accounts.shared_get(AUDITOR, shared.id)


def test_templates(world: World) -> None:
    name = f"GitLab {secrets.token_hex(2)}"
    made = world.svc.key_accounts.create_template(
        HELPDESK, TemplateCreate(name=name, urls=["gitlab.com"], apps=["GitLab"])
    )
    assert world.svc.key_accounts.template(AUDITOR, made.id) == made
    ann = world.employee()
    account = world.svc.key_accounts.create(
        HELPDESK, ann, KeyAccountCreate(login="ann", skip_password=True, template_id=made.id)
    )
    assert account.name == name and account.urls == ["https://gitlab.com"]
    with pytest.raises(InvalidInput) as unknown:
        world.svc.key_accounts.create(
            HELPDESK, ann, KeyAccountCreate(login="a", skip_password=True, template_id="nope")
        )
    assert unknown.value.errors[0].field == "template_id"
    with pytest.raises(InvalidVaultInput, match="at least one URL or app"):
        world.svc.key_accounts.create_template(ADMIN, TemplateCreate(name="Empty"))
    with pytest.raises(PermissionDenied):
        world.svc.key_accounts.delete_template(AUDITOR, made.id)
    world.svc.key_accounts.delete_template(ADMIN, made.id)
    with pytest.raises(TemplateNotFound):
        world.svc.key_accounts.template(AUDITOR, made.id)


def test_editing_a_template_needs_its_etag_and_keys_write(world: World) -> None:
    tag = secrets.token_hex(2)
    made = world.svc.key_accounts.create_template(
        HELPDESK, TemplateCreate(name=f"Jira {tag}", urls=["jira.example"])
    )
    other = world.svc.key_accounts.create_template(
        HELPDESK, TemplateCreate(name=f"Wiki {tag}", apps=["Wiki"])
    )
    body = TemplateUpdate(name=f"Jira Cloud {tag}", urls=["jira.atlassian.net"], apps=["Jira"])
    with pytest.raises(PermissionDenied):
        world.svc.key_accounts.update_template(AUDITOR, made.id, body, if_match=etag_of(made))
    with pytest.raises(PreconditionRequired):
        world.svc.key_accounts.update_template(HELPDESK, made.id, body, if_match=None)
    changed = world.svc.key_accounts.update_template(
        HELPDESK, made.id, body, if_match=etag_of(made)
    )
    assert (changed.id, changed.name, changed.urls, changed.apps) == (
        made.id, f"Jira Cloud {tag}", ["https://jira.atlassian.net"], ["Jira"],
    )  # fmt: skip
    assert world.svc.key_accounts.template(AUDITOR, made.id) == changed
    with pytest.raises(PreconditionFailed):  # the version read before the change
        world.svc.key_accounts.update_template(
            HELPDESK, made.id, TemplateUpdate(apps=[]), if_match=etag_of(made)
        )
    with pytest.raises(NameTaken):
        world.svc.key_accounts.update_template(
            HELPDESK, made.id, TemplateUpdate(name=other.name.upper()), if_match=etag_of(changed)
        )
    with pytest.raises(TemplateNotFound):
        world.svc.key_accounts.update_template(HELPDESK, "nope", body, if_match="*")
    assert world.svc.key_accounts.template(AUDITOR, made.id) == changed

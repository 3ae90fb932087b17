"""A password typed at the workstation for an AzureAD account, checked by the employee's own
sign-in (ROPC through MSAL) against the loopback Entra ID stand-in before the vault stores it."""

from __future__ import annotations

import dataclasses

import pytest

from idp.directory.password_check import (
    DirectoryPasswordCheck,
    LoginNotTheEmployee,
    PasswordCheckUnavailable,
    TooManyPasswordChecks,
)
from idp.vault.base import PasswordCheck
from idp.vault.errors import PasswordRefusedByDirectory
from idp.vault.model import LoginType
from idp.vault.service import build_vault_service
from tests.entra_standin import CLIENT_SECRET
from tests.idp.directory import desks
from tests.idp.directory.conftest import Cloud
from tests.idp.directory.desks import Desk

PASSWORD = "Cl0ud-Horse-2026"
WRONG = "Wr0ng-Horse-2026"


def checker(cloud: Cloud, **limits: int) -> DirectoryPasswordCheck:
    return desks.checker(cloud.runtime, cloud.source, lambda _: CLIENT_SECRET, **limits)


def desk(
    cloud: Cloud, check: PasswordCheck, short: str, *, login: str = "", **user: object
) -> Desk:
    upn = cloud.user(short, password=PASSWORD, **user).userPrincipalName
    cloud.sync()
    employee = cloud.employee(short).id
    return desks.desk(cloud.runtime, check, employee, login or upn, LoginType.AZURE_AD)


def test_the_right_password_is_stored_and_queued(cloud: Cloud) -> None:
    alice = desk(cloud, checker(cloud), "alice")
    alice.type(PASSWORD)
    assert alice.stored() == PASSWORD
    assert cloud.tenant.password_sign_ins[-1] == f"{cloud.prefix}alice@contoso.example"


def test_a_wrong_password_is_refused_with_entras_reason(cloud: Cloud) -> None:
    alice = desk(cloud, checker(cloud), "alice")
    with pytest.raises(PasswordRefusedByDirectory, match="AADSTS50126"):
        alice.type(WRONG)
    assert alice.stored() is None


def test_mfa_asked_after_the_password_means_the_password_is_right(cloud: Cloud) -> None:
    alice = desk(cloud, checker(cloud), "alice", mfa=True)
    alice.type(PASSWORD)
    assert alice.stored() == PASSWORD


def test_a_disabled_account_is_refused(cloud: Cloud) -> None:
    alice = desk(cloud, checker(cloud), "alice")
    cloud.tenant.change_user(cloud.employee("alice").entra_object_id or "", accountEnabled=False)
    with pytest.raises(PasswordRefusedByDirectory, match="AADSTS50057"):
        alice.type(PASSWORD)
    assert alice.stored() is None


def test_another_users_login_is_refused_without_a_sign_in(cloud: Cloud) -> None:
    bob = cloud.user("bob", password=PASSWORD).userPrincipalName
    alice = desk(cloud, checker(cloud), "alice", login=f"AzureAD\\{bob}")
    asked = len(cloud.tenant.password_sign_ins)
    with pytest.raises(PasswordRefusedByDirectory, match="not the employee's own") as refused:
        alice.type(PASSWORD)
    assert isinstance(refused.value.__cause__, LoginNotTheEmployee)
    assert len(cloud.tenant.password_sign_ins) == asked


def test_checks_stop_long_before_smart_lockout(cloud: Cloud) -> None:
    alice = desk(cloud, checker(cloud, max_failures=3), "alice")
    for _ in range(3):
        with pytest.raises(PasswordRefusedByDirectory):
            alice.type(WRONG)
    with pytest.raises(TooManyPasswordChecks) as limited:
        alice.type(PASSWORD)
    assert limited.value.status == 429 and limited.value.headers() == {"Retry-After": "1800"}
    user = cloud.tenant.users[cloud.employee("alice").entra_object_id or ""]
    assert user.failed_sign_ins == 3 < cloud.tenant.lockout_threshold
    assert alice.stored() is None


def test_an_unreachable_tenant_is_a_503(cloud: Cloud) -> None:
    alice = desk(cloud, checker(cloud), "alice")
    down = dataclasses.replace(cloud.source, authority="https://localhost:1", timeout_seconds=2)
    check = desks.checker(cloud.runtime, down, lambda _: CLIENT_SECRET)
    alice.service = build_vault_service(cloud.runtime, password_check=check)
    with pytest.raises(PasswordCheckUnavailable) as unavailable:
        alice.type(PASSWORD)
    assert unavailable.value.headers() == {"Retry-After": "30"}
    assert alice.stored() is None


def test_a_domain_login_of_an_entra_employee_cannot_be_checked(cloud: Cloud) -> None:
    cloud.user("dora", password=PASSWORD)
    cloud.sync()
    employee = cloud.employee("dora").id
    dora = desks.desk(cloud.runtime, checker(cloud), employee, "CORP\\dora", LoginType.DOMAIN)
    with pytest.raises(PasswordRefusedByDirectory, match="Active Directory login"):
        dora.type(PASSWORD)
    assert dora.stored() is None

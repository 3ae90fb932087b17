"""A password typed at the workstation, checked against the real Samba AD DC before the vault
stores it: accepted and queued for the key, refused with nothing stored, another user's login
refused, the limit below the domain's lockout (the account is never locked), directory down."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from idp.config.directory import LdapSource
from idp.directory.password_check import (
    DirectoryPasswordCheck,
    LoginNotTheEmployee,
    PasswordCheckUnavailable,
    PasswordNotAccepted,
    TooManyPasswordChecks,
)
from idp.directory.sync.store import SyncStore
from idp.vault.base import PasswordCheck
from idp.vault.errors import PasswordRefusedByDirectory
from idp.vault.model import LoginType
from idp.vault.service import build_vault_service
from tests import samba_dc as ad
from tests.idp.directory import desks
from tests.idp.directory.conftest import Scenario
from tests.idp.directory.desks import Desk

pytestmark = pytest.mark.samba
PASSWORD = "Corr3ct-Horse-2026"


def checker(
    scenario: Scenario, source: LdapSource | None = None, **limits: int
) -> DirectoryPasswordCheck:
    return desks.checker(
        scenario.runtime, source or scenario.source, lambda _: ad.ADMIN_PASSWORD, **limits
    )


def desk(scenario: Scenario, check: PasswordCheck, short: str, login: str = "") -> Desk:
    scenario.user(short, password=PASSWORD, userAccountControl=ad.NORMAL_ACCOUNT)
    scenario.sync()
    login = login or f"{ad.DOMAIN}\\{scenario.name(short)}"
    return desks.desk(scenario.runtime, check, scenario.employee(short).id, login, LoginType.DOMAIN)


def test_the_right_password_is_stored_and_queued_for_the_key(scenario: Scenario) -> None:
    alice = desk(scenario, checker(scenario), "alice")
    alice.type(PASSWORD)
    assert alice.stored() == PASSWORD


def test_a_wrong_password_is_refused_and_nothing_is_stored(scenario: Scenario) -> None:
    alice = desk(scenario, checker(scenario), "alice")
    with pytest.raises(PasswordRefusedByDirectory, match="user name or password is wrong") as e:
        alice.type("Wr0ng-Horse-2026")
    assert isinstance(e.value.__cause__, PasswordNotAccepted)
    assert "2 more check(s) allowed" in e.value.description
    assert alice.stored() is None


def test_the_upn_and_the_dns_domain_name_the_same_account(scenario: Scenario) -> None:
    check = checker(scenario)
    upn = desk(scenario, check, "carol", login=f"hideez.test\\{scenario.name('carol')}")
    upn.type(PASSWORD)
    assert upn.stored() == PASSWORD


def test_another_users_login_is_refused_before_the_directory_is_asked(
    scenario: Scenario,
) -> None:
    scenario.user("bob", password=PASSWORD, userAccountControl=ad.NORMAL_ACCOUNT)
    check = checker(scenario, max_failures=1)
    alice = desk(scenario, check, "alice", login=f"{ad.DOMAIN}\\{scenario.name('bob')}")
    for _ in range(3):  # never counted: the limit of 1 is not reached
        with pytest.raises(PasswordRefusedByDirectory, match="not the employee's own") as e:
            alice.type(PASSWORD)
        assert isinstance(e.value.__cause__, LoginNotTheEmployee)
    assert alice.stored() is None


@pytest.fixture
def lockout(samba: ad.SambaDC) -> Iterator[None]:
    """The domain locks an account after 3 wrong passwords (restored afterwards)."""
    conn = samba.connect()
    ad.set_attributes(conn, ad.BASE_DN, lockoutThreshold="3")
    yield
    ad.set_attributes(conn, ad.BASE_DN, lockoutThreshold="0")
    conn.unbind()


def test_checks_stop_below_the_domain_lockout(
    scenario: Scenario, samba: ad.SambaDC, lockout: None
) -> None:
    alice = desk(scenario, checker(scenario, max_failures=5), "alice")
    for left in (1, 0):  # lockoutThreshold 3 → at most 2 wrong passwords from us
        with pytest.raises(PasswordRefusedByDirectory, match=f"{left} more check"):
            alice.type("Wr0ng-Horse-2026")
    with pytest.raises(TooManyPasswordChecks) as limited:  # as is: not a refusal to show
        alice.type(PASSWORD)
    assert limited.value.status == 429 and limited.value.retry_after == 30 * 60
    assert limited.value.headers() == {"Retry-After": "1800"}
    assert alice.stored() is None
    # The domain did not lock the account: the employee still signs in.
    principal = f"{scenario.name('alice')}@hideez.test"
    samba.connect(user=principal, password=PASSWORD).unbind()


def test_a_right_password_clears_the_count(scenario: Scenario) -> None:
    alice = desk(scenario, checker(scenario, max_failures=2), "alice")
    with pytest.raises(PasswordRefusedByDirectory):
        alice.type("Wr0ng-Horse-2026")
    alice.type(PASSWORD)
    alice.type(PASSWORD)  # the count starts again: two more checks would be allowed
    with pytest.raises(PasswordRefusedByDirectory, match="1 more check"):
        alice.type("Wr0ng-Horse-2026")


def test_a_directory_that_does_not_answer_is_a_503_with_retry_after(
    scenario: Scenario,
) -> None:
    alice = desk(scenario, checker(scenario), "alice")
    down = dataclasses.replace(scenario.source, url="ldaps://localhost:1", timeout_seconds=2)
    alice.service = build_vault_service(scenario.runtime, password_check=checker(scenario, down))
    with pytest.raises(PasswordCheckUnavailable) as unavailable:
        alice.type(PASSWORD)
    assert unavailable.value.status == 503
    assert unavailable.value.headers() == {"Retry-After": "30"}
    assert alice.stored() is None


def test_an_employee_not_from_the_directory_cannot_be_checked(scenario: Scenario) -> None:
    check = checker(scenario)
    alice = desk(scenario, check, "alice")
    SyncStore(scenario.runtime.db).unlink(alice.employee_id)
    with pytest.raises(PasswordRefusedByDirectory, match="not imported from a configured"):
        alice.type(PASSWORD)
    assert alice.stored() is None


def test_the_account_is_bound_as_itself(scenario: Scenario, samba: ad.SambaDC) -> None:
    """The bind proves the employee's own account: a disabled one is refused by the DC."""
    alice = desk(scenario, checker(scenario), "alice")
    conn = samba.connect()
    disabled = ad.NORMAL_ACCOUNT | ad.ACCOUNTDISABLE
    ad.set_attributes(conn, ad.user_dn(scenario.name("alice")), userAccountControl=str(disabled))
    conn.unbind()
    with pytest.raises(PasswordRefusedByDirectory, match="refused the sign-in"):
        alice.type(PASSWORD)
    assert alice.stored() is None

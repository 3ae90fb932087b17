"""Domain passwords against the real Samba AD DC: policy, reset, user change, refusals, rotation."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import ldap3
import pytest

from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee
from idp.directory.passwords import (
    AdPasswords,
    PasswordRefused,
    Refusal,
    change_password,
    generate_password,
    reset_password,
    rotate_passwords,
)
from idp.directory.sync.ldap_source import LdapDirectory
from tests import samba_dc as ad
from tests.idp.directory.conftest import Scenario

pytestmark = pytest.mark.samba
START = "Start-Pass-123!x"


@pytest.fixture
def passwords(scenario: Scenario) -> Iterator[AdPasswords]:
    directory = LdapDirectory(scenario.source, password=ad.ADMIN_PASSWORD)
    yield AdPasswords(directory, clock=scenario.runtime.now)
    directory.close()


def _person(scenario: Scenario, short: str) -> Employee:
    scenario.user(short, password=START, userAccountControl=ad.NORMAL_ACCOUNT)
    scenario.sync()
    return scenario.employee(short)


def _binds(samba: ad.SambaDC, scenario: Scenario, short: str, password: str) -> bool:
    try:
        samba.connect(user=f"{scenario.name(short)}@hideez.test", password=password).unbind()
        return True
    except ldap3.core.exceptions.LDAPBindError:
        return False


def _last_event(scenario: Scenario, kind: AuditKind) -> tuple[Outcome, str | None]:
    scenario.runtime.audit.flush()
    event = scenario.runtime.audit.list(kind=kind, limit=1).items[0]
    return event.outcome, event.reason


def test_the_policy_is_read_from_the_domain(passwords: AdPasswords) -> None:
    policy = passwords.policy()
    assert (policy.min_length, policy.complexity, policy.history) == (12, True, 3)
    assert policy.min_age == dt.timedelta(0)
    assert policy.max_age == dt.timedelta(days=42)


def test_admin_reset_with_a_generated_password_the_directory_accepts(
    scenario: Scenario, passwords: AdPasswords, samba: ad.SambaDC
) -> None:
    alice = _person(scenario, "alice")
    done = reset_password(
        directory=passwords,
        employee=alice,
        audit=scenario.runtime.audit,
        actor="admin:test",
        now=scenario.runtime.now(),
    )
    assert len(done.password) >= 20 and done.password not in repr(done)
    assert _binds(samba, scenario, "alice", done.password)
    assert _last_event(scenario, AuditKind.PASSWORD_SET) == (Outcome.SUCCESS, None)


def test_a_refused_reset_changes_nothing_and_says_why(
    scenario: Scenario, passwords: AdPasswords, samba: ad.SambaDC
) -> None:
    bob = _person(scenario, "bob")
    with pytest.raises(PasswordRefused) as refused:
        reset_password(
            directory=passwords,
            employee=bob,
            audit=scenario.runtime.audit,
            actor="admin:test",
            now=scenario.runtime.now(),
            password="Short-1!",
        )
    assert refused.value.reason is Refusal.POLICY
    assert refused.value.description.startswith(
        "does not meet the password policy: at least 12 characters"
    )
    assert _binds(samba, scenario, "bob", START)
    assert _last_event(scenario, AuditKind.PASSWORD_SET) == (Outcome.FAILURE, "policy")


def test_user_change_with_the_old_password(
    scenario: Scenario, passwords: AdPasswords, samba: ad.SambaDC
) -> None:
    carol = _person(scenario, "carol")
    new = generate_password(passwords.policy())
    done = change_password(
        directory=passwords,
        employee=carol,
        audit=scenario.runtime.audit,
        old=START,
        new=new,
        now=scenario.runtime.now(),
    )
    assert (done.how, done.employee_id) == ("change", carol.id)
    assert _binds(samba, scenario, "carol", new)
    assert _last_event(scenario, AuditKind.PASSWORD_CHANGED) == (Outcome.SUCCESS, None)

    with pytest.raises(PasswordRefused) as history:
        change_password(
            directory=passwords,
            employee=carol,
            audit=scenario.runtime.audit,
            old=new,
            new=START,
            now=scenario.runtime.now(),
        )
    assert history.value.reason is Refusal.HISTORY
    assert "one of the last 3 passwords" in history.value.description
    assert _binds(samba, scenario, "carol", new)


def test_user_change_with_a_wrong_old_password_is_refused(
    scenario: Scenario, passwords: AdPasswords, samba: ad.SambaDC
) -> None:
    dave = _person(scenario, "dave")
    with pytest.raises(PasswordRefused) as refused:
        change_password(
            directory=passwords,
            employee=dave,
            audit=scenario.runtime.audit,
            old="Not-The-Pass-1!",
            new="Brand-New-Pass-2!",
            now=scenario.runtime.now(),
        )
    assert refused.value.reason is Refusal.WRONG_PASSWORD
    assert "current password" in refused.value.description
    assert _binds(samba, scenario, "dave", START)
    assert _last_event(scenario, AuditKind.PASSWORD_CHANGED) == (Outcome.FAILURE, "wrong_password")


def test_minimum_age_refusal_says_how_long_to_wait(scenario: Scenario, samba: ad.SambaDC) -> None:
    erin = _person(scenario, "erin")
    one_day = str(-864_000_000_000)
    ad.set_attributes(scenario.conn, samba.base_dn, minPwdAge=one_day)
    directory = LdapDirectory(scenario.source, password=ad.ADMIN_PASSWORD)
    try:
        aged = AdPasswords(directory, clock=scenario.runtime.now)
        with pytest.raises(PasswordRefused) as refused:
            change_password(
                directory=aged,
                employee=erin,
                audit=scenario.runtime.audit,
                old=START,
                new="Brand-New-Pass-2!",
                now=scenario.runtime.now(),
            )
    finally:
        ad.set_attributes(scenario.conn, samba.base_dn, minPwdAge="0")
        directory.close()
    assert refused.value.reason is Refusal.TOO_RECENT
    assert refused.value.description == "changed too recently: wait 1 day"
    assert _binds(samba, scenario, "erin", START)


def test_a_delegated_account_cannot_reset_a_protected_administrator(
    scenario: Scenario, samba: ad.SambaDC
) -> None:
    helper = _person(scenario, "helpdesk")
    victim = _person(scenario, "frank")
    weak = dataclasses.replace(scenario.source, bind_user=f"{helper.username}@hideez.test")
    directory = LdapDirectory(weak, password=START)
    try:
        delegated = AdPasswords(directory, clock=scenario.runtime.now)
        admin = Employee(
            id="x", username="Administrator", email="a@x.example", first_name="", last_name=""
        )
        with pytest.raises(PasswordRefused) as protected:
            delegated.reset(admin, generate_password(delegated.policy()))
        with pytest.raises(PasswordRefused) as no_right:
            delegated.reset(victim, generate_password(delegated.policy()))
    finally:
        directory.close()
    assert protected.value.reason is Refusal.PROTECTED_ACCOUNT
    assert "protected administrator account" in protected.value.description
    assert no_right.value.reason is Refusal.NO_RIGHT
    assert _binds(samba, scenario, "frank", START)


def test_an_injected_username_matches_no_account(passwords: AdPasswords) -> None:
    hostile = Employee(
        id="x", username="*)(sAMAccountName=*", email="h@x.example", first_name="", last_name=""
    )
    with pytest.raises(PasswordRefused) as refused:
        passwords.reset(hostile, generate_password(passwords.policy()))
    assert refused.value.reason is Refusal.NOT_LINKED


def test_rotation_renews_only_members_whose_password_reached_the_maximum_age(
    scenario: Scenario, samba: ad.SambaDC
) -> None:
    rotating = _person(scenario, "gina")
    _person(scenario, "hank")  # not in the rotation group
    group = ad.add_group(
        scenario.conn, f"{scenario.prefix}Rotation", [ad.user_dn(rotating.username)]
    )
    directory = LdapDirectory(scenario.source, password=ad.ADMIN_PASSWORD)
    rt = scenario.runtime
    try:
        today = AdPasswords(directory, clock=rt.now)
        young = rotate_passwords(
            directory=today,
            by_guid=rt.employees.get_by_ad_object_guid,
            group=f"{scenario.prefix}Rotation",
            max_age=dt.timedelta(days=90),
            audit=rt.audit,
            now=rt.now(),
        )
        later = AdPasswords(directory, clock=lambda: rt.now() + dt.timedelta(days=91))
        due = rotate_passwords(
            directory=later,
            by_guid=rt.employees.get_by_ad_object_guid,
            group=f"{scenario.prefix}Rotation",
            max_age=dt.timedelta(days=90),
            audit=rt.audit,
            now=rt.now(),
        )
    finally:
        directory.close()
    assert young.changed == ()
    assert [c.username for c in due.changed] == [rotating.username]
    assert _binds(samba, scenario, "gina", due.changed[0].password)
    assert _binds(samba, scenario, "hank", START)
    assert group

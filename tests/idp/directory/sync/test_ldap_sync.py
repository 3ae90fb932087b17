"""Import and incremental sync from the real Samba AD DC."""

from __future__ import annotations

import uuid

import pytest

from idp.audit import AuditKind
from idp.directory.sync.records import Action, DirectoryRefused, DirectoryUnavailable, Withdrawal
from idp.directory.sync.store import SyncStore
from idp.store.sql.repositories import OrganisationRepository
from tests import samba_dc as ad
from tests.idp.directory.conftest import Scenario

pytestmark = pytest.mark.samba


def _actions(summary: object) -> list[tuple[str, str]]:
    return sorted((c.action.value, c.username) for c in summary.changes)  # type: ignore[attr-defined]


def test_full_import_brings_people_their_org_groups_and_directory_ids(scenario: Scenario) -> None:
    alice_dn = scenario.user("alice")
    scenario.user("bob", title="Architect", department="Research")
    scenario.user("outsider", member=False)

    summary = scenario.sync()

    assert summary.mode == "full"
    assert _actions(summary) == [
        ("create", scenario.name("alice")),
        ("create", scenario.name("bob")),
    ]
    alice = scenario.employee("alice")
    assert (alice.email, alice.first_name, alice.last_name, alice.phone) == (
        f"{scenario.name('alice')}@corp.example",
        "Alice",
        "Tester",
        "+44 20 7946 0958",
    )
    assert alice.enabled
    entry = scenario.conn
    entry.search(
        alice_dn, "(objectClass=*)", search_scope="BASE", attributes=["objectGUID", "objectSid"]
    )
    guid = str(uuid.UUID(bytes_le=entry.entries[0].objectGUID.raw_values[0]))
    assert alice.ad_object_guid == guid
    assert alice.ad_object_sid is not None and alice.ad_object_sid.startswith("S-1-5-21-")
    assert alice.external_ids["upn"] == f"{scenario.name('alice')}@hideez.test"
    rt = scenario.runtime
    org = {c.id: c.name for c in OrganisationRepository(rt.db).list_companies()}
    assert org[alice.company_id] == "Hideez"
    groups = [g.name for g in rt.employees.groups(alice.id)]
    assert f"{scenario.prefix}Hideez Users Sync" in groups
    assert rt.employees.get_by_username(scenario.name("outsider")) is None


def test_a_second_run_is_incremental_and_reads_only_what_changed(scenario: Scenario) -> None:
    bob_dn = scenario.user("bob")
    scenario.user("carol")
    scenario.sync()

    again = scenario.sync()
    assert (again.mode, again.read, again.changes) == ("incremental", 0, ())

    ad.set_attributes(scenario.conn, bob_dn, title="Manager")
    changed = scenario.sync()
    assert changed.mode == "incremental"
    assert changed.read == 1
    assert [(c.action, c.username, c.fields) for c in changed.changes] == [
        (Action.UPDATE, scenario.name("bob"), ("position_id",))
    ]


def test_disabled_in_the_directory_ends_sessions_and_is_handed_on(scenario: Scenario) -> None:
    dn = scenario.user("dave")
    scenario.sync()
    rt = scenario.runtime
    dave = scenario.employee("dave")
    session = scenario.session_for("dave")
    withdrawn = []

    ad.set_attributes(
        scenario.conn, dn, userAccountControl=ad.NO_PASSWORD_ACCOUNT | ad.ACCOUNTDISABLE
    )
    summary = scenario.sync(on_withdrawn=withdrawn.append)

    assert [(c.action, c.username) for c in summary.changes] == [(Action.DISABLE, dave.username)]
    assert not scenario.employee("dave").enabled
    assert rt.sessions.get(session, now=rt.now()) is None
    assert summary.sessions_ended == 1
    assert [(w.employee_id, w.reason) for w in withdrawn] == [(dave.id, Withdrawal.DISABLED)]

    ad.set_attributes(scenario.conn, dn, userAccountControl=ad.NO_PASSWORD_ACCOUNT)
    back = scenario.sync()
    assert [c.action for c in back.changes] == [Action.ENABLE]
    assert scenario.employee("dave").enabled


@pytest.mark.parametrize("choice", ["deactivate", "delete", "keep"])
def test_leaving_the_scoping_group_follows_the_admins_choice(
    scenario: Scenario, choice: str
) -> None:
    s = scenario.with_source(on_leave_scope=choice)
    erin_dn = s.user("erin")
    s.user("frank")
    s.sync()
    erin = s.employee("erin")
    session = s.session_for("erin")

    ad.remove_members(s.conn, s.group, [erin_dn])
    summary = s.sync()

    assert summary.mode == "full"  # a group changed: memberOf is a back link
    assert "group memberships changed: full pass" in summary.notes
    action = {
        "deactivate": Action.LEAVE_DEACTIVATE,
        "delete": Action.LEAVE_DELETE,
        "keep": Action.LEAVE_KEEP,
    }[choice]
    assert [(c.action, c.username) for c in summary.changes] == [(action, erin.username)]
    found = s.runtime.employees.get(erin.id)
    links = SyncStore(s.runtime.db)
    if choice == "deactivate":
        assert found is not None and not found.enabled
        assert links.link_for(erin.id) is not None
    elif choice == "delete":
        assert found is None
    else:
        assert found is not None and found.enabled
        assert links.link_for(erin.id) is None  # no longer synced: the admin's now
    alive = s.runtime.sessions.get(session, now=s.runtime.now())
    assert (alive is None) == (choice != "keep")
    assert s.employee("frank").enabled


def test_coming_back_into_scope_enables_again(scenario: Scenario) -> None:
    dn = scenario.user("gina")
    scenario.sync()
    ad.remove_members(scenario.conn, scenario.group, [dn])
    scenario.sync()
    assert not scenario.employee("gina").enabled
    ad.add_members(scenario.conn, scenario.group, [dn])
    summary = scenario.sync()
    assert [c.action for c in summary.changes] == [Action.ENABLE]
    assert scenario.employee("gina").enabled


def test_dry_run_prints_the_plan_and_stores_nothing(scenario: Scenario) -> None:
    scenario.user("hank")
    before = scenario.runtime.employees.list(limit=500).total
    plan = scenario.sync(dry_run=True)
    assert plan.dry_run
    assert _actions(plan) == [("create", scenario.name("hank"))]
    assert scenario.runtime.employees.list(limit=500).total == before
    assert SyncStore(scenario.runtime.db).state(scenario.source.name).highest_usn is None
    assert scenario.sync().count(Action.CREATE) == 1


def test_a_missing_scoping_group_is_an_error_not_an_empty_scope(scenario: Scenario) -> None:
    scenario.user("ivan")
    scenario.sync()
    wrong = scenario.with_source(scope_group=f"{scenario.prefix}No Such Group")
    with pytest.raises(DirectoryRefused, match=r"No Such Group.*does not exist"):
        wrong.sync(full=True)
    assert scenario.employee("ivan").enabled


def test_existing_employee_is_matched_by_email_across_domains(scenario: Scenario) -> None:
    from idp.directory.model import Employee

    rt = scenario.runtime
    name = scenario.name("judy")
    manual = rt.employees.add(
        Employee(
            id=f"manual-{name}",
            username=f"{name}-old",
            email=f"{name}@example.com",
            first_name="J",
            last_name="Old",
        ),
        now=rt.now(),
    )
    scenario.user("judy")
    s = scenario.with_source(email_domains=("corp.example", "example.com"))

    summary = s.sync()

    assert [(c.action, c.employee_id) for c in summary.changes] == [(Action.LINK, manual.id)]
    linked = rt.employees.get(manual.id)
    assert linked is not None and linked.username == name
    assert linked.email == f"{name}@corp.example"


def test_a_username_owned_by_an_unlinked_employee_is_a_conflict_and_changes_nothing(
    scenario: Scenario,
) -> None:
    from idp.directory.model import Employee

    rt = scenario.runtime
    name = scenario.name("kim")
    other = Employee(
        id=f"other-{name}",
        username=name,
        email=f"someone-{name}@else.example",
        first_name="K",
        last_name="Other",
    )
    rt.employees.add(other, now=rt.now())
    scenario.user("kim")
    summary = scenario.sync()
    assert [(c.action, c.username) for c in summary.changes] == [(Action.CONFLICT, name)]
    assert "belongs to another employee" in summary.changes[0].reason
    assert scenario.employee("kim").email == f"someone-{name}@else.example"


def test_results_far_beyond_the_page_size_are_all_read(scenario: Scenario) -> None:
    for i in range(12):
        scenario.user(f"p{i:02d}")
    s = scenario.with_source(page_size=2)
    summary = s.sync()
    assert summary.count(Action.CREATE) == 12
    from idp.directory.sync.ldap_source import LdapDirectory

    directory = LdapDirectory(s.source, password=ad.ADMIN_PASSWORD)
    query = directory.user_filter(directory.group_dn(s.source.scope_group or ""))
    pages = [len(p) for p in directory.pages(query)]
    directory.close()
    assert max(pages) <= 2 and sum(pages) == 12


def test_a_changed_invocation_id_forces_a_full_pass(scenario: Scenario) -> None:
    scenario.user("liam")
    scenario.sync()
    store = SyncStore(scenario.runtime.db)
    import dataclasses

    state = store.state(scenario.source.name)
    store.save_state(
        dataclasses.replace(state, invocation_id="00000000-0000-0000-0000-000000000001")
    )
    summary = scenario.sync()
    assert summary.mode == "full"
    assert any("invocationId changed" in n for n in summary.notes)
    assert summary.changes == ()  # idempotent: nothing to do


def test_hostile_group_name_is_escaped_into_the_filter(scenario: Scenario) -> None:
    scenario.user("mona")
    hostile = scenario.with_source(scope_group="*)(objectClass=*")
    with pytest.raises(DirectoryRefused, match="does not exist"):
        hostile.sync()
    assert scenario.runtime.employees.get_by_username(scenario.name("mona")) is None


def test_a_connection_dropped_mid_sync_resumes_without_half_applied_employees(
    scenario: Scenario,
) -> None:
    from tests.cutting_proxy import CuttingProxy

    for i in range(9):
        scenario.user(f"c{i}")
    proxy = CuttingProxy(("127.0.0.1", 636))
    try:
        cut = scenario.with_source(url=f"ldaps://localhost:{proxy.port}", page_size=3)
        cut.sync(dry_run=True)  # how many bytes a whole pass takes
        proxy.cut_after = proxy.sent * 2 // 3
        with pytest.raises(DirectoryUnavailable):
            cut.sync()
    finally:
        proxy.close()
    store = SyncStore(scenario.runtime.db)
    applied = store.links(scenario.source.name)
    assert len(applied) % 3 == 0 and len(applied) < 9  # whole pages or nothing
    for link in applied:  # every applied employee is complete
        employee = scenario.runtime.employees.get(link.employee_id)
        assert employee is not None and employee.ad_object_guid and employee.department_id
    assert store.state(scenario.source.name).run_id is not None

    summary = scenario.with_source(page_size=3).sync()
    assert "resuming the interrupted full pass" in summary.notes
    assert summary.count(Action.CREATE) == 9 - len(applied)
    assert summary.unchanged == len(applied)
    assert store.state(scenario.source.name).run_id is None


def test_disable_revokes_refresh_tokens_through_the_logout_plan(scenario: Scenario) -> None:
    from idp.oidc.errors import OidcError
    from idp.oidc.grants import Grant

    dn = scenario.user("olga")
    scenario.sync()
    rt = scenario.runtime
    olga = scenario.employee("olga")
    session = scenario.session_for("olga")
    oidc = rt.protocols.oidc
    assert oidc is not None
    grants = oidc.provider.grants
    grant = Grant(
        grant_id=f"g-{olga.id}",
        client_id="webapp",
        employee_id=olga.id,
        session_id=session,
        scopes=("openid", "offline_access"),
        auth_time=rt.now().timestamp(),
        acr="urn:hideez:acr:passkey",
        amr=("hwk",),
        redirect_uri="http://localhost:18082/cb",
    )
    token = grants.issue_refresh_token(grant, now=rt.now())

    ad.set_attributes(
        scenario.conn, dn, userAccountControl=ad.NO_PASSWORD_ACCOUNT | ad.ACCOUNTDISABLE
    )
    scenario.sync()

    assert grants.families.revoked(grant.grant_id)
    with pytest.raises(OidcError):
        grants.rotate_refresh_token(token=token, client_id="webapp", now=rt.now())
    rt.audit.flush()
    ended = rt.audit.list(kind=AuditKind.SESSION_ENDED, limit=1).items[0]
    assert ended.employee_id == olga.id
    assert (ended.details["sessions"], ended.details["refresh_families"]) == ("1", "1")


def test_no_longer_matching_the_filter_is_leaving_the_scope(scenario: Scenario) -> None:
    s = scenario.with_source(filter="(department=Security)")
    dn = s.user("pete")
    s.user("quin")
    s.sync()
    ad.set_attributes(s.conn, dn, department="Sales")
    summary = s.sync()
    assert summary.mode == "incremental"
    assert [(c.action, c.username) for c in summary.changes] == [
        (Action.LEAVE_DEACTIVATE, s.name("pete"))
    ]
    assert not s.employee("pete").enabled and s.employee("quin").enabled


def test_deleted_in_the_directory_is_a_departure(scenario: Scenario) -> None:
    s = scenario.with_source(filter="(department=Security)", on_leave_scope="delete")
    dn = s.user("rita")
    s.sync()
    rita = s.employee("rita")
    s.conn.delete(dn)
    summary = s.sync()
    assert (Action.LEAVE_DELETE, rita.username) in [(c.action, c.username) for c in summary.changes]
    assert s.runtime.employees.get(rita.id) is None

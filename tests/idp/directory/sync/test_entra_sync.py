"""Import and delta sync from Entra ID through MSAL and Graph, against the loopback stand-in."""

from __future__ import annotations

import dataclasses

import pytest

from idp.directory.passwords import (
    PasswordRefused,
    Refusal,
    change_password,
    reset_password,
)
from idp.directory.passwords_entra import GraphPasswords
from idp.directory.sync.entra_source import GraphDirectory
from idp.directory.sync.records import (
    Action,
    DirectoryRefused,
    DirectoryUnavailable,
    Throttled,
)
from idp.directory.sync.service import run_sync
from idp.directory.sync.store import SyncStore
from tests.entra_standin import CLIENT_SECRET, TENANT
from tests.idp.directory.conftest import Cloud


def test_full_import_over_several_pages_with_entra_ids(cloud: Cloud) -> None:
    for i in range(7):
        cloud.user(f"u{i}")
    cloud.user("outsider", member=False)
    summary = cloud.sync()
    assert summary.mode == "full"
    assert summary.count(Action.CREATE) == 7
    u0 = cloud.employee("u0")
    assert u0.entra_tenant_id == TENANT
    assert u0.entra_object_id is not None and len(u0.entra_object_id) == 36
    assert u0.external_ids["upn"] == f"{cloud.prefix}u0@contoso.example"
    assert (
        cloud.runtime.employees.get_by_username(f"{cloud.prefix}outsider@contoso.example") is None
    )
    state = SyncStore(cloud.runtime.db).state(cloud.source.name)
    assert state.delta_link is not None and "deltatoken" in state.delta_link


def test_delta_sync_reads_changes_disables_and_membership(cloud: Cloud) -> None:
    alice, bob = cloud.user("alice"), cloud.user("bob")
    late = cloud.user("late", member=False)
    cloud.sync()
    session_before = cloud.tenant.requests.copy()

    cloud.tenant.change_user(alice.id, jobTitle="Director")
    cloud.tenant.change_user(bob.id, accountEnabled=False)
    cloud.tenant.add_member(cloud.group, late)
    summary = cloud.sync()

    assert summary.mode == "incremental"
    got = sorted(
        (c.action.value, c.username.split("@")[0].removeprefix(cloud.prefix))
        for c in summary.changes
    )
    assert got == [("create", "late"), ("disable", "bob"), ("update", "alice")]
    assert not cloud.employee("bob").enabled
    assert len(cloud.tenant.requests) > len(session_before)

    cloud.tenant.remove_member(cloud.group, alice)
    left = cloud.sync()
    assert [(c.action, c.username) for c in left.changes] == [
        (Action.LEAVE_DEACTIVATE, alice.userPrincipalName)
    ]


def test_graph_throttling_is_honoured(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    cloud.user("tess")
    waits: list[float] = []
    monkeypatch.setattr("idp.directory.sync.entra_source.time.sleep", waits.append)
    cloud.tenant.throttle = 2
    summary = cloud.sync()
    assert summary.count(Action.CREATE) == 1
    assert waits == [1.0, 1.0]


def test_throttling_beyond_the_limit_stops_the_pass_cleanly(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud.user("tom")
    monkeypatch.setattr("idp.directory.sync.entra_source.time.sleep", lambda _: None)
    cloud.tenant.throttle = 10
    try:
        with pytest.raises(Throttled, match="asked to wait"):
            cloud.sync()
    finally:
        cloud.tenant.throttle = 0
    assert SyncStore(cloud.runtime.db).state(cloud.source.name).delta_link is None


def test_a_page_without_delta_link_concludes_nothing(cloud: Cloud) -> None:
    cloud.user("vera")
    cloud.sync()
    vera = cloud.employee("vera")
    before = SyncStore(cloud.runtime.db).state(cloud.source.name)
    cloud.tenant.lose_delta_link = True
    try:
        with pytest.raises(DirectoryRefused, match=r"neither @odata.nextLink nor @odata.deltaLink"):
            cloud.sync(full=True)
    finally:
        cloud.tenant.lose_delta_link = False
    assert cloud.runtime.employees.get(vera.id).enabled  # type: ignore[union-attr]
    assert SyncStore(cloud.runtime.db).state(cloud.source.name).delta_link == before.delta_link


def test_a_dropped_connection_resumes_where_it_stopped(cloud: Cloud) -> None:
    for i in range(8):
        cloud.user(f"r{i}")
    # Users/delta lists the whole tenant, oldest first: deliver the first page with some of
    # these eight on it, then drop the connection.
    others = len(cloud.tenant.users) - 8
    cloud.tenant.drop_after = others // cloud.tenant.page_size + 1
    with pytest.raises(DirectoryUnavailable, match="dropped"):
        cloud.sync()
    store = SyncStore(cloud.runtime.db)
    state = store.state(cloud.source.name)
    assert state.run_id is not None and state.resume_link is not None
    applied = len(store.links(cloud.source.name))
    assert 0 < applied < 8  # whole pages only

    summary = cloud.sync()
    assert "resuming the interrupted pass" in summary.notes
    assert summary.count(Action.CREATE) == 8 - applied
    assert len(store.links(cloud.source.name)) == 8
    assert store.state(cloud.source.name).run_id is None


def test_passwords_through_graph_with_its_real_error_shapes(cloud: Cloud) -> None:
    user = cloud.user("pat", password="Old-Pass-1!")
    admin = cloud.user("boss", protected=True)
    cloud.sync()
    graph = GraphDirectory(cloud.source, secret=CLIENT_SECRET)
    passwords = GraphPasswords(graph)
    rt = cloud.runtime
    try:
        done = reset_password(
            directory=passwords,
            employee=cloud.employee("pat"),
            audit=rt.audit,
            actor="admin:test",
            now=rt.now(),
        )
        assert cloud.tenant.users[user.id].password == done.password
        with pytest.raises(PasswordRefused) as weak:
            reset_password(
                directory=passwords,
                employee=cloud.employee("pat"),
                audit=rt.audit,
                actor="admin:test",
                now=rt.now(),
                password="password",
            )
        assert weak.value.reason is Refusal.POLICY
        assert weak.value.description.startswith("does not meet the password policy: at least 8")
        with pytest.raises(PasswordRefused) as protected:
            reset_password(
                directory=passwords,
                employee=cloud.employee("boss"),
                audit=rt.audit,
                actor="admin:test",
                now=rt.now(),
            )
        assert protected.value.reason is Refusal.PROTECTED_ACCOUNT
        with pytest.raises(PasswordRefused) as wrong:
            change_password(
                directory=passwords,
                employee=cloud.employee("pat"),
                audit=rt.audit,
                old="Not-It-1!",
                new="Newer-Pass-2!",
                now=rt.now(),
            )
        assert wrong.value.reason is Refusal.WRONG_PASSWORD
        change_password(
            directory=passwords,
            employee=cloud.employee("pat"),
            audit=rt.audit,
            old=done.password,
            new="Newer-Pass-2!",
            now=rt.now(),
        )
        assert cloud.tenant.users[user.id].password == "Newer-Pass-2!"
    finally:
        graph.close()
    assert cloud.tenant.users[admin.id].password == ""


def test_a_wrong_client_secret_is_a_clear_error(cloud: Cloud) -> None:
    cloud.user("sam")
    wrong = dataclasses.replace(cloud.source, client_secret="not-the-secret")
    with pytest.raises(DirectoryRefused, match="Invalid client secret"):
        run_sync(cloud.runtime, wrong)


def test_group_names_are_quoted_into_odata_filters(cloud: Cloud) -> None:
    quoted = cloud.tenant.add_group(f"{cloud.prefix}O'Brien's team")
    user = cloud.user("quinn", member=False)
    cloud.tenant.add_member(quoted, user)
    found = dataclasses.replace(
        cloud, source=dataclasses.replace(cloud.source, scope_group=quoted.displayName)
    )
    assert found.sync().count(Action.CREATE) == 1

    hostile = f"x' or displayName eq '{quoted.displayName}"
    injected = dataclasses.replace(cloud.source, scope_group=hostile)
    with pytest.raises(DirectoryRefused, match="does not exist in Entra ID"):
        run_sync(cloud.runtime, injected)


def test_links_outside_the_configured_graph_are_not_followed(cloud: Cloud) -> None:
    graph = GraphDirectory(cloud.source, secret=CLIENT_SECRET)
    try:
        with pytest.raises(DirectoryRefused, match="link outside"):
            next(graph.user_pages("https://attacker.example/v1.0/users/delta"))
    finally:
        graph.close()

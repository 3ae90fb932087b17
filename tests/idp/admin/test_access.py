"""The role table and the permission decorator, without any shell around them."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.admin.access import (
    CLI,
    ROLE_PERMISSIONS,
    Actor,
    Permission,
    PermissionDenied,
    ReauthenticationRequired,
    Role,
    require_recent_sign_in,
    requires,
)

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


class Thing:
    def __init__(self) -> None:
        self.calls = 0

    @requires(Permission.EMPLOYEES_DELETE)
    def delete(self, actor: Actor, name: str) -> str:
        self.calls += 1
        return f"deleted {name}"


def test_helpdesk_has_no_secrets_admin_powers_or_alarm_and_auditors_only_read() -> None:
    helpdesk, auditor = ROLE_PERMISSIONS[Role.HELPDESK], ROLE_PERMISSIONS[Role.AUDITOR]
    for forbidden in (Permission.SECRETS, Permission.ALARM_LIFT, Permission.ADMINS_WRITE):
        assert forbidden not in helpdesk and forbidden not in auditor
    assert all(p.value.endswith(":read") for p in auditor)
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


def test_the_decorator_refuses_before_the_method_runs() -> None:
    thing = Thing()
    with pytest.raises(PermissionDenied, match="the helpdesk role may not do this"):
        thing.delete(Actor(name="admin:h", role=Role.HELPDESK), "bob")
    assert thing.calls == 0
    assert thing.delete(CLI, "bob") == "deleted bob" and thing.calls == 1
    assert Thing.delete.__permission__ is Permission.EMPLOYEES_DELETE  # type: ignore[attr-defined]


def test_scopes_narrow_but_never_widen_a_role() -> None:
    narrow = Actor(name="k", role=Role.ADMIN, scopes=frozenset({Permission.AUDIT_READ}))
    assert narrow.permissions() == {Permission.AUDIT_READ}
    with pytest.raises(PermissionDenied, match="lacks the scope 'employees:delete'"):
        Thing().delete(narrow, "x")
    wide = Actor(name="k", role=Role.AUDITOR, scopes=frozenset({Permission.EMPLOYEES_DELETE}))
    assert wide.permissions() == frozenset()


def test_recent_sign_in_check() -> None:
    fresh = Actor(name="a", role=Role.ADMIN, auth_time=NOW - dt.timedelta(minutes=2))
    require_recent_sign_in(fresh, now=NOW, max_age=dt.timedelta(minutes=5))
    stale = Actor(name="a", role=Role.ADMIN, auth_time=NOW - dt.timedelta(minutes=7))
    with pytest.raises(ReauthenticationRequired, match="the last was 7 minutes ago"):
        require_recent_sign_in(stale, now=NOW, max_age=dt.timedelta(minutes=5))
    with pytest.raises(ReauthenticationRequired, match="an API key cannot do it"):
        require_recent_sign_in(CLI, now=NOW, max_age=dt.timedelta(minutes=5))

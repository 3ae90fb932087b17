"""Each employee's sessions, as admins list and end them (both stores)."""

from __future__ import annotations

import datetime as dt

from idp.factors.kinds import FactorKind, FactorUse
from idp.sessions import SessionStore, session_handle
from idp.store.ephemeral.base import EphemeralStore

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
USE = FactorUse(
    kind=FactorKind.PASSKEY, credential_id="c", at=NOW, user_verified=True, amr=("hwk",)
)


def test_list_and_end_one_or_all(ephemeral: EphemeralStore) -> None:
    store = SessionStore(ephemeral, idle_timeout=600, absolute_lifetime=3600)
    a = store.create(employee_id="e1", now=NOW, factor=USE)
    b = store.create(employee_id="e1", now=NOW + dt.timedelta(seconds=1), factor=USE)
    other = store.create(employee_id="e2", now=NOW, factor=USE)
    listed = store.for_employee("e1", now=NOW)
    assert [s.handle for s in listed] == [
        session_handle(a.session_id),
        session_handle(b.session_id),
    ]
    assert all(a.session_id not in s.handle for s in listed)
    assert store.end_for_employee("e1", handle=listed[0].handle) == 1
    assert store.get(a.session_id, now=NOW) is None and store.get(b.session_id, now=NOW)
    assert store.end_for_employee("e1") == 1
    assert store.for_employee("e1", now=NOW) == ()
    assert store.get(other.session_id, now=NOW) is not None  # someone else's stays


def test_ended_and_expired_sessions_are_not_listed(ephemeral: EphemeralStore) -> None:
    store = SessionStore(ephemeral, idle_timeout=600, absolute_lifetime=3600)
    gone = store.create(employee_id="e1", now=NOW, factor=USE)
    store.end(gone.session_id)  # a normal logout
    old = store.create(employee_id="e1", now=NOW, factor=USE)
    assert store.for_employee("e1", now=NOW + dt.timedelta(hours=2)) == ()
    assert store.end_for_employee("e1") == 1  # the old one was still stored; it is gone now
    assert store.get(old.session_id, now=NOW) is None

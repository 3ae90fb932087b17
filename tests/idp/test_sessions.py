"""SessionStore over both short-lived stores."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from idp.factors.kinds import FactorKind, FactorUse
from idp.sessions import (
    AuthContext,
    SessionEmployeeMismatch,
    SessionNotFound,
    SessionStore,
)
from idp.store.ephemeral import EphemeralStore, MemoryStore

NOW = dt.datetime(2025, 6, 1, 9, 0, tzinfo=dt.UTC)
PASSKEY = FactorUse(FactorKind.PASSKEY, "cred-1", NOW, True, ("hwk", "user"))
TOTP = FactorUse(FactorKind.TOTP, "totp-1", NOW + dt.timedelta(seconds=30), False, ("otp",))


@pytest.fixture
def sessions(ephemeral: EphemeralStore) -> SessionStore:
    return SessionStore(ephemeral, idle_timeout=600, absolute_lifetime=8 * 3600)


def test_create_and_get(sessions: SessionStore) -> None:
    context = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW)
    assert len(context.session_id) == 43
    assert context == AuthContext(context.session_id, "emp-1", NOW, (PASSKEY,))
    assert sessions.get(context.session_id, now=NOW + dt.timedelta(minutes=5)) == context


def test_ids_are_unique(sessions: SessionStore) -> None:
    ids = {sessions.create(employee_id="e", factor=PASSKEY, now=NOW).session_id for _ in range(20)}
    assert len(ids) == 20


def test_stored_as_json_not_pickle(ephemeral: EphemeralStore, sessions: SessionStore) -> None:
    context = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW)
    fields = ephemeral.record_get("session:" + context.session_id)
    assert fields is not None
    factors = json.loads(fields["factors"])
    assert factors[0]["kind"] == "passkey" and factors[0]["amr"] == ["hwk", "user"]


def test_absolute_lifetime_enforced(sessions: SessionStore) -> None:
    context = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW)
    assert sessions.get(context.session_id, now=NOW + dt.timedelta(hours=7, minutes=59))
    assert sessions.get(context.session_id, now=NOW + dt.timedelta(hours=8)) is None
    # and it is gone for good, even when asked with an earlier clock
    assert sessions.get(context.session_id, now=NOW) is None


def test_idle_timeout_and_refresh_on_use() -> None:
    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    sessions = SessionStore(MemoryStore(clock=clock), idle_timeout=60, absolute_lifetime=3600)
    sid = sessions.create(employee_id="e", factor=PASSKEY, now=NOW).session_id
    clock.now = 50
    assert sessions.get(sid, now=NOW) is not None  # use restarts the idle timer
    clock.now = 100
    assert sessions.get(sid, now=NOW) is not None
    clock.now = 161
    assert sessions.get(sid, now=NOW) is None


@pytest.mark.parametrize(
    "bad", ["", "short", "x" * 44, "../../etc/passwd", "a" * 42 + "*", "session:*", "é" * 43]
)
def test_malformed_ids_never_reach_the_store(bad: str) -> None:
    class Exploding(MemoryStore):
        def record_get(self, key: str, *, refresh_ttl: int | None = None) -> None:  # type: ignore[override]
            raise AssertionError("store touched")

        def delete(self, key: str) -> None:
            raise AssertionError("store touched")

    sessions = SessionStore(Exploding(), idle_timeout=60, absolute_lifetime=60)
    assert sessions.get(bad, now=NOW) is None
    assert sessions.participants(bad) == ()
    sessions.end(bad)
    with pytest.raises(SessionNotFound):
        sessions.add_factor(bad, TOTP, now=NOW)
    with pytest.raises(SessionNotFound):
        sessions.record_participant(bad, "saml:x")


def test_unknown_well_formed_id(sessions: SessionStore) -> None:
    assert sessions.get("A" * 43, now=NOW) is None


def test_step_up_appends_and_keeps_auth_time(sessions: SessionStore) -> None:
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    updated = sessions.add_factor(sid, TOTP, now=NOW + dt.timedelta(minutes=1))
    assert updated.factors == (PASSKEY, TOTP)
    assert updated.auth_time == NOW
    assert "mfa" in updated.amr
    assert sessions.get(sid, now=NOW) == updated


def test_reauthenticate_sets_new_auth_time(sessions: SessionStore) -> None:
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    sessions.add_factor(sid, TOTP, now=NOW)
    later = NOW + dt.timedelta(hours=1)
    fresh = FactorUse(FactorKind.PASSKEY, "cred-1", later, True, ("hwk",))
    context = sessions.reauthenticate(sid, expected_employee_id="emp-1", factor=fresh, now=later)
    assert context.auth_time == later and context.factors == (fresh,)
    assert sessions.get(sid, now=later) == context


def test_reauthenticate_by_someone_else_refused(sessions: SessionStore) -> None:
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    with pytest.raises(SessionEmployeeMismatch):
        sessions.reauthenticate(sid, expected_employee_id="emp-2", factor=PASSKEY, now=NOW)
    assert sessions.get(sid, now=NOW).employee_id == "emp-1"  # type: ignore[union-attr]


def test_participants(sessions: SessionStore) -> None:
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    assert sessions.participants(sid) == ()
    sessions.record_participant(sid, "saml:https://github.com/orgs/acme|nameid-1|_idx1")
    sessions.record_participant(sid, "oidc:gitlab|sid-2")
    sessions.record_participant(sid, "oidc:gitlab|sid-2")  # recorded once
    assert sessions.participants(sid) == (
        "oidc:gitlab|sid-2",
        "saml:https://github.com/orgs/acme|nameid-1|_idx1",
    )
    # participants do not disturb the context
    assert sessions.get(sid, now=NOW).factors == (PASSKEY,)  # type: ignore[union-attr]


def test_participant_validation(sessions: SessionStore) -> None:
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    with pytest.raises(ValueError):
        sessions.record_participant(sid, "")
    with pytest.raises(ValueError):
        sessions.record_participant(sid, "x" * 5000)


def test_end(ephemeral: EphemeralStore, sessions: SessionStore) -> None:
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    sessions.record_participant(sid, "saml:sp")
    sessions.end(sid)
    assert sessions.get(sid, now=NOW) is None
    assert sessions.participants(sid) == ()
    with pytest.raises(SessionNotFound):
        sessions.add_factor(sid, TOTP, now=NOW)
    with pytest.raises(SessionNotFound):
        sessions.record_participant(sid, "saml:late")
    assert ephemeral.record_get("session:" + sid) is None  # no half session brought back
    sessions.end(sid)  # ending twice is fine


def test_corrupt_session_is_dropped(ephemeral: EphemeralStore, sessions: SessionStore) -> None:
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    ephemeral.record_put("session:" + sid, {"factors": b"not json"}, ttl=60)
    assert sessions.get(sid, now=NOW) is None  # read as "no session", not an error
    assert ephemeral.record_get("session:" + sid) is None  # and removed


def test_bad_timeouts() -> None:
    with pytest.raises(ValueError):
        SessionStore(MemoryStore(), idle_timeout=0, absolute_lifetime=10)
    with pytest.raises(ValueError):
        SessionStore(MemoryStore(), idle_timeout=100, absolute_lifetime=10)


def test_naive_now_refused(sessions: SessionStore) -> None:
    with pytest.raises(ValueError):
        sessions.create(employee_id="e", factor=PASSKEY, now=dt.datetime(2025, 1, 1))

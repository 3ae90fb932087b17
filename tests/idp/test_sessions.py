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
from idp.store.ephemeral import EphemeralStore, MemoryStore, RedisStore
from idp.store.ephemeral.redis import MAGIC

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
    assert fields is not None and fields["v"] == b"2"  # record version 2 unless configured
    assert json.loads(fields["f"]) == [
        ["passkey", "cred-1", "1748768400.000000", 1, ["hwk", "user"]]
    ]


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


def test_corrupt_session_is_dropped(
    ephemeral: EphemeralStore, sessions: SessionStore, caplog: pytest.LogCaptureFixture
) -> None:
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    ephemeral.record_put("session:" + sid, {"f": b"not json"}, ttl=60)
    assert sessions.get(sid, now=NOW) is None  # read as "no session", not an error
    assert ephemeral.record_get("session:" + sid) is None  # and removed
    assert "dropping unreadable session: stored session does not parse" in caplog.text


@pytest.mark.parametrize(
    "damage",
    [
        {"v": b"3"},  # a release newer than this one wrote it
        {"c": b"yesterday"},
        {"f": b'[["passkey","c","1748768400.000000",true,[]]]'},
        {"p:saml:" + "x" * 2000 + str(n): b"" for n in range(40)},  # over MAX_RECORD_BYTES
    ],
    ids=["version", "time", "factor", "oversized"],
)
def test_an_unreadable_session_is_absent_everywhere(
    ephemeral: EphemeralStore, sessions: SessionStore, damage: dict[str, bytes]
) -> None:
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    assert ephemeral.record_update("session:" + sid, damage, ttl=60)
    assert sessions.participants(sid) == ()
    assert ephemeral.record_get("session:" + sid) is None  # dropped at the first read
    with pytest.raises(SessionNotFound):
        sessions.add_factor(sid, TOTP, now=NOW)
    with pytest.raises(SessionNotFound):
        sessions.record_participant(sid, "saml:late")
    assert sessions.for_employee("emp-1", now=NOW) == ()


def test_previous_release_sessions_are_read_and_kept_in_their_version(
    ephemeral: EphemeralStore, sessions: SessionStore
) -> None:
    # record_version: 1 writes what the previous release wrote; this release reads both and
    # updates each record in its own version, so instances not yet upgraded can still read it.
    previous = SessionStore(ephemeral, idle_timeout=600, absolute_lifetime=8 * 3600,
                            record_version=1)  # fmt: skip
    old = previous.create(employee_id="emp-1", factor=PASSKEY, now=NOW)
    assert sessions.get(old.session_id, now=NOW) == old
    assert sessions.add_factor(old.session_id, TOTP, now=NOW).factors == (PASSKEY, TOTP)
    sessions.record_participant(old.session_id, "oidc:gitlab|sid-2")
    later = NOW + dt.timedelta(hours=1)
    fresh = FactorUse(FactorKind.PASSKEY, "cred-1", later, True, ("hwk",))
    again = sessions.reauthenticate(
        old.session_id, expected_employee_id="emp-1", factor=fresh, now=later
    )
    fields = ephemeral.record_get("session:" + old.session_id)
    assert fields is not None
    assert set(fields) == {"v", "employee_id", "created_at", "auth_time", "factors",
                           "p:oidc:gitlab|sid-2"}  # fmt: skip
    assert previous.get(old.session_id, now=later) == again
    assert previous.participants(old.session_id) == ("oidc:gitlab|sid-2",)
    # and the other way round: a version 2 session read by an instance still writing 1
    new = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW)
    assert previous.get(new.session_id, now=NOW) == new
    again = previous.reauthenticate(new.session_id, expected_employee_id="emp-1",
                                    factor=fresh, now=later)  # fmt: skip
    fields = ephemeral.record_get("session:" + new.session_id)
    assert fields is not None and set(fields) == {"v", "e", "c", "a", "f"}
    assert sessions.get(new.session_id, now=later) == again
    assert {s.auth_time for s in sessions.for_employee("emp-1", now=later)} == {later}
    assert previous.end_for_employee("emp-1") == 2


def test_unknown_record_version_refused() -> None:
    with pytest.raises(ValueError, match="record_version must be 1 or 2, got 3"):
        SessionStore(MemoryStore(), idle_timeout=60, absolute_lifetime=60, record_version=3)  # type: ignore[arg-type]


def test_bad_timeouts() -> None:
    with pytest.raises(ValueError):
        SessionStore(MemoryStore(), idle_timeout=0, absolute_lifetime=10)
    with pytest.raises(ValueError):
        SessionStore(MemoryStore(), idle_timeout=100, absolute_lifetime=10)


def test_naive_now_refused(sessions: SessionStore) -> None:
    with pytest.raises(ValueError):
        sessions.create(employee_id="e", factor=PASSKEY, now=dt.datetime(2025, 1, 1))


@pytest.mark.redis
@pytest.mark.parametrize("raw", [b"plain value", MAGIC + b"1:v1:2" + b"9:e"], ids=["plain", "torn"])
def test_what_redis_cannot_unpack_is_no_session(redis_store: RedisStore, raw: bytes) -> None:
    sessions = SessionStore(redis_store, idle_timeout=600, absolute_lifetime=3600)
    sid = sessions.create(employee_id="emp-1", factor=PASSKEY, now=NOW).session_id
    redis_store.client.set(redis_store.prefix + "session:" + sid, raw)
    assert sessions.get(sid, now=NOW) is None
    assert redis_store.client.exists(redis_store.prefix + "session:" + sid) == 0

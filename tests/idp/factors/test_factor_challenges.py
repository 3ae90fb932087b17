"""Single-use ceremony challenges (WebAuthn L3 §13.4.3) over the real short-lived stores."""

from __future__ import annotations

import datetime as dt
import secrets
import threading

import pytest

from idp.errors import ReplayDetected
from idp.factors.challenges import (
    CHALLENGE_BYTES,
    ChallengeExpired,
    ChallengeReplayed,
    ChallengeUnknown,
    ChallengeWrongBinding,
    ChallengeWrongPurpose,
    consume_challenge,
    issue_challenge,
)
from idp.store.ephemeral import MemoryStore, RedisStore

T0 = dt.datetime(2026, 1, 15, 9, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(clock: Clock) -> MemoryStore:
    return MemoryStore(clock=clock)


def test_issue_then_consume_returns_the_same_random_challenge(store: MemoryStore) -> None:
    handle, challenge = issue_challenge(store, purpose="login", bind="flow-1", now=T0)
    other_handle, other = issue_challenge(store, purpose="login", bind="flow-1", now=T0)
    assert len(challenge) == CHALLENGE_BYTES >= 16  # §13.4.3: at least 16 random bytes
    assert challenge != other and handle != other_handle
    assert (
        consume_challenge(store, handle=handle, purpose="login", bind="flow-1", now=T0) == challenge
    )


def test_second_use_is_a_replay(store: MemoryStore) -> None:
    handle, _ = issue_challenge(store, purpose="login", bind="flow-1", now=T0)
    consume_challenge(store, handle=handle, purpose="login", bind="flow-1", now=T0)
    with pytest.raises(ChallengeReplayed) as err:
        consume_challenge(store, handle=handle, purpose="login", bind="flow-1", now=T0)
    assert isinstance(err.value, ReplayDetected)
    assert err.value.status == 400 and err.value.error == "replay_detected"
    # …and stays a replay on a third try (the tombstone is put back).
    with pytest.raises(ChallengeReplayed):
        consume_challenge(store, handle=handle, purpose="login", bind="flow-1", now=T0)


def test_expired_challenge(store: MemoryStore, clock: Clock) -> None:
    handle, _ = issue_challenge(store, purpose="login", bind="flow-1", ttl=300, now=T0)
    clock.t += 301
    with pytest.raises(ChallengeExpired, match="expired"):
        consume_challenge(
            store, handle=handle, purpose="login", bind="flow-1", now=T0 + dt.timedelta(seconds=301)
        )


def test_just_before_expiry_still_works(store: MemoryStore, clock: Clock) -> None:
    handle, challenge = issue_challenge(store, purpose="login", bind="f", ttl=300, now=T0)
    clock.t += 299
    later = T0 + dt.timedelta(seconds=299)
    assert (
        consume_challenge(store, handle=handle, purpose="login", bind="f", now=later) == challenge
    )


def test_never_issued_handle_is_unknown(store: MemoryStore) -> None:
    handle = f"{secrets.token_urlsafe(24)}.{int(T0.timestamp()) + 300}"
    with pytest.raises(ChallengeUnknown, match="no such challenge"):
        consume_challenge(store, handle=handle, purpose="login", bind="f", now=T0)


@pytest.mark.parametrize(
    "handle",
    ["", "abc", "x" * 5000, "../../etc/passwd", f"{'A' * 32}.notanumber", f"{'A' * 31}!.123", None],
)
def test_malformed_handles_are_unknown_without_touching_the_store(
    store: MemoryStore, handle: object
) -> None:
    with pytest.raises(ChallengeUnknown, match="expected a challenge handle"):
        consume_challenge(store, handle=handle, purpose="login", bind="f", now=T0)  # type: ignore[arg-type]
    assert len(store) == 0


def test_wrong_purpose_is_refused_and_burns_the_challenge(store: MemoryStore) -> None:
    handle, _ = issue_challenge(store, purpose="register", bind="f", now=T0)
    with pytest.raises(ChallengeWrongPurpose, match=r"for 'login'.*'register'"):
        consume_challenge(store, handle=handle, purpose="login", bind="f", now=T0)
    with pytest.raises(ChallengeReplayed):
        consume_challenge(store, handle=handle, purpose="register", bind="f", now=T0)


def test_wrong_binding_is_refused(store: MemoryStore) -> None:
    handle, _ = issue_challenge(store, purpose="login", bind="flow-A", now=T0)
    with pytest.raises(ChallengeWrongBinding):
        consume_challenge(store, handle=handle, purpose="login", bind="flow-B", now=T0)


def test_bind_value_is_not_stored_in_clear(store: MemoryStore) -> None:
    handle, _ = issue_challenge(store, purpose="login", bind="session-secret-123", now=T0)
    raw = store.get("challenge:" + handle)
    assert raw is not None and b"session-secret-123" not in raw


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"purpose": "Login!", "bind": "f"}, "purpose"),
        ({"purpose": "login", "bind": ""}, "bind"),
        ({"purpose": "login", "bind": "f", "ttl": 0}, "ttl"),
        ({"purpose": "login", "bind": "f", "ttl": 86400}, "ttl"),
    ],
)
def test_issue_refuses_bad_arguments(store: MemoryStore, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        issue_challenge(store, now=T0, **kwargs)


def test_concurrent_consumers_exactly_one_wins(store: MemoryStore) -> None:
    handle, challenge = issue_challenge(store, purpose="login", bind="f", now=T0)
    wins: list[bytes] = []
    losses: list[Exception] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        try:
            wins.append(consume_challenge(store, handle=handle, purpose="login", bind="f", now=T0))
        except (ChallengeReplayed, ChallengeUnknown) as exc:
            losses.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins == [challenge]
    assert len(losses) == 7


@pytest.mark.redis
def test_single_use_against_real_redis() -> None:
    store = RedisStore.from_url(
        "redis://127.0.0.1:6379/0", prefix=f"test-challenges-{secrets.token_hex(4)}:"
    )
    now = dt.datetime.now(dt.UTC)
    handle, challenge = issue_challenge(store, purpose="login", bind="f", ttl=5, now=now)
    assert consume_challenge(store, handle=handle, purpose="login", bind="f", now=now) == challenge
    with pytest.raises(ChallengeReplayed):
        consume_challenge(store, handle=handle, purpose="login", bind="f", now=now)
    store.delete("challenge:" + handle)

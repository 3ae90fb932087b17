"""Push challenges in the short-lived store (memory and Redis alike, through ``ephemeral``):
number matching, one outstanding per person, the first answer wins, expiry."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.factors.authenticator import push
from idp.factors.authenticator.errors import ChallengeGone, ChallengeNotYours, PushOutstanding
from idp.store.ephemeral import EphemeralStore

NOW = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
DEVICE = "device-0123456789ab"


def new(store: EphemeralStore, *, employee: str = "emp-1", browser: str = "browser-a",
        now: dt.datetime = NOW) -> tuple[push.PushChallenge, bool]:  # fmt: skip
    return push.create_challenge(store, employee_id=employee, device_id=DEVICE,
                                 relying_party="GitHub", ip="203.0.113.9", user_agent="UA",
                                 location="NL", browser=browser, now=now, ttl=120)  # fmt: skip


def answer(store: EphemeralStore, c: push.PushChallenge, number: int | None, *,
           approve: bool = True, now: dt.datetime = NOW) -> push.PushAnswer:  # fmt: skip
    return push.record_answer(store, c, device_id=DEVICE, approve=approve, number=number,
                              reason=None if approve else "declined", user_verified=True,
                              now=now)  # fmt: skip


def test_the_app_sees_three_distinct_numbers_one_of_them_the_pages(
    ephemeral: EphemeralStore,
) -> None:
    challenge, created = new(ephemeral)
    assert created and challenge.number in challenge.choices
    assert len(set(challenge.choices)) == 3 and all(10 <= n <= 99 for n in challenge.choices)
    shown = challenge.for_app()
    assert "number" not in shown and shown["location"] == "NL"
    assert push.outstanding(ephemeral, employee_id="emp-1", now=NOW) == challenge


def test_one_outstanding_per_person(ephemeral: EphemeralStore) -> None:
    first, _ = new(ephemeral)
    again, created = new(ephemeral)
    assert again == first and not created  # the same page reloaded
    with pytest.raises(PushOutstanding, match="already waiting"):
        new(ephemeral, browser="browser-b")
    new(ephemeral, employee="emp-2", browser="browser-b")  # someone else is not held up


def test_the_first_answer_wins_and_a_refusal_frees_the_person(ephemeral: EphemeralStore) -> None:
    challenge, _ = new(ephemeral)
    wrong = next(n for n in challenge.choices if n != challenge.number)
    assert answer(ephemeral, challenge, wrong).decision is push.Decision.WRONG_NUMBER
    with pytest.raises(ChallengeGone, match="already answered"):
        answer(ephemeral, challenge, challenge.number)
    assert push.outstanding(ephemeral, employee_id="emp-1", now=NOW) is None
    new(ephemeral, browser="browser-b")  # the wrong number no longer blocks a new request


def test_approved_is_consumed_once(ephemeral: EphemeralStore) -> None:
    challenge, _ = new(ephemeral)
    assert answer(ephemeral, challenge, challenge.number).decision is push.Decision.APPROVED
    assert push.consume(ephemeral, challenge)
    assert not push.consume(ephemeral, challenge)
    with pytest.raises(ChallengeGone):
        push.load_challenge(ephemeral, challenge.transaction_id)


def test_expired_and_foreign(ephemeral: EphemeralStore) -> None:
    challenge, _ = new(ephemeral)
    later = NOW + dt.timedelta(seconds=120)
    with pytest.raises(ChallengeGone, match="expired"):
        answer(ephemeral, challenge, challenge.number, now=later)
    assert push.outstanding(ephemeral, employee_id="emp-1", now=later) is None
    with pytest.raises(ChallengeNotYours):
        push.record_answer(
            ephemeral,
            challenge,
            device_id="other-device-000000",
            approve=False,
            number=None,
            reason="declined",
            user_verified=False,
            now=NOW,
        )
    with pytest.raises(ChallengeNotYours):
        push.check_browser(challenge, "browser-b")
    for bad in ("", "x" * 100, "../../etc"):
        with pytest.raises(ChallengeGone, match="malformed"):
            push.load_challenge(ephemeral, bad)

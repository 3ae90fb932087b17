"""The sliding-window rate count, over both short-lived stores."""

from __future__ import annotations

import datetime as dt

import pytest

from idp.store import rate
from idp.store.ephemeral import EphemeralStore

# 12:00:00 UTC: a whole number of minutes since the epoch, so window edges are easy to name.
MINUTE = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return MINUTE + dt.timedelta(seconds=seconds)


def test_counts_within_one_window(ephemeral: EphemeralStore) -> None:
    counts = [rate.count(ephemeral, "s", now=at(10)) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert rate.recent(ephemeral, "s", now=at(20)) == 3


def test_a_burst_before_the_minute_turns_still_counts_after_it(ephemeral: EphemeralStore) -> None:
    # A fixed window would start again from 1 at 12:01:00 and let a second burst through.
    for _ in range(10):
        rate.count(ephemeral, "s", now=at(59.5))
    assert rate.count(ephemeral, "s", now=at(60.5)) == pytest.approx(1 + 10 * (59.5 / 60))


def test_the_previous_window_fades_out_over_the_current_one(ephemeral: EphemeralStore) -> None:
    for _ in range(6):
        rate.count(ephemeral, "s", now=at(30))
    assert rate.recent(ephemeral, "s", now=at(90)) == pytest.approx(3)
    assert rate.recent(ephemeral, "s", now=at(119.9)) == pytest.approx(0.01, abs=1e-6)
    assert rate.recent(ephemeral, "s", now=at(120)) == 0


def test_recent_counts_nothing_and_scopes_are_apart(ephemeral: EphemeralStore) -> None:
    assert rate.recent(ephemeral, "a", now=at(5)) == 0
    assert rate.recent(ephemeral, "a", now=at(5)) == 0
    rate.count(ephemeral, "a", now=at(5))
    assert rate.recent(ephemeral, "b", now=at(5)) == 0
    assert rate.recent(ephemeral, "a", now=at(5)) == 1


def test_other_window_lengths(ephemeral: EphemeralStore) -> None:
    rate.count(ephemeral, "s", now=at(200), window=600)
    assert rate.recent(ephemeral, "s", now=at(700), window=600) == pytest.approx(1 - 100 / 600)

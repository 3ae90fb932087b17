"""Rate limits over the short-lived store: a sliding window, estimated from two fixed ones.

A plain fixed window (one counter per minute) lets twice the limit through around a minute's
turn and forgets a burst the moment the minute ends. Here the count is the current window's
counter plus the previous window's, weighted by how much of it still lies within the last
``window`` seconds — the usual two-counter estimate, which shares every instance's counters
through the store and costs one extra read.
"""

from __future__ import annotations

import datetime as dt

from idp.store.ephemeral.base import EphemeralStore


def count(store: EphemeralStore, scope: str, *, now: dt.datetime, window: int = 60) -> float:
    """Count one event in ``scope`` and return how many the last ``window`` seconds hold."""
    bucket, weight = _position(now, window)
    current = store.incr(f"rate:{scope}:{bucket}", ttl=2 * window)
    return current + weight * _stored(store, f"rate:{scope}:{bucket - 1}")


def recent(store: EphemeralStore, scope: str, *, now: dt.datetime, window: int = 60) -> float:
    """How many events the last ``window`` seconds hold in ``scope``, counting none."""
    bucket, weight = _position(now, window)
    return _stored(store, f"rate:{scope}:{bucket}") + weight * _stored(
        store, f"rate:{scope}:{bucket - 1}"
    )


def _position(now: dt.datetime, window: int) -> tuple[int, float]:
    seconds = now.timestamp()
    bucket = int(seconds // window)
    return bucket, 1.0 - (seconds - bucket * window) / window


def _stored(store: EphemeralStore, key: str) -> int:
    value = store.get(key)
    return int(value) if value is not None else 0

"""Entra's signing keys (issue 7 item 5), with threads against a real loopback JWKS server.

The server is the simulated Entra of ``tests.e2e.entra_sim``: it counts the requests it gets,
and can be slowed down (so that requests overlap) or made to fail (Entra unreachable). The
fetcher is the production one (:func:`idp.oidc.runtime.fetch_url`).
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from idp.oidc.entra_jwks import EntraJwks
from idp.oidc.errors import TemporarilyUnavailableError
from idp.oidc.runtime import fetch_url
from tests.e2e.entra_sim import EntraSim, serve_jwks

T0 = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
INTERVAL = 300
MAX_AGE = 3600


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def sim() -> Iterator[EntraSim]:
    simulated = EntraSim()
    with serve_jwks(simulated):
        yield simulated


def cache() -> EntraJwks:
    return EntraJwks(fetch=fetch_url, refresh_interval=INTERVAL, max_age=MAX_AGE)


def in_threads(count: int, work: Callable[[], object]) -> list[object]:
    """Run ``work`` in ``count`` threads started together; results (or exceptions) in a list."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except Exception as exc:  # the test inspects what each thread met
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def rotate(sim: EntraSim) -> str:
    sim.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sim.kid = secrets.token_hex(8)
    return sim.kid


def test_concurrent_first_lookups_make_one_fetch(sim: EntraSim) -> None:
    sim.delay = 0.3
    keys = cache()
    results = in_threads(8, lambda: keys.key(url=sim.jwks_url, kid=sim.kid, now=T0))
    assert all(getattr(r, "kid", None) == sim.kid for r in results), results
    assert sim.served == 1


def test_a_slow_fetch_holds_no_lock_over_other_urls() -> None:
    slow, fast = EntraSim(delay=1.5), EntraSim()
    with serve_jwks(slow), serve_jwks(fast):
        keys = cache()
        lookup = {"url": slow.jwks_url, "kid": slow.kid, "now": T0}
        waiting = threading.Thread(target=keys.key, kwargs=lookup)
        waiting.start()
        time.sleep(0.2)  # the slow fetch is under way
        started = time.monotonic()
        assert keys.key(url=fast.jwks_url, kid=fast.kid, now=T0) is not None
        assert time.monotonic() - started < 0.75
        waiting.join(timeout=10)
    assert (slow.served, fast.served) == (1, 1)


def test_unknown_kids_refetch_at_most_once_per_interval(sim: EntraSim) -> None:
    keys = cache()
    assert keys.key(url=sim.jwks_url, kid=sim.kid, now=T0) is not None
    made_up = [secrets.token_hex(8) for _ in range(20)]
    for kid in made_up[:10]:
        assert keys.key(url=sim.jwks_url, kid=kid, now=at(10)) is None
    concurrent = in_threads(10, lambda: keys.key(url=sim.jwks_url, kid=secrets.token_hex(8),
                                                 now=at(20)))  # fmt: skip
    assert concurrent == [None] * 10
    assert sim.served == 1, "no refetch within the interval, whatever kid a hint names"
    assert keys.key(url=sim.jwks_url, kid=made_up[10], now=at(INTERVAL)) is None
    assert sim.served == 2, "one refetch once the interval has passed"
    for kid in made_up[11:]:
        assert keys.key(url=sim.jwks_url, kid=kid, now=at(INTERVAL + 5)) is None
    assert sim.served == 2


def test_a_rotated_key_is_fetched_once_for_every_thread_that_needs_it(sim: EntraSim) -> None:
    keys = cache()
    old = sim.kid
    assert keys.key(url=sim.jwks_url, kid=old, now=T0) is not None
    new = rotate(sim)
    sim.delay = 0.3
    results = in_threads(6, lambda: keys.key(url=sim.jwks_url, kid=new, now=at(INTERVAL)))
    assert all(getattr(r, "kid", None) == new for r in results), results
    assert sim.served == 2


def test_a_known_kid_does_not_wait_for_a_refresh_under_way(sim: EntraSim) -> None:
    keys = cache()
    assert keys.key(url=sim.jwks_url, kid=sim.kid, now=T0) is not None
    sim.delay = 1.5
    lookup = {"url": sim.jwks_url, "kid": sim.kid, "now": at(INTERVAL)}
    refresh = threading.Thread(target=keys.key, kwargs=lookup)
    refresh.start()
    time.sleep(0.2)
    started = time.monotonic()
    assert keys.key(url=sim.jwks_url, kid=sim.kid, now=at(INTERVAL + 1)) is not None
    assert time.monotonic() - started < 0.75
    refresh.join(timeout=10)
    assert sim.served == 2


def test_a_failure_is_cached_briefly_and_shared(sim: EntraSim) -> None:
    sim.failing, sim.delay = True, 0.3
    keys = EntraJwks(fetch=fetch_url, refresh_interval=0, max_age=MAX_AGE)
    results = in_threads(6, lambda: keys.key(url=sim.jwks_url, kid=sim.kid, now=T0))
    assert all(isinstance(r, TemporarilyUnavailableError) for r in results), results
    assert sim.served == 1
    with pytest.raises(TemporarilyUnavailableError, match="HTTPError"):
        keys.key(url=sim.jwks_url, kid=sim.kid, now=at(EntraJwks.FAILURE_RETRY - 1))
    assert sim.served == 1, "a failure stands for FAILURE_RETRY seconds, even with interval 0"
    sim.failing = False
    assert keys.key(url=sim.jwks_url, kid=sim.kid, now=at(EntraJwks.FAILURE_RETRY)) is not None
    assert sim.served == 2


def test_the_last_good_keys_serve_while_entra_is_unreachable_up_to_max_age(
    sim: EntraSim,
) -> None:
    keys = cache()
    assert keys.key(url=sim.jwks_url, kid=sim.kid, now=T0) is not None
    sim.failing = True
    # Due for a refresh: the attempt fails, the keys we have still serve.
    assert keys.key(url=sim.jwks_url, kid=sim.kid, now=at(INTERVAL)) is not None
    assert sim.served == 2
    assert keys.key(url=sim.jwks_url, kid=sim.kid, now=at(INTERVAL + 10)) is not None
    assert sim.served == 2, "no new attempt while the failure stands"
    with pytest.raises(TemporarilyUnavailableError, match="cannot load Entra's signing keys"):
        keys.key(url=sim.jwks_url, kid=sim.kid, now=at(MAX_AGE + 1))
    assert sim.served == 3
    sim.failing = False
    assert keys.key(url=sim.jwks_url, kid=sim.kid, now=at(MAX_AGE + INTERVAL + 2)) is not None
    assert sim.served == 4

"""Entra's signing keys (the JWKS of each Entra cloud) for checking EAM hints.

The module does no IO itself: the runtime passes ``fetch(url) -> bytes`` (an HTTP GET with a
timeout and a size bound, :func:`idp.oidc.runtime.fetch_url`).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from idp.oidc.errors import TemporarilyUnavailableError


class _FetchFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _KeyCache:
    """One JWKS URL's state; read and written under :class:`EntraJwks`'s lock only."""

    keys: dict[str, RSAKey] | None = None
    fetched_at: float | None = None  # the last good fetch
    attempted_at: float | None = None  # the last fetch, good or not
    failure: str | None = None  # why the last fetch failed, while it stands
    flight: threading.Event | None = None  # set when the fetch under way ends


class EntraJwks:
    """Entra's signing keys per cloud: one fetch at a time per URL, outside any lock.

    ``fetch(url) -> bytes`` does the IO (the runtime passes an HTTP GET with a timeout).

    - Keys are refetched when a hint names a ``kid`` we do not have, or when they are older
      than ``refresh_interval`` — but a URL is fetched at most once per ``refresh_interval``
      (once per ``max(refresh_interval, FAILURE_RETRY)`` after a failure), so hints with
      made-up ``kid`` values cannot turn us into a request amplifier.
    - Single flight: of the threads that want a fetch of one URL, one does it; the others
      wait for its result when they need it (an unknown ``kid``, no keys yet) and otherwise
      go on with the keys they have.
    - While Entra is unreachable, the last good keys keep serving until ``max_age`` seconds
      after they were fetched; after that, or with no keys ever fetched, hints are refused
      with ``temporarily_unavailable`` (the cached failure, without a new fetch).
    """

    #: seconds a failed fetch stands before the next attempt
    FAILURE_RETRY = 30
    #: seconds a thread waits for another's fetch (beyond the fetch's own timeout)
    WAIT = 10.0

    def __init__(
        self,
        *,
        fetch: Callable[[str], bytes],
        refresh_interval: int = 300,
        max_age: int = 86400,
    ) -> None:
        self._fetch = fetch
        self._refresh_interval = refresh_interval
        self._max_age = max_age
        self._caches: dict[str, _KeyCache] = {}
        self._lock = threading.Lock()

    def key(self, *, url: str, kid: str, now: dt.datetime) -> RSAKey | None:
        """The key named ``kid`` at ``url``, or None when Entra does not publish it."""
        stamp = now.timestamp()
        with self._lock:
            cache = self._caches.setdefault(url, _KeyCache())
            usable = self._usable(cache, stamp)
            if not self._wants_fetch(cache, usable, kid, stamp):
                return self._answer(cache, usable, kid, url)
            leader = cache.flight is None
            if cache.flight is None:
                flight = cache.flight = threading.Event()
                cache.attempted_at = stamp
            else:
                flight = cache.flight
        if leader:
            self._run_fetch(url, cache, flight, stamp)
        elif usable is not None and kid in usable:
            return usable[kid]  # the refresh under way cannot make a known key better
        else:
            flight.wait(self.WAIT)
        with self._lock:
            return self._answer(cache, self._usable(cache, stamp), kid, url)

    def _usable(self, cache: _KeyCache, stamp: float) -> dict[str, RSAKey] | None:
        if cache.fetched_at is None or stamp - cache.fetched_at > self._max_age:
            return None
        return cache.keys

    def _wants_fetch(
        self, cache: _KeyCache, usable: dict[str, RSAKey] | None, kid: str, stamp: float
    ) -> bool:
        if cache.flight is not None:
            return True  # join the fetch under way
        if cache.attempted_at is not None:
            pause = self._refresh_interval
            if cache.failure is not None:
                pause = max(pause, self.FAILURE_RETRY)
            if stamp - cache.attempted_at < pause:
                return False
        if usable is None or kid not in usable or cache.fetched_at is None:
            return True
        return stamp - cache.fetched_at >= self._refresh_interval

    def _answer(
        self, cache: _KeyCache, usable: dict[str, RSAKey] | None, kid: str, url: str
    ) -> RSAKey | None:
        if usable is not None:
            return usable.get(kid)
        reason = cache.failure or "no keys were fetched yet"
        raise TemporarilyUnavailableError(f"cannot load Entra's signing keys from {url}: {reason}")

    def _run_fetch(self, url: str, cache: _KeyCache, flight: threading.Event, stamp: float) -> None:
        keys: dict[str, RSAKey] | None = None
        failure: str | None = None
        try:
            keys = self._load(url)
        except _FetchFailed as exc:
            failure = exc.reason
        finally:
            with self._lock:
                if keys is not None:
                    cache.keys, cache.fetched_at, cache.failure = keys, stamp, None
                elif failure is not None:
                    cache.failure = failure
                cache.flight = None
            flight.set()

    def _load(self, url: str) -> dict[str, RSAKey]:
        try:
            raw = self._fetch(url)
            document = json.loads(raw)
            if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
                raise ValueError("not a JWK set")
            key_set = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (OSError, ValueError, JoseError, TypeError, KeyError, RecursionError) as exc:
            raise _FetchFailed(type(exc).__name__) from None
        return {k.kid: k for k in key_set.keys if isinstance(k, RSAKey) and k.kid}

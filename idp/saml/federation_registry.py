"""The SAML service providers the IdP serves: local ones, federation aggregates and MDQ.

:class:`ServiceProviderRegistry` is a read-only ``Mapping[str, ServiceProvider]`` so that the
request-path code that took the plain dict (``.get``, ``in``, ``.values()``) takes it
unchanged. Lookup order: a locally configured SP, then each aggregate in configuration order,
then the MDQ server. Aggregates are refreshed by one daemon thread
(:class:`FederationRefresher`); a refresh that fails keeps the last good copy in service —
until that copy's own ``validUntil`` — and says so in the log and in
:meth:`ServiceProviderRegistry.status`.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass

from idp.config.saml_model import (
    AggregateSource,
    FederationDefaults,
    MdqSource,
    ServiceProvider,
)
from idp.saml import mdq
from idp.saml.federation import MetadataRejected, service_provider, verify_metadata
from idp.saml.federation_fetch import fetch_url, read_file

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
#: a failed refresh is tried again this soon, or at the normal interval if that is sooner
RETRY_AFTER_FAILURE = dt.timedelta(minutes=5)
#: the shortest refresh a short ``cacheDuration`` can ask for
MIN_REFRESH = dt.timedelta(minutes=1)
#: SAML metadata §2.3.2 limits entityID to 1024 characters; longer ones are never queried
MAX_ENTITY_ID = 1024


@dataclass(frozen=True)
class SourceStatus:
    """What an admin needs to see about one metadata source."""

    name: str
    kind: str  # "aggregate" or "mdq"
    location: str
    ok: bool
    message: str
    service_providers: int
    valid_until: dt.datetime | None = None
    loaded_at: dt.datetime | None = None

    def line(self) -> str:
        state = "OK" if self.ok else "FAILING"
        return f"{self.kind} {self.name} ({self.location}): {state}: {self.message}"


@dataclass(frozen=True)
class _Snapshot:
    providers: Mapping[str, ServiceProvider]
    valid_until: dt.datetime | None
    loaded_at: dt.datetime
    skipped: int


class AggregateFeed:
    """One signed aggregate: the last good copy, and what the last attempt said."""

    def __init__(
        self, source: AggregateSource, *, defaults: FederationDefaults, clock: Clock
    ) -> None:
        self.source = source
        self.defaults = defaults
        self.clock = clock
        self.next_due = clock()
        self._snapshot: _Snapshot | None = None
        self._error: str | None = "not loaded yet"

    def refresh(self) -> SourceStatus:
        now = self.clock()
        try:
            snapshot, cache_duration = self._load(now)
        except MetadataRejected as exc:
            self._error = exc.description
            self.next_due = now + min(self.source.refresh, RETRY_AFTER_FAILURE)
            log.warning(
                "federation metadata %r refused: %s; %s",
                self.source.name,
                exc.description,
                self._keeping(now),
            )
            return self.status()
        self._snapshot, self._error = snapshot, None
        interval = self.source.refresh
        if cache_duration is not None:
            interval = max(MIN_REFRESH, min(interval, cache_duration))
        self.next_due = now + interval
        log.info(
            "federation metadata %r loaded: %d SPs, %d refused, valid until %s",
            self.source.name,
            len(snapshot.providers),
            snapshot.skipped,
            snapshot.valid_until.isoformat() if snapshot.valid_until else "(not given)",
        )
        return self.status()

    def providers(self) -> Mapping[str, ServiceProvider]:
        snapshot = self._snapshot
        if snapshot is None or _expired(snapshot, self.clock()):
            return {}
        return snapshot.providers

    def status(self) -> SourceStatus:
        now, snapshot = self.clock(), self._snapshot
        usable = snapshot is not None and not _expired(snapshot, now)
        if self._error is None and usable and snapshot is not None:
            message = f"{len(snapshot.providers)} SPs ({snapshot.skipped} refused)"
        else:
            message = f"{self._error or 'the loaded copy has expired'}; {self._keeping(now)}"
        return SourceStatus(
            name=self.source.name,
            kind="aggregate",
            location=self.source.location,
            ok=self._error is None and usable,
            message=message,
            service_providers=len(snapshot.providers) if usable and snapshot else 0,
            valid_until=snapshot.valid_until if snapshot else None,
            loaded_at=snapshot.loaded_at if snapshot else None,
        )

    def _keeping(self, now: dt.datetime) -> str:
        snapshot = self._snapshot
        if snapshot is None:
            return "no SPs from it are available until a good copy loads"
        if _expired(snapshot, now):
            return (
                f"the copy loaded at {snapshot.loaded_at.isoformat()} expired at "
                f"{snapshot.valid_until.isoformat() if snapshot.valid_until else '?'}: "
                "its SPs are not served"
            )
        return (
            f"keeping the copy loaded at {snapshot.loaded_at.isoformat()} "
            f"({len(snapshot.providers)} SPs)"
        )

    def _load(self, now: dt.datetime) -> tuple[_Snapshot, dt.timedelta | None]:
        source = self.source
        if source.url is not None:
            fetched = fetch_url(
                source.url,
                timeout=source.timeout_seconds,
                max_bytes=source.max_bytes,
                accept=mdq.MEDIA_TYPE,
            )
            if fetched.body is None:
                raise MetadataRejected(f"{source.url}: HTTP 404 Not Found")
            xml = fetched.body
        else:
            assert source.path is not None  # the config parser requires url or file
            xml = read_file(source.path, max_bytes=source.max_bytes)
        verified = verify_metadata(
            xml=xml,
            expected_signing_certs=source.signing_certs,
            now=now,
            max_bytes=source.max_bytes,
            require_valid_until=source.require_valid_until,
            selection=source.filter,
            what=f"aggregate {source.name!r}",
        )
        providers: dict[str, ServiceProvider] = {}
        skipped = len(verified.skipped)
        for entity in verified.entities:
            try:
                providers[entity.entity_id] = service_provider(entity, self.defaults)
            except MetadataRejected as exc:
                log.info("federation %r: entity refused: %s", source.name, exc.description)
                skipped += 1
        for item in verified.skipped:
            log.info(
                "federation %r: entity %r refused: %s", source.name, item.entity_id, item.reason
            )
        snapshot = _Snapshot(providers, verified.valid_until, now, skipped)
        return snapshot, verified.cache_duration


def _expired(snapshot: _Snapshot, now: dt.datetime) -> bool:
    return snapshot.valid_until is not None and snapshot.valid_until <= now


class MdqFeed:
    """Entities fetched one at a time from an MDQ server, cached (bounded, LRU)."""

    def __init__(self, source: MdqSource, *, defaults: FederationDefaults, clock: Clock) -> None:
        self.source = source
        self.defaults = defaults
        self.clock = clock
        self.queries = 0
        self.hits = 0
        self._cache: OrderedDict[str, tuple[ServiceProvider | None, dt.datetime]] = OrderedDict()
        self._lock = threading.Lock()
        self._last_error: str | None = None

    def lookup(self, entity_id: str) -> ServiceProvider | None:
        now = self.clock()
        with self._lock:
            cached = self._cache.get(entity_id)
            if cached is not None and cached[1] > now:
                self._cache.move_to_end(entity_id)
                self.hits += 1
                return cached[0]
        ids = self.source.filter.entity_ids
        if len(entity_id) > MAX_ENTITY_ID or (ids and entity_id not in ids):
            return None
        found, until = self._query(entity_id, now)
        with self._lock:
            self._cache[entity_id] = (found, until)
            self._cache.move_to_end(entity_id)
            while len(self._cache) > self.source.max_entries:
                self._cache.popitem(last=False)
        return found

    def status(self) -> SourceStatus:
        with self._lock:
            now = self.clock()
            live = [sp for sp, until in self._cache.values() if until > now]
        known = sum(1 for sp in live if sp is not None)
        message = (
            f"{known} SPs cached, {len(live) - known} unknown ids cached; "
            f"{self.queries} queries, {self.hits} cache hits"
        )
        if self._last_error is not None:
            message += f"; last failure: {self._last_error}"
        return SourceStatus(
            name="mdq",
            kind="mdq",
            location=self.source.base_url,
            ok=self._last_error is None,
            message=message,
            service_providers=known,
        )

    def _query(
        self, entity_id: str, now: dt.datetime
    ) -> tuple[ServiceProvider | None, dt.datetime]:
        source = self.source
        url = mdq.entity_url(source.base_url, entity_id)
        self.queries += 1
        negative = now + source.negative_cache
        try:
            fetched = fetch_url(
                url,
                timeout=source.timeout_seconds,
                max_bytes=source.max_bytes,
                accept=mdq.MEDIA_TYPE,
            )
            if fetched.body is None:
                return None, negative
            answer = mdq.read_answer(
                xml=fetched.body,
                expected_entity_id=entity_id,
                expected_signing_certs=source.signing_certs,
                now=now,
                max_bytes=source.max_bytes,
                max_cache=source.max_cache,
                require_valid_until=source.require_valid_until,
                selection=source.filter,
                what=url,
            )
            if answer.entity is None:
                return None, negative
            found = service_provider(answer.entity, self.defaults)
        except MetadataRejected as exc:
            self._last_error = exc.description
            log.warning("MDQ answer for %r refused: %s", entity_id, exc.description)
            return None, negative
        self._last_error = None
        return found, answer.expires_at


class ServiceProviderRegistry(Mapping[str, ServiceProvider]):
    """Local SPs first, then aggregates in order, then MDQ (which cannot be listed: iterating
    gives the local and aggregate SPs only)."""

    def __init__(
        self,
        local: Mapping[str, ServiceProvider],
        *,
        aggregates: Sequence[AggregateFeed] = (),
        mdq_feed: MdqFeed | None = None,
    ) -> None:
        self.local = local
        self.aggregates = tuple(aggregates)
        self.mdq = mdq_feed

    def __getitem__(self, entity_id: str) -> ServiceProvider:
        found = self.local.get(entity_id)
        for feed in self.aggregates:
            if found is not None:
                break
            found = feed.providers().get(entity_id)
        if found is None and self.mdq is not None:
            found = self.mdq.lookup(entity_id)
        if found is None:
            raise KeyError(entity_id)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._listed())

    def __len__(self) -> int:
        return len(self._listed())

    def values(self) -> ValuesView[ServiceProvider]:
        # One consistent view: a refresh between iterating the keys and reading each value
        # must not make a listed SP vanish half-way.
        return ValuesView(self._listed())

    def status(self) -> tuple[SourceStatus, ...]:
        statuses = [feed.status() for feed in self.aggregates]
        if self.mdq is not None:
            statuses.append(self.mdq.status())
        return tuple(statuses)

    def describe(self) -> str:
        parts = [f"{len(self.local)} local SPs"]
        parts += [status.line() for status in self.status()]
        return "; ".join(parts)

    def _listed(self) -> dict[str, ServiceProvider]:
        listed = dict(self.local)
        for feed in self.aggregates:
            for entity_id, sp in feed.providers().items():
                listed.setdefault(entity_id, sp)
        return listed


class FederationRefresher:
    """One daemon thread that refreshes every aggregate when it is due (never per request)."""

    def __init__(self, feeds: Sequence[AggregateFeed], *, clock: Clock) -> None:
        self.feeds = tuple(feeds)
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="saml-federation-refresh", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self, *, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            for feed in self.feeds:
                if feed.next_due <= self.clock() and not self._stop.is_set():
                    self._refresh(feed)
            soonest = min(feed.next_due for feed in self.feeds)
            wait = (soonest - self.clock()).total_seconds()
            # Bounded both ways: no busy loop, and a clock change is noticed within minutes.
            self._stop.wait(min(max(wait, 0.05), 300.0))

    def _refresh(self, feed: AggregateFeed) -> None:
        try:
            feed.refresh()
        except Exception:
            # A bug in one refresh must not end the thread: every later refresh would stop
            # and the aggregates would silently age out. The last good copy stays in service.
            log.exception("federation metadata %r: refresh failed", feed.source.name)
            feed.next_due = self.clock() + RETRY_AFTER_FAILURE

"""Aggregates and MDQ over a real HTTP server on loopback, behind the SP registry."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pytest

from idp.config.saml_model import (
    AggregateSource,
    Endpoint,
    FederationDefaults,
    MdqSource,
    MetadataFilter,
    NameIdRule,
    ServiceProvider,
)
from idp.keys import SigningKey
from idp.saml import constants as c
from idp.saml.federation import MetadataFetchFailed, MetadataTooLarge
from idp.saml.federation_fetch import fetch_url
from idp.saml.federation_registry import (
    AggregateFeed,
    FederationRefresher,
    MdqFeed,
    ServiceProviderRegistry,
)
from idp.saml.mdq import MEDIA_TYPE
from tests.conftest import KeyMaker
from tests.idp.saml.federation_support import (
    MetadataServer,
    aggregate,
    metadata_server,
    sign,
    single,
    sp_entity,
)

A, B, C = "https://a.example.org/sp", "https://b.example.org/sp", "https://c.example.org/sp"
DEFAULTS = FederationDefaults()


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


@pytest.fixture(scope="module")
def fed_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("federation")


@pytest.fixture(scope="module")
def rogue_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("rogue-federation")


@pytest.fixture
def server() -> Iterator[MetadataServer]:
    with metadata_server() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


def signed_aggregate(key: SigningKey, clock: Clock, *entity_ids: str, days: float = 7) -> bytes:
    valid_until = clock.now + dt.timedelta(days=days)
    return sign(aggregate([sp_entity(e) for e in entity_ids], valid_until=valid_until), key)


def feed_for(
    server: MetadataServer, key: SigningKey, clock: Clock, **kwargs: object
) -> AggregateFeed:
    source = AggregateSource(
        name="testfed",
        url=f"{server.base_url}/md.xml",
        signing_certs=(key.cert_pem,),
        timeout_seconds=5,
    )
    return AggregateFeed(replace(source, **kwargs), defaults=DEFAULTS, clock=clock)


def local_sp(entity_id: str) -> ServiceProvider:
    return ServiceProvider(
        name="local",
        entity_id=entity_id,
        profile="generic",
        acs=(Endpoint(c.BINDING_POST, "https://local.example.com/acs", 0, True),),
        slo=(),
        signing_certs=(),
        want_authn_requests_signed=False,
        sign_response=True,
        sign_assertion=True,
        name_id=NameIdRule(c.NAMEID_PERSISTENT, "pairwise"),
        attributes=(),
    )


def test_aggregate_from_url_serves_its_sps_and_a_local_sp_wins(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    server.set("/md.xml", signed_aggregate(fed_key, clock, A, B))
    feed = feed_for(server, fed_key, clock)
    status = feed.refresh()
    assert status.ok and status.service_providers == 2
    registry = ServiceProviderRegistry({B: local_sp(B)}, aggregates=[feed])
    sp_a = registry.get(A)
    assert sp_a is not None and sp_a.acs[0].url == f"{A}/acs"
    assert registry[B].name == "local"  # the local file wins over the federation's entry
    assert A in registry and C not in registry and registry.get(C) is None
    assert sorted(registry) == [A, B] and len(registry) == 2
    assert {sp.name for sp in registry.values()} == {A, "local"}
    assert server.headers[0]["Accept"] == MEDIA_TYPE


def test_refresh_picks_up_a_new_sp_without_restart(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    server.set("/md.xml", signed_aggregate(fed_key, clock, A))
    feed = feed_for(server, fed_key, clock)
    feed.refresh()
    registry = ServiceProviderRegistry({}, aggregates=[feed])
    assert C not in registry
    server.set("/md.xml", signed_aggregate(fed_key, clock, A, C))
    feed.refresh()
    assert C in registry and A in registry


def test_the_refresher_thread_refreshes_when_due_and_stops(
    server: MetadataServer, fed_key: SigningKey
) -> None:
    real_clock = Clock()
    real_clock.now = dt.datetime.now(dt.UTC)
    server.set("/md.xml", signed_aggregate(fed_key, real_clock, A))
    feed = AggregateFeed(
        AggregateSource(
            name="testfed",
            url=f"{server.base_url}/md.xml",
            signing_certs=(fed_key.cert_pem,),
            refresh=dt.timedelta(seconds=0.2),
        ),
        defaults=DEFAULTS,
        clock=lambda: dt.datetime.now(dt.UTC),
    )
    feed.refresh()
    registry = ServiceProviderRegistry({}, aggregates=[feed])
    refresher = FederationRefresher([feed], clock=lambda: dt.datetime.now(dt.UTC))
    refresher.start()
    try:
        server.set("/md.xml", signed_aggregate(fed_key, real_clock, A, C))
        deadline = time.monotonic() + 10
        while C not in registry and time.monotonic() < deadline:
            time.sleep(0.05)
        assert C in registry
    finally:
        refresher.stop()
    assert not refresher.running
    fetched = server.count("/md.xml")
    time.sleep(0.5)
    assert server.count("/md.xml") == fetched  # stopped means no more fetches


@pytest.mark.parametrize(
    "breakage",
    ["unsigned", "wrong-key", "expired", "http-500", "oversized", "not-xml", "gone"],
)
def test_bad_refresh_keeps_the_last_good_copy_and_says_so(
    server: MetadataServer,
    fed_key: SigningKey,
    rogue_key: SigningKey,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    breakage: str,
) -> None:
    server.set("/md.xml", signed_aggregate(fed_key, clock, A))
    feed = feed_for(server, fed_key, clock, max_bytes=64 * 1024)
    feed.refresh()
    registry = ServiceProviderRegistry({}, aggregates=[feed])
    valid = clock.now + dt.timedelta(days=7)
    bad = {
        "unsigned": (200, aggregate([sp_entity(A), sp_entity(C)], valid_until=valid)),
        "wrong-key": (200, signed_aggregate(rogue_key, clock, A, C)),
        "expired": (200, signed_aggregate(fed_key, clock, A, C, days=-1)),
        "http-500": (500, b"oops"),
        "oversized": (200, b"<x>" + b" " * 70_000 + b"</x>"),
        "not-xml": (200, b"\x00\x01 not xml"),
        "gone": (404, b""),
    }[breakage]
    server.set("/md.xml", bad[1], status=bad[0])
    with caplog.at_level(logging.WARNING, logger="idp.saml.federation_registry"):
        status = feed.refresh()
    assert not status.ok
    assert "keeping the copy loaded at" in status.message
    assert A in registry and C not in registry
    assert any("refused" in r.getMessage() and "testfed" in r.getMessage() for r in caplog.records)
    assert "FAILING" in registry.describe()
    # Fixed upstream: the next refresh recovers.
    server.set("/md.xml", signed_aggregate(fed_key, clock, A, C))
    assert feed.refresh().ok and C in registry


def test_first_load_failure_serves_nothing_and_retries_sooner(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    feed = feed_for(server, fed_key, clock, refresh=dt.timedelta(hours=6))
    status = feed.refresh()  # nothing served at /md.xml yet
    assert not status.ok and "no SPs from it are available" in status.message
    assert feed.next_due == clock.now + dt.timedelta(minutes=5)
    assert ServiceProviderRegistry({}, aggregates=[feed]).get(A) is None


def test_last_good_copy_is_not_served_past_its_valid_until(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    server.set("/md.xml", signed_aggregate(fed_key, clock, A, days=1))
    feed = feed_for(server, fed_key, clock)
    feed.refresh()
    registry = ServiceProviderRegistry({}, aggregates=[feed])
    assert A in registry
    server.set("/md.xml", b"broken", status=500)
    clock.advance(days=1, seconds=1)
    feed.refresh()
    assert A not in registry and len(registry) == 0
    status = feed.status()
    assert not status.ok and "its SPs are not served" in status.message


def test_short_cache_duration_brings_the_next_refresh_forward(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    xml = sign(
        aggregate([sp_entity(A)], valid_until=clock.now + dt.timedelta(days=1),
                  cache_duration="PT10M"),
        fed_key,
    )  # fmt: skip
    server.set("/md.xml", xml)
    feed = feed_for(server, fed_key, clock)
    feed.refresh()
    assert feed.next_due == clock.now + dt.timedelta(minutes=10)


def test_aggregate_from_a_file(tmp_path: Path, fed_key: SigningKey, clock: Clock) -> None:
    path = tmp_path / "federation.xml"
    path.write_bytes(signed_aggregate(fed_key, clock, A))
    feed = AggregateFeed(
        AggregateSource(name="filefed", path=path, signing_certs=(fed_key.cert_pem,)),
        defaults=DEFAULTS,
        clock=clock,
    )
    assert feed.refresh().ok and A in feed.providers()
    path.unlink()
    status = feed.refresh()
    assert not status.ok and "cannot read" in status.message and A in feed.providers()


def test_aggregate_filter_applies(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    server.set("/md.xml", signed_aggregate(fed_key, clock, A, B, C))
    feed = feed_for(server, fed_key, clock, filter=MetadataFilter(entity_ids=frozenset({B})))
    feed.refresh()
    assert list(feed.providers()) == [B]


# -- MDQ --------------------------------------------------------------------------------------


def mdq_path(entity_id: str) -> str:
    return f"/mdq/entities/{quote(entity_id, safe='')}"


def mdq_feed(server: MetadataServer, key: SigningKey, clock: Clock, **kwargs: object) -> MdqFeed:
    source = MdqSource(base_url=f"{server.base_url}/mdq", signing_certs=(key.cert_pem,))
    return MdqFeed(replace(source, **kwargs), defaults=DEFAULTS, clock=clock)


def mdq_answer(key: SigningKey, clock: Clock, entity_id: str, **kwargs: object) -> bytes:
    until = clock.now + dt.timedelta(days=1)
    return sign(single(sp_entity(entity_id, **kwargs), valid_until=until), key)  # type: ignore[arg-type]


def test_mdq_miss_then_hit_then_expiry(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    server.set(mdq_path(A), mdq_answer(fed_key, clock, A))
    feed = mdq_feed(server, fed_key, clock, max_cache=dt.timedelta(minutes=30))
    registry = ServiceProviderRegistry({}, mdq_feed=feed)
    first = registry.get(A)
    assert first is not None and first.acs[0].url == f"{A}/acs"
    assert registry.get(A) == first and A in registry
    assert server.count(mdq_path(A)) == 1  # two cache hits
    assert list(registry) == []  # MDQ entities are not listed
    clock.advance(minutes=31)
    assert registry.get(A) is not None
    assert server.count(mdq_path(A)) == 2
    status = feed.status()
    assert status.ok and "1 SPs cached" in status.message and "2 queries" in status.message


def test_mdq_unknown_entity_is_negatively_cached_briefly(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    feed = mdq_feed(server, fed_key, clock, negative_cache=dt.timedelta(seconds=60))
    registry = ServiceProviderRegistry({}, mdq_feed=feed)
    assert registry.get(B) is None and B not in registry
    assert server.count(mdq_path(B)) == 1
    server.set(mdq_path(B), mdq_answer(fed_key, clock, B))
    assert registry.get(B) is None  # still inside the negative TTL
    clock.advance(seconds=61)
    assert registry.get(B) is not None
    assert server.count(mdq_path(B)) == 2


@pytest.mark.parametrize("breakage", ["wrong-key", "other-entity", "http-500", "unsigned"])
def test_mdq_bad_answer_is_refused_and_negatively_cached(
    server: MetadataServer,
    fed_key: SigningKey,
    rogue_key: SigningKey,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    breakage: str,
) -> None:
    until = clock.now + dt.timedelta(days=1)
    status, body = {
        "wrong-key": (200, mdq_answer(rogue_key, clock, A)),
        "other-entity": (200, mdq_answer(fed_key, clock, "https://evil.example.net/sp")),
        "http-500": (500, b"down"),
        "unsigned": (200, single(sp_entity(A), valid_until=until)),
    }[breakage]
    server.set(mdq_path(A), body, status=status)
    feed = mdq_feed(server, fed_key, clock)
    registry = ServiceProviderRegistry({}, mdq_feed=feed)
    with caplog.at_level(logging.WARNING, logger="idp.saml.federation_registry"):
        assert registry.get(A) is None
    assert any("MDQ answer" in r.getMessage() for r in caplog.records)
    assert registry.get(A) is None and server.count(mdq_path(A)) == 1
    assert not feed.status().ok and "last failure" in feed.status().message


def test_mdq_is_asked_only_when_local_and_aggregates_do_not_know_the_sp(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    server.set("/md.xml", signed_aggregate(fed_key, clock, A))
    aggregate_feed = feed_for(server, fed_key, clock)
    aggregate_feed.refresh()
    server.set(mdq_path(C), mdq_answer(fed_key, clock, C))
    registry = ServiceProviderRegistry(
        {B: local_sp(B)}, aggregates=[aggregate_feed], mdq_feed=mdq_feed(server, fed_key, clock)
    )
    assert registry[B].name == "local" and registry[A].name == A and registry[C].name == C
    assert server.count(mdq_path(A)) == 0 and server.count(mdq_path(B)) == 0


def test_mdq_entity_id_filter_and_length_limit_avoid_queries(
    server: MetadataServer, fed_key: SigningKey, clock: Clock
) -> None:
    feed = mdq_feed(server, fed_key, clock, filter=MetadataFilter(entity_ids=frozenset({A})))
    registry = ServiceProviderRegistry({}, mdq_feed=feed)
    assert registry.get(B) is None
    assert registry.get("https://x.example.org/" + "a" * 2000) is None
    assert [p for p in server.requests if p.startswith("/mdq/")] == []


def test_mdq_cache_is_bounded(server: MetadataServer, fed_key: SigningKey, clock: Clock) -> None:
    feed = mdq_feed(server, fed_key, clock, max_entries=10)
    for i in range(25):
        feed.lookup(f"https://sp{i}.example.org/sp")
    assert "10 unknown ids cached" in feed.status().message


# -- fetching ---------------------------------------------------------------------------------


def test_fetch_refuses_plain_http_to_another_host() -> None:
    with pytest.raises(MetadataFetchFailed, match="only https"):
        fetch_url("http://mds.example.org/md.xml", timeout=1, max_bytes=1024, accept=MEDIA_TYPE)


def test_fetch_refuses_a_redirect_to_plain_http_elsewhere(server: MetadataServer) -> None:
    server.set("/md.xml", b"http://mds.example.org/md.xml", status=302)
    with pytest.raises(MetadataFetchFailed, match="redirected to a refused URL"):
        fetch_url(f"{server.base_url}/md.xml", timeout=5, max_bytes=1024, accept=MEDIA_TYPE)


def test_fetch_follows_an_allowed_redirect(server: MetadataServer) -> None:
    server.set("/old.xml", f"{server.base_url}/new.xml".encode(), status=301)
    server.set("/new.xml", b"<new/>")
    fetched = fetch_url(f"{server.base_url}/old.xml", timeout=5, max_bytes=1024, accept=MEDIA_TYPE)
    assert fetched.body == b"<new/>"


def test_fetch_stops_reading_at_the_size_limit(server: MetadataServer) -> None:
    server.set("/big.xml", b"x" * 300_000)
    with pytest.raises(MetadataTooLarge, match="larger than the limit of 100000"):
        fetch_url(f"{server.base_url}/big.xml", timeout=5, max_bytes=100_000, accept=MEDIA_TYPE)


def test_fetch_of_a_closed_port_fails_cleanly() -> None:
    with metadata_server() as gone:
        url = f"{gone.base_url}/md.xml"
    with pytest.raises(MetadataFetchFailed, match=r"127\.0\.0\.1"):
        fetch_url(url, timeout=2, max_bytes=1024, accept=MEDIA_TYPE)


def test_the_refresher_survives_an_unexpected_error_in_a_refresh(
    server: MetadataServer,
    fed_key: SigningKey,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    feed = feed_for(server, fed_key, clock)

    def broken() -> None:
        raise RuntimeError("a bug, not a metadata problem")

    monkeypatch.setattr(feed, "refresh", broken)
    refresher = FederationRefresher([feed], clock=clock)
    with caplog.at_level(logging.ERROR, logger="idp.saml.federation_registry"):
        refresher.start()
        deadline = time.monotonic() + 5
        while feed.next_due <= clock.now and time.monotonic() < deadline:
            time.sleep(0.02)
        assert refresher.running  # the thread is still there for the next refresh
        refresher.stop()
    assert feed.next_due == clock.now + dt.timedelta(minutes=5)
    assert any("refresh failed" in r.getMessage() for r in caplog.records)

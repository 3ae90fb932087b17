"""Everything SAML needs on request paths, built once at start (``idp.protocols`` contract)."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from idp.config.saml import IdpSamlSettings, SamlConfig
from idp.keys import KeySet
from idp.saml.federation_registry import (
    AggregateFeed,
    FederationRefresher,
    MdqFeed,
    ServiceProviderRegistry,
)
from idp.saml.inbound import ReplayCache
from idp.saml.metadata import build_metadata
from idp.saml.signing import SamlSigner

METADATA_CACHE = dt.timedelta(hours=1)

if TYPE_CHECKING:
    from idp.runtime import Runtime


@dataclass(frozen=True)
class SamlRuntime:
    settings: IdpSamlSettings
    #: local SPs, then federation aggregates, then MDQ (a read-only Mapping by entity id)
    service_providers: ServiceProviderRegistry
    signer: SamlSigner
    replay_cache: ReplayCache
    #: refreshes the aggregates in the background; None when none is configured
    refresher: FederationRefresher | None = None
    _metadata: list[tuple[dt.datetime, bytes]] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def metadata(self, *, now: dt.datetime, keys: KeySet) -> bytes:
        """Signed metadata, rebuilt at most hourly (it carries validUntil: it can't be static)."""
        with self._lock:
            if not self._metadata or not (
                dt.timedelta(0) <= now - self._metadata[0][0] < METADATA_CACHE
            ):
                xml = build_metadata(settings=self.settings, keys=keys, signer=self.signer, now=now)
                self._metadata[:] = [(now, xml)]
            return self._metadata[0][1]

    def federation_status(self) -> list[str]:
        """One line per federation metadata source (for ``check-config``); none without."""
        return [f"  metadata {status.line()}" for status in self.service_providers.status()]

    def stop(self) -> None:
        if self.refresher is not None:
            self.refresher.stop()


def build(runtime: Runtime, config: SamlConfig) -> SamlRuntime:
    algorithms = {
        (sp.signature_algorithm, sp.digest_algorithm) for sp in config.service_providers.values()
    }
    feeds: list[AggregateFeed] = []
    mdq_feed: MdqFeed | None = None
    federation = config.federation
    if federation is not None:
        defaults = federation.defaults
        algorithms.add((defaults.signature_algorithm, defaults.digest_algorithm))
        feeds = [
            AggregateFeed(source, defaults=defaults, clock=runtime.clock)
            for source in federation.aggregates
        ]
        for feed in feeds:
            # At start, so SPs are there for the first request; a failure is logged and
            # retried by the refresher, and never keeps the IdP from starting.
            feed.refresh()
        if federation.mdq is not None:
            mdq_feed = MdqFeed(federation.mdq, defaults=defaults, clock=runtime.clock)
    refresher = FederationRefresher(feeds, clock=runtime.clock) if feeds else None
    if refresher is not None:
        refresher.start()
    return SamlRuntime(
        settings=config.settings,
        service_providers=ServiceProviderRegistry(
            config.service_providers, aggregates=feeds, mdq_feed=mdq_feed
        ),
        signer=SamlSigner(runtime.keys, algorithms=tuple(algorithms)),
        replay_cache=runtime.ephemeral,
        refresher=refresher,
    )

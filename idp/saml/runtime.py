"""Everything SAML needs on request paths, built once at start (``idp.protocols`` contract)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from idp.config.saml import IdpSamlSettings, SamlConfig, ServiceProvider
from idp.keys import KeySet
from idp.saml.inbound import ReplayCache
from idp.saml.metadata import build_metadata
from idp.saml.signing import SamlSigner

METADATA_CACHE = dt.timedelta(hours=1)

if TYPE_CHECKING:
    from idp.runtime import Runtime


@dataclass(frozen=True)
class SamlRuntime:
    settings: IdpSamlSettings
    service_providers: Mapping[str, ServiceProvider]
    signer: SamlSigner
    replay_cache: ReplayCache
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


def build(runtime: Runtime, config: SamlConfig) -> SamlRuntime:
    algorithms = {
        (sp.signature_algorithm, sp.digest_algorithm) for sp in config.service_providers.values()
    }
    return SamlRuntime(
        settings=config.settings,
        service_providers=config.service_providers,
        signer=SamlSigner(runtime.keys, algorithms=tuple(algorithms)),
        replay_cache=runtime.ephemeral,
    )

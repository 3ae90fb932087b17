"""Everything SAML needs on request paths, built once at start (``idp.protocols`` contract)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idp.config.saml import IdpSamlSettings, SamlConfig, ServiceProvider
from idp.saml.inbound import ReplayCache
from idp.saml.signing import SamlSigner

if TYPE_CHECKING:
    from idp.runtime import Runtime


@dataclass(frozen=True)
class SamlRuntime:
    settings: IdpSamlSettings
    service_providers: Mapping[str, ServiceProvider]
    signer: SamlSigner
    replay_cache: ReplayCache


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

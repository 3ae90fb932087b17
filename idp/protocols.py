"""Per-protocol runtime objects, built once from the parsed protocol config sections.

Each protocol package ``idp.<name>`` has ``build(runtime, settings)`` in ``idp.<name>.runtime``
that loads/derives everything the protocol needs on request paths (signers, key objects,
client registries), so that no request loads a key. :class:`Protocols` holds what was built,
typed: a protocol that is switched off is ``None``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idp.oidc.runtime import OidcRuntime
    from idp.runtime import Runtime
    from idp.saml.runtime import SamlRuntime
    from idp.wsfed.runtime import WsFedRuntime


@dataclass(frozen=True)
class Protocols:
    saml: SamlRuntime | None = None
    oidc: OidcRuntime | None = None
    wsfed: WsFedRuntime | None = None

    def __iter__(self) -> Iterator[str]:
        """The names of the protocols that are switched on."""
        return iter(name for name in ("saml", "oidc", "wsfed") if getattr(self, name) is not None)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in tuple(self)


def build_protocols(runtime: Runtime) -> Protocols:
    from idp.oidc.runtime import build as build_oidc
    from idp.saml.runtime import build as build_saml
    from idp.wsfed.runtime import build as build_wsfed

    sections = runtime.config.protocols
    return Protocols(
        saml=build_saml(runtime, sections["saml"]) if "saml" in sections else None,
        oidc=build_oidc(runtime, sections["oidc"]) if "oidc" in sections else None,
        wsfed=build_wsfed(runtime, sections["wsfed"]) if "wsfed" in sections else None,
    )

"""Per-protocol runtime objects, built once from the parsed protocol config sections.

Contract for a protocol package ``idp.<name>``: a function ``build(runtime, settings) -> Any``
in ``idp.<name>.runtime`` that loads/derives everything the protocol needs on request paths
(signers, key objects, client registries) so that no request loads a key.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from idp.runtime import Runtime


def build_protocols(runtime: Runtime) -> dict[str, Any]:
    built: dict[str, Any] = {}
    for name, settings in runtime.config.protocols.items():
        module = importlib.import_module(f"idp.{name}.runtime")
        built[name] = module.build(runtime, settings)
    return built

"""Per-protocol runtime objects, built once from the parsed protocol config sections."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from idp.runtime import Runtime


def build_protocols(runtime: Runtime) -> dict[str, Any]:
    built: dict[str, Any] = {}
    return built

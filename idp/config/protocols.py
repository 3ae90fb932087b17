"""Protocol sections of ``idp.yaml``, each parsed by its protocol's own config module."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp.config.reader import Node
from idp.config.schema import IdpConfig


def parse_protocols(config: IdpConfig, root: Node, env: Mapping[str, str]) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    return sections

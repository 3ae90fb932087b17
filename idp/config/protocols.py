"""Protocol sections of ``idp.yaml``, each parsed by its protocol's own config module.

Contract for a protocol module ``idp.config.<name>``: ``parse(node, config, env) -> Settings``
where ``node`` is the section's :class:`~idp.config.reader.Node` (None when the section is
absent — a protocol may still be on by default), ``config`` the already-parsed core
configuration, and ``env`` the environment for secrets. It returns a frozen settings object,
or None when the protocol is switched off.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from functools import partial
from typing import Any

from idp.config.reader import Collector, Node
from idp.config.schema import IdpConfig

PROTOCOLS = ("saml", "oidc", "wsfed")


def parse_protocols(config: IdpConfig, root: Node, env: Mapping[str, str]) -> dict[str, Any]:
    sections: dict[str, Any] = {}
    found = Collector()  # a broken section does not hide the errors of the others
    for name in PROTOCOLS:
        module = importlib.import_module(f"idp.config.{name}")
        settings = found.attempt(partial(module.parse, root.get(name), config, env), None)
        if settings is not None:
            sections[name] = settings
    found.check()
    return sections

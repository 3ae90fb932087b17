"""``python -m satosa_plugins.check PROXY_CONF``: check a SATOSA configuration's plugins of ours.

SATOSA loads each plugin's YAML when it starts, and our plugins check their ``config`` then.
This command does the same checks ahead of a restart, with errors naming the plugin's file and
the key path: every plugin file ``proxy_conf.yaml`` lists is read; those of this pack are parsed
by the plugins' own parsers, and the IdP configuration each names is loaded and checked.
Relative paths are taken from the working directory, as SATOSA takes them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from idp.config.loader import load_config
from idp.config.reader import Node, load_yaml
from idp.config.schema import IdpConfig
from idp.errors import ConfigError
from satosa_plugins.config import (
    MfaSettings,
    check_eam,
    check_policies,
    parse_attributes,
    parse_backend,
    parse_frontend,
    parse_mfa,
    parse_pages,
)

Parser = Callable[..., Any]
EAM_FRONTEND = "satosa_plugins.eam.EntraEamFrontend"
PARSERS: dict[str, Parser] = {
    "satosa_plugins.mfa.MfaMicroService": parse_mfa,
    "satosa_plugins.attributes.DirectoryAttributes": parse_attributes,
    "satosa_plugins.wsfed.WsFedFrontend": parse_frontend,
    "satosa_plugins.passwordless.PasswordlessBackend": parse_backend,
    "satosa_plugins.passwordless.HideezPages": parse_pages,
    EAM_FRONTEND: parse_pages,
}
SECTIONS = ("FRONTEND_MODULES", "BACKEND_MODULES", "MICRO_SERVICES")


def check(proxy_conf: Path, *, load_idp: bool = True) -> list[str]:
    """One line per plugin of ours that passed; the first error raises ConfigError."""
    root = load_yaml(proxy_conf)
    checked: list[str] = []
    idp_configs: dict[Path, IdpConfig] = {}
    for section in SECTIONS:
        entries = root.get(section)
        for entry in entries.elements() if entries is not None else ():
            plugin, source = _plugin(entry)
            module = plugin.child("module").as_str()
            name = plugin.child("name").as_str()
            parser = PARSERS.get(module)
            if parser is None:
                continue
            config = plugin.get("config")
            settings = parser(config.value if config else None, plugin=name, source=source)
            if load_idp:
                path = settings if isinstance(settings, Path) else settings.idp_config
                if path not in idp_configs:
                    idp_configs[path] = load_config(path)
                if isinstance(settings, MfaSettings):
                    check_policies(settings, idp_configs[path], plugin=name)
                if module == EAM_FRONTEND:
                    check_eam(idp_configs[path], idp_config=path, plugin=source)
            checked.append(f"{source}: {name} ({module}) ok")
    return checked


def _plugin(entry: Node) -> tuple[Node, str]:
    """A plugin entry: a file path (SATOSA's usual form) or the plugin's mapping inline."""
    if isinstance(entry.value, dict):
        return entry, f"{entry.source}: {entry.path}"
    path = Path(entry.as_str())
    return load_yaml(path), str(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m satosa_plugins.check PROXY_CONF", file=sys.stderr)
        return 2
    try:
        lines = check(Path(args[0]))
    except ConfigError as exc:
        print(f"error: {exc.description}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    print(f"{args[0]}: {len(lines)} plugin(s) of hideez-idp checked")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

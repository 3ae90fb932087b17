"""The ``workstations:`` section: the link server's address, the signed-frame window, the
local logon CA and who may lift the emergency alarm from the CLI (see docs/workstations.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from idp.config.reader import Node, optional

_USERNAME = r"[A-Za-z0-9][A-Za-z0-9._@-]{0,127}"


@dataclass(frozen=True)
class PemFiles:
    key: Path
    cert: Path


@dataclass(frozen=True)
class LinkSettings:
    host: str = "127.0.0.1"
    port: int = 8765
    #: TLS for ``wss://`` (certificate chain and key files); None serves plain ``ws://``
    tls: PemFiles | None = None
    #: a signed frame's time may be this many seconds from the server's clock
    window: int = 300


@dataclass(frozen=True)
class WorkstationSettings:
    link: LinkSettings = field(default_factory=LinkSettings)
    #: the local CA issuing short-lived smart-card logon certificates (None: no passwordless)
    logon_ca: PemFiles | None = None
    #: employees (two-factor mode, with a password) who may lift the alarm from the CLI
    alarm_admins: tuple[str, ...] = ()


def parse_workstations(node: Node, base: Path) -> WorkstationSettings:
    node.only_keys("link", "logon_ca", "alarm_admins")
    return WorkstationSettings(
        link=optional(node.get("link"), lambda n: _link(n, base), LinkSettings()),
        logon_ca=optional(node.get("logon_ca"), lambda n: _key_files(n, base), None),
        alarm_admins=optional(
            node.get("alarm_admins"), lambda n: n.as_str_list(pattern=_USERNAME), ()
        ),
    )


def _link(node: Node, base: Path) -> LinkSettings:
    node.only_keys("host", "port", "tls", "window")
    default = LinkSettings()
    return LinkSettings(
        host=optional(node.get("host"), lambda n: n.as_str(max_len=255), default.host),
        port=optional(
            node.get("port"), lambda n: n.as_int(min_value=1, max_value=65535), default.port
        ),
        tls=optional(node.get("tls"), lambda n: _key_files(n, base), None),
        window=optional(
            node.get("window"), lambda n: n.as_int(min_value=30, max_value=3600), default.window
        ),
    )


def _key_files(node: Node, base: Path) -> PemFiles:
    node.only_keys("key", "cert")
    files = PemFiles(key=node.child("key").as_path(base), cert=node.child("cert").as_path(base))
    for name, path in (("key", files.key), ("cert", files.cert)):
        if not path.is_file():
            raise node.child(name).error(f"no such file: {path}")
    return files

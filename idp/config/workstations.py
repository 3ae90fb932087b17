"""The ``workstations:`` section: the link server's address, the signed-frame window, the
local logon CA, who may lift the emergency alarm from the CLI and the proximity defaults and
RSSI calibration (see docs/workstations.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from idp.config.reader import Node, optional
from idp.errors import IdpError
from idp.workstations.model import ProximitySettings
from idp.workstations.proximity import Calibration

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
class ProximityDefaults:
    #: the proximity settings a newly registered workstation starts with
    settings: ProximitySettings = field(default_factory=ProximitySettings)
    #: RSSI → 0-100 (sent to every gateway with its settings)
    calibration: Calibration = field(default_factory=Calibration)


@dataclass(frozen=True)
class WorkstationSettings:
    link: LinkSettings = field(default_factory=LinkSettings)
    #: the local CA issuing short-lived smart-card logon certificates (None: no passwordless)
    logon_ca: PemFiles | None = None
    #: employees (two-factor mode, with a password) who may lift the alarm from the CLI
    alarm_admins: tuple[str, ...] = ()
    proximity: ProximityDefaults = field(default_factory=ProximityDefaults)


def parse_workstations(node: Node, base: Path) -> WorkstationSettings:
    node.only_keys("link", "logon_ca", "alarm_admins", "proximity")
    return WorkstationSettings(
        link=optional(node.get("link"), lambda n: _link(n, base), LinkSettings()),
        logon_ca=optional(node.get("logon_ca"), lambda n: _key_files(n, base), None),
        alarm_admins=optional(
            node.get("alarm_admins"), lambda n: n.as_str_list(pattern=_USERNAME), ()
        ),
        proximity=optional(node.get("proximity"), _proximity, ProximityDefaults()),
    )


def _proximity(node: Node) -> ProximityDefaults:
    node.only_keys("lock_proximity", "unlock_proximity", "lock_timeout", "calibration")
    default = ProximitySettings()
    values = {
        name: optional(node.get(name), lambda n: n.as_int(), getattr(default, name))
        for name in ("lock_proximity", "unlock_proximity", "lock_timeout")
    }
    calibration = optional(node.get("calibration"), _calibration, Calibration())
    try:
        return ProximityDefaults(ProximitySettings(**values), calibration)
    except IdpError as exc:
        raise node.error(exc.description) from None


def _calibration(node: Node) -> Calibration:
    node.only_keys("rssi_near", "rssi_far", "samples", "tap_rssi")
    default = Calibration()
    values = {
        name: optional(node.get(name), lambda n: n.as_int(), getattr(default, name))
        for name in ("rssi_near", "rssi_far", "samples", "tap_rssi")
    }
    try:
        return Calibration(**values)
    except IdpError as exc:
        raise node.error(exc.description) from None


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

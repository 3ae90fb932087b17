"""The ``workstations:`` section: the link server's address, the signed-frame window, the
local logon CA, who may lift the emergency alarm from the CLI, the proximity defaults
and RSSI calibration, PC login by phone and the registration rate limit (see
docs/workstations.md)."""

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


#: the longest ``pc_login.offline_hours`` allowed: no offline grant ever lives longer
MAX_OFFLINE_HOURS = 720


@dataclass(frozen=True)
class PcLoginSettings:
    #: whether an app whose administrator never switched PC logon on or off may unlock PCs
    default_enabled: bool = True
    #: offline codes handed to the phone at each online PC login (0: none)
    offline_codes: int = 5
    #: how long those codes stay usable at the workstation (at most MAX_OFFLINE_HOURS)
    offline_hours: int = 72


@dataclass(frozen=True)
class RegistrationLimit:
    """Registrations of new workstations, in a sliding window of ``window`` seconds."""

    per_address: int = 20
    overall: int = 200
    window: int = 3600


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
    pc_login: PcLoginSettings = field(default_factory=PcLoginSettings)
    registration_limit: RegistrationLimit = field(default_factory=RegistrationLimit)


def parse_workstations(node: Node, base: Path) -> WorkstationSettings:
    node.only_keys(
        "link", "logon_ca", "alarm_admins", "proximity", "pc_login", "registration_limit"
    )
    return WorkstationSettings(
        link=optional(node.get("link"), lambda n: _link(n, base), LinkSettings()),
        logon_ca=optional(node.get("logon_ca"), lambda n: _key_files(n, base), None),
        alarm_admins=optional(
            node.get("alarm_admins"), lambda n: n.as_str_list(pattern=_USERNAME), ()
        ),
        proximity=optional(node.get("proximity"), _proximity, ProximityDefaults()),
        pc_login=optional(node.get("pc_login"), _pc_login, PcLoginSettings()),
        registration_limit=optional(
            node.get("registration_limit"), _registration_limit, RegistrationLimit()
        ),
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


def _pc_login(node: Node) -> PcLoginSettings:
    node.only_keys("default_enabled", "offline_codes", "offline_hours")
    default = PcLoginSettings()
    return PcLoginSettings(
        default_enabled=optional(
            node.get("default_enabled"), lambda n: n.as_bool(), default.default_enabled
        ),
        offline_codes=optional(
            node.get("offline_codes"),
            lambda n: n.as_int(min_value=0, max_value=20),
            default.offline_codes,
        ),
        offline_hours=optional(
            node.get("offline_hours"),
            lambda n: n.as_int(min_value=1, max_value=MAX_OFFLINE_HOURS),
            default.offline_hours,
        ),
    )


def _registration_limit(node: Node) -> RegistrationLimit:
    node.only_keys("per_address", "overall", "window")
    default = RegistrationLimit()
    limit = RegistrationLimit(
        per_address=optional(
            node.get("per_address"),
            lambda n: n.as_int(min_value=1, max_value=100_000),
            default.per_address,
        ),
        overall=optional(
            node.get("overall"),
            lambda n: n.as_int(min_value=1, max_value=1_000_000),
            default.overall,
        ),
        window=optional(
            node.get("window"), lambda n: n.as_int(min_value=60, max_value=86_400), default.window
        ),
    )
    if limit.overall < limit.per_address:
        raise node.error(
            f"overall ({limit.overall}) must be at least per_address ({limit.per_address})"
        )
    return limit


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

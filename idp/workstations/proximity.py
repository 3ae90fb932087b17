"""The proximity engine: RSSI observations in, lock/unlock decisions out (no IO, no clock).

The gateway feeds it what the radio and the OS report — ``observe(serial, rssi, t)``, a key's
connection lost, an RFID read, "the session was opened by key X", "the workstation locked" —
each with a monotonic time ``t`` in seconds, and calls :meth:`ProximityEngine.tick` at
:meth:`~ProximityEngine.next_deadline`. Every call returns a :data:`Decision` or ``None``.

Mapping (see docs/workstations.md, "Proximity"): RSSI is mapped linearly onto 0-100 between
``rssi_far`` (0) and ``rssi_near`` (100) dBm and clamped; the proximity of a key is the median
of its last ``samples`` mapped readings no older than its lock timeout (a median ignores the
single-reading spikes BLE RSSI is known for). Hysteresis: a key unlocks at or above its
UnlockProximity, locks below its LockProximity, and a key that is near when the workstation
locks must first drop below LockProximity (or go away) before it can unlock by proximity
again — so a manual Win+L in front of the PC sticks.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from idp.errors import IdpError
from idp.workstations.errors import InvalidLinkMessage, InvalidWorkstationInput
from idp.workstations.events import UnlockedBy
from idp.workstations.model import ProximitySettings

#: a Hideez Key's serial number as the server and the gateway name it
KEY_SERIAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: an RFID tag's UID in hex (4-10 bytes: EM4100, MIFARE 4/7/10-byte UIDs)
RFID_TAG = re.compile(r"(?:[0-9a-f]{2}){4,10}")
#: how many keys and tags one settings command may carry (a frame is at most 256 KiB)
MAX_KEYS = 1000
MAX_TAGS = 2000
#: the RSSI a BLE controller can report (HCI: -127..+20 dBm)
MIN_RSSI, MAX_RSSI = -127, 20


class LockReason(StrEnum):
    PROXIMITY = "proximity"
    TIMEOUT = "timeout"
    CONNECTION_LOST = "connection_lost"


@dataclass(frozen=True)
class Lock:
    serial: str
    reason: LockReason


@dataclass(frozen=True)
class Unlock:
    """Unlock with this key's primary account (the credential hand-off is the gateway's)."""

    serial: str
    by: UnlockedBy


Decision = Lock | Unlock


def key_serial(value: object, where: str = "serial") -> str:
    if not isinstance(value, str) or not KEY_SERIAL.fullmatch(value):
        raise InvalidWorkstationInput(
            f"{where}: expected a key serial (letters, digits, - and _, at most 64), "
            f"got {str(value)[:80]!r}"
        )
    return value


def rfid_tag(value: object, where: str = "tag") -> str:
    """A tag UID normalised to lower-case hex without separators (``04:A2:…`` → ``04a2…``)."""
    text = value.replace(":", "").replace("-", "").lower() if isinstance(value, str) else ""
    if not RFID_TAG.fullmatch(text):
        raise InvalidWorkstationInput(
            f"{where}: expected a tag UID of 4-10 bytes in hex, got {str(value)[:80]!r}"
        )
    return text


@dataclass(frozen=True)
class Calibration:
    """RSSI → proximity: ``rssi_far`` dBm maps to 0, ``rssi_near`` dBm to 100, linear between."""

    rssi_near: int = -40
    rssi_far: int = -90
    #: the proximity of a key is the median of this many readings
    samples: int = 3
    #: a single reading above this (dBm) is a tap on the dongle: tap-and-go unlock
    tap_rssi: int = -33

    def __post_init__(self) -> None:
        for name in ("rssi_near", "rssi_far", "tap_rssi"):
            value = getattr(self, name)
            if not isinstance(value, int) or not -127 <= value <= 0:
                raise InvalidWorkstationInput(f"{name}: expected -127..0 dBm, got {value!r}")
        if self.rssi_near <= self.rssi_far:
            raise InvalidWorkstationInput(
                f"rssi_near ({self.rssi_near}) must be above rssi_far ({self.rssi_far})"
            )
        if not isinstance(self.samples, int) or not 1 <= self.samples <= 15:
            raise InvalidWorkstationInput(f"samples: expected 1-15, got {self.samples!r}")

    def proximity(self, rssi: float) -> float:
        span = self.rssi_near - self.rssi_far
        return min(100.0, max(0.0, (rssi - self.rssi_far) * 100.0 / span))

    def to_wire(self) -> dict[str, int]:
        return {
            "rssi_near": self.rssi_near,
            "rssi_far": self.rssi_far,
            "samples": self.samples,
            "tap_rssi": self.tap_rssi,
        }


@dataclass(frozen=True)
class ProximityPolicy:
    """What the server pushed: the workstation's settings, per-key ones, tags, calibration."""

    defaults: ProximitySettings = field(default_factory=ProximitySettings)
    keys: Mapping[str, ProximitySettings] = field(default_factory=lambda: MappingProxyType({}))
    rfid: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    calibration: Calibration = field(default_factory=Calibration)

    def for_key(self, serial: str) -> ProximitySettings:
        return self.keys.get(serial, self.defaults)

    def to_wire(self) -> dict[str, Any]:
        return {
            **self.defaults.to_wire(),
            "calibration": self.calibration.to_wire(),
            "keys": {serial: s.to_wire() for serial, s in sorted(self.keys.items())},
            "rfid": dict(sorted(self.rfid.items())),
        }

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> ProximityPolicy:
        """The body of a ``settings`` command, every member checked (InvalidLinkMessage)."""
        try:
            return cls._parse(body)
        except InvalidWorkstationInput as exc:
            raise InvalidLinkMessage(f"settings: {exc.description}") from None
        except (TypeError, AttributeError):
            raise InvalidLinkMessage("settings: members of the documented types only") from None

    @classmethod
    def _parse(cls, body: Mapping[str, Any]) -> ProximityPolicy:
        keys, tags = body.get("keys", {}), body.get("rfid", {})
        if not isinstance(keys, dict) or len(keys) > MAX_KEYS:
            raise InvalidWorkstationInput(f"keys: an object of at most {MAX_KEYS} keys")
        if not isinstance(tags, dict) or len(tags) > MAX_TAGS:
            raise InvalidWorkstationInput(f"rfid: an object of at most {MAX_TAGS} tags")
        return cls(
            defaults=_settings(body),
            keys=MappingProxyType({key_serial(k, "keys"): _settings(v) for k, v in keys.items()}),
            rfid=MappingProxyType({rfid_tag(t, "rfid"): key_serial(s) for t, s in tags.items()}),
            calibration=Calibration(**_ints(body.get("calibration", {}), "calibration")),
        )


def _ints(value: object, where: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise InvalidWorkstationInput(f"{where}: expected an object")
    if any(type(v) is not int for v in value.values()):
        raise InvalidWorkstationInput(f"{where}: every member is an integer")
    return value


def _settings(value: object) -> ProximitySettings:
    members = _ints(
        {k: v for k, v in value.items() if k in _SETTINGS} if isinstance(value, dict) else value,
        "settings",
    )
    missing = _SETTINGS - set(members)
    if missing:
        raise InvalidWorkstationInput(f"settings: missing {sorted(missing)}")
    return ProximitySettings(**members)


_SETTINGS = frozenset({"lock_proximity", "unlock_proximity", "lock_timeout"})


@dataclass
class _Key:
    """What the engine knows about one key (mutable, private to the engine)."""

    readings: deque[tuple[float, float]]
    last_heard: float
    below_since: float | None = None
    #: False after the workstation locked with this key near: no proximity unlock until it leaves
    armed: bool = True
    proximity: float = 0.0


class ProximityEngine:
    """One workstation's proximity state. Inert until :meth:`configure` gets a policy."""

    def __init__(self) -> None:
        self.policy: ProximityPolicy | None = None
        self.alarm = False
        self.locked = True
        #: the key whose user opened the session; only its leaving locks the workstation
        self.owner: str | None = None
        self._keys: dict[str, _Key] = {}

    # -- state from the server and the OS ---------------------------------------------------

    def configure(self, policy: ProximityPolicy | None) -> None:
        """Settings from the server; ``None`` (no settings, not approved) makes the engine inert."""
        if policy is None:
            self._keys.clear()
        elif self.policy is not None and policy.calibration != self.policy.calibration:
            # Readings under another mapping mean nothing now; when each key was last heard
            # still does (an owner who vanishes meanwhile is still locked out).
            for key in self._keys.values():
                key.readings = deque(maxlen=policy.calibration.samples)
                key.below_since = None
        self.policy = policy

    def set_alarm(self, active: bool) -> None:
        self.alarm = active

    def session_opened(self, *, by: str | None) -> None:
        """The OS session was unlocked, by the user of key ``by`` (None: by no key)."""
        self.locked, self.owner = False, by

    def workstation_locked(self) -> None:
        self._locked()

    def proximity_of(self, serial: str) -> float | None:
        key = self._keys.get(serial)
        return None if key is None else key.proximity

    # -- inputs that may decide -------------------------------------------------------------

    def observe(self, *, serial: str, rssi: float, t: float) -> Decision | None:
        if self.policy is None:
            return None
        if not math.isfinite(rssi) or not MIN_RSSI <= rssi <= MAX_RSSI:
            return self.tick(t=t)  # no reading a radio can make: ignored, time still passes
        due = self.tick(t=t)
        settings = self.policy.for_key(serial)
        key = self._keys.get(serial)
        if key is None:
            key = self._keys[serial] = _Key(deque(maxlen=self.policy.calibration.samples), t)
        key.last_heard = t
        key.readings.append((t, self.policy.calibration.proximity(rssi)))
        recent = [p for at, p in key.readings if t - at <= settings.lock_timeout]
        key.proximity = statistics.median(recent)
        if key.proximity < settings.lock_proximity:
            key.armed = True
            if key.below_since is None:
                key.below_since = t
        else:
            key.below_since = None
        if due is not None:
            return due
        if rssi > self.policy.calibration.tap_rssi:
            return self._unlock(serial, UnlockedBy.DONGLE)
        if key.armed and key.proximity >= settings.unlock_proximity:
            return self._unlock(serial, UnlockedBy.PROXIMITY)
        return None

    def connection_lost(self, *, serial: str, t: float) -> Decision | None:
        if self.policy is None:
            return None
        self._keys.pop(serial, None)
        if not self.locked and self.owner == serial:
            return self._lock(serial, LockReason.CONNECTION_LOST)
        return self.tick(t=t)

    def rfid(self, *, tag: str, t: float) -> Decision | None:
        """A tag read at the workstation's reader: unlock with the key the server mapped it to."""
        if self.policy is None:
            return None
        due = self.tick(t=t)
        try:
            serial = self.policy.rfid.get(rfid_tag(tag))
        except IdpError:
            serial = None  # a garbled read is no tag we know
        if due is not None or serial is None:
            return due
        return self._unlock(serial, UnlockedBy.RFID)

    def tick(self, *, t: float) -> Decision | None:
        """Decisions that come from time passing: the owner below too long, or unheard."""
        if self.policy is None:
            return None
        for serial, key in list(self._keys.items()):
            timeout = self.policy.for_key(serial).lock_timeout
            owns = not self.locked and self.owner == serial
            if t - key.last_heard >= 2 * timeout:
                del self._keys[serial]  # gone: it is armed again when it comes back
                if owns:
                    return self._lock(serial, LockReason.TIMEOUT)
            elif owns and key.below_since is not None and t - key.below_since >= timeout:
                return self._lock(serial, LockReason.PROXIMITY)
        return None

    def next_deadline(self) -> float | None:
        """When :meth:`tick` may next decide something (monotonic seconds), if ever."""
        if self.policy is None or self.locked or self.owner is None:
            return None
        key = self._keys.get(self.owner)
        if key is None:
            return None
        timeout = self.policy.for_key(self.owner).lock_timeout
        deadline = key.last_heard + 2 * timeout
        if key.below_since is not None:
            deadline = min(deadline, key.below_since + timeout)
        return deadline

    # -- decisions ----------------------------------------------------------------------------

    def _unlock(self, serial: str, by: UnlockedBy) -> Unlock | None:
        if not self.locked or self.alarm:
            return None
        self.locked, self.owner = False, serial
        return Unlock(serial, by)

    def _lock(self, serial: str, reason: LockReason) -> Lock:
        self._locked()
        return Lock(serial, reason)

    def _locked(self) -> None:
        self.locked, self.owner = True, None
        policy = self.policy
        for serial, key in self._keys.items():
            if policy is not None and key.proximity >= policy.for_key(serial).lock_proximity:
                key.armed = False

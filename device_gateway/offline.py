"""The workstation's side of offline codes (see :mod:`idp.workstations.offline`).

Each online PC login by phone may carry a grant: the offline secret and the password, both
sealed to this workstation's key as they arrived, a count and an expiry. One grant per
device is kept (a newer one replaces it) in ``offline/<device id>.json`` inside the identity
directory (0700, beside the private key that opens them). Wrong codes are counted in
``offline/failures.json``: after :data:`~idp.workstations.offline.MAX_FAILURES` within
:data:`~idp.workstations.offline.FAILURE_WINDOW` every code is refused until the window
passes — so the 10^8 codes cannot be walked through at the lock screen.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from idp.workstations import offline, sealed
from idp.workstations.errors import InvalidLinkMessage, OfflineCodeRefused

_DEVICE = re.compile(r"[A-Za-z0-9_-]{16,64}")
_FAILURES = "failures.json"


@dataclass(frozen=True)
class Grant:
    device_id: str
    employee: str
    account: str
    sealed_password: dict[str, str]
    sealed_secret: dict[str, str]
    count: int
    next_index: int
    expires_at: str
    #: when the server minted it ("" in grants kept before servers said so)
    issued_at: str = ""

    @property
    def expiry(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.expires_at)


@dataclass(frozen=True)
class Redeemed:
    grant: Grant
    password: str = field(repr=False)


def _moment(text: str, what: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidLinkMessage(f"{what} must be ISO 8601") from None
    if moment.tzinfo is None:
        raise InvalidLinkMessage(f"{what} must carry its UTC offset")
    return moment


def _write(path: Path, data: object) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


class OfflineGrants:
    def __init__(
        self,
        directory: Path,
        *,
        key: ec.EllipticCurvePrivateKey,
        workstation_id: str,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.directory = directory
        self._key = key
        self._workstation_id = workstation_id
        self._clock = clock

    def keep(
        self, *, body: dict[str, Any], employee: str, account: str, sealed_password: object
    ) -> Grant:
        """Store the grant a credentials command carried (checked for shape first)."""
        device_id, count, expires = body.get("device_id"), body.get("count"), body.get("expires_at")
        secret, password, issued = body.get("secret"), sealed_password, body.get("issued_at", "")
        if not isinstance(device_id, str) or not _DEVICE.fullmatch(device_id):
            raise InvalidLinkMessage("offline: device_id must be a device id")
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 20:
            raise InvalidLinkMessage("offline: count must be 1-20")
        if not isinstance(expires, str) or not isinstance(secret, dict):
            raise InvalidLinkMessage("offline: expires_at and a sealed secret are needed")
        sealed.Sealed.from_wire(secret)
        sealed.Sealed.from_wire(password)
        assert isinstance(password, dict)
        try:
            dt.datetime.fromisoformat(expires)
        except ValueError:
            raise InvalidLinkMessage("offline: expires_at must be ISO 8601") from None
        if not isinstance(issued, str):
            raise InvalidLinkMessage("offline: issued_at must be ISO 8601")
        if issued:
            _moment(issued, "offline: issued_at")
        grant = Grant(device_id, employee, account, password, secret, count, 1, expires, issued)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write(self.directory / f"{device_id}.json", asdict(grant))
        return grant

    def revoke(self, device_id: object, revoked_at: object = None) -> bool:
        """Forget ``device_id``'s grant unless it was issued after ``revoked_at`` (ISO 8601; the
        server revoked that app's offline codes then), or whenever it was without one."""
        if not isinstance(device_id, str) or not _DEVICE.fullmatch(device_id):
            raise InvalidLinkMessage("offline_revoke: device_id must be a device id")
        path = self.directory / f"{device_id}.json"
        if not path.exists():
            return False
        if revoked_at is not None:
            if not isinstance(revoked_at, str):
                raise InvalidLinkMessage("offline_revoke: revoked_at must be ISO 8601")
            until = _moment(revoked_at, "offline_revoke: revoked_at")
            issued = Grant(**json.loads(path.read_text())).issued_at
            if issued and dt.datetime.fromisoformat(issued) > until:
                return False  # minted after the revocation (the same second counts as before)
        path.unlink(missing_ok=True)
        return True

    def grants(self) -> list[Grant]:
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.glob("*.json")):
            if path.name != _FAILURES:
                found.append(Grant(**json.loads(path.read_text())))
        return found

    def redeem(self, code: str) -> Redeemed:
        """The grant ``code`` belongs to, spent up to it; raises :class:`OfflineCodeRefused`."""
        now = self._clock()
        failures = self._recent_failures(now)
        if len(failures) >= offline.MAX_FAILURES:
            raise OfflineCodeRefused(
                f"{len(failures)} wrong offline codes in the last "
                f"{int(offline.FAILURE_WINDOW.total_seconds() // 60)} minutes: wait, or unlock "
                "online"
            )
        if offline.CODE.fullmatch(code):
            for grant in self.grants():
                index = self._match(grant, code, now)
                if index is not None:
                    return self._spend(grant, index)
        self._failed(failures, now)
        raise OfflineCodeRefused("the offline code is wrong, used already or expired")

    def _match(self, grant: Grant, code: str, now: dt.datetime) -> int | None:
        if grant.expiry <= now or grant.next_index > grant.count:
            return None
        secret = self._open(grant.sealed_secret, offline.SECRET_PURPOSE)
        for index in range(grant.next_index, grant.count + 1):
            expected = offline.code_at(
                secret, workstation_id=self._workstation_id, device_id=grant.device_id, index=index
            )
            if hmac.compare_digest(expected, code):
                return index
        return None

    def _spend(self, grant: Grant, index: int) -> Redeemed:
        spent = Grant(**{**asdict(grant), "next_index": index + 1})
        _write(self.directory / f"{grant.device_id}.json", asdict(spent))
        password = self._open(grant.sealed_password, sealed.PASSWORD_PURPOSE)
        return Redeemed(spent, password.decode("utf-8"))

    def _open(self, box: dict[str, str], purpose: str) -> bytes:
        return sealed.open_sealed(
            sealed.Sealed.from_wire(box),
            key=self._key,
            workstation_id=self._workstation_id,
            purpose=purpose,
        )

    def _recent_failures(self, now: dt.datetime) -> list[float]:
        path = self.directory / _FAILURES
        if not path.exists():
            return []
        since = (now - offline.FAILURE_WINDOW).timestamp()
        return [t for t in json.loads(path.read_text()) if t > since]

    def _failed(self, failures: list[float], now: dt.datetime) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write(self.directory / _FAILURES, [*failures, now.timestamp()])

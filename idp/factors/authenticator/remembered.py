"""The employee's last device on this browser: a push started without typing the user name.

After a sign-in approved with the app, the short-lived store keeps, under a digest of the
browser's binding (itself a digest of its random HttpOnly flow cookie, see
:mod:`idp.flows.browser`), which employee and which device it was, for
``authenticator.remember_device_days``. Nothing of it reaches the browser: there is no hint to
steal from the page, to forge or to replay elsewhere; another browser has another binding and
finds nothing. The record is checked again on every use (the employee may sign in, the same
device is still enrolled and enabled, the employee is not in the two-factor mode); a record
that fails is forgotten and the page asks for the user name, as if there had been none.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from idp.store.ephemeral.base import EphemeralStore

_KEY = "push:remember:"


@dataclass(frozen=True)
class Remembered:
    employee_id: str
    device_id: str


def _key(binding: str) -> str:
    return _KEY + hashlib.sha256(b"push-remember|" + binding.encode()).hexdigest()[:40]


def remember(
    store: EphemeralStore, *, binding: str, employee_id: str, device_id: str, days: int
) -> None:
    payload = json.dumps({"employee_id": employee_id, "device_id": device_id}).encode()
    store.put(_key(binding), payload, ttl=days * 86400)


def recall(store: EphemeralStore, binding: str) -> Remembered | None:
    raw = store.get(_key(binding))
    if raw is None:
        return None
    data = json.loads(raw)
    return Remembered(str(data["employee_id"]), str(data["device_id"]))


def forget(store: EphemeralStore, binding: str) -> None:
    store.delete(_key(binding))

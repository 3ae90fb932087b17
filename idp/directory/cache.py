"""A short-lived, process-local cache of employees for sign-in paths.

Every SSO answer needs the signed-in employee (attributes, enabled flag). Reading it from the
database on every answer costs more than signing the answer, so the protocol paths read through
this cache. Entries live ``ttl`` seconds: a change made elsewhere (another instance, the
directory sync) is seen within that time; changes made through this process invalidate at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from idp.directory.model import Employee


class EmployeeSource(Protocol):
    def get(self, employee_id: str) -> Employee | None: ...


class EmployeeCache:
    def __init__(
        self,
        source: EmployeeSource,
        *,
        ttl: float,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Employee | None]] = {}

    def get(self, employee_id: str) -> Employee | None:
        now = self._clock()
        with self._lock:
            hit = self._entries.get(employee_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        employee = self._source.get(employee_id)
        if self._ttl > 0:
            with self._lock:
                if len(self._entries) >= self._max:
                    self._entries.clear()  # simple and bounded; refills from the database
                self._entries[employee_id] = (now + self._ttl, employee)
        return employee

    def invalidate(self, employee_id: str | None = None) -> None:
        with self._lock:
            if employee_id is None:
                self._entries.clear()
            else:
                self._entries.pop(employee_id, None)

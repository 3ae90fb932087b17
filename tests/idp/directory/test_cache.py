from __future__ import annotations

from idp.directory.cache import EmployeeCache
from idp.directory.model import Employee


class Source:
    def __init__(self) -> None:
        self.calls = 0
        self.employee = Employee("e1", "alice", "a@example.com", "Alice", "A")

    def get(self, employee_id: str) -> Employee | None:
        self.calls += 1
        return self.employee if employee_id == "e1" else None


class Clock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


def test_hits_within_ttl_and_refreshes_after() -> None:
    source, clock = Source(), Clock()
    cache = EmployeeCache(source, ttl=5, clock=clock)
    assert cache.get("e1") is source.employee
    assert cache.get("e1") is source.employee
    assert source.calls == 1
    source.employee = Employee("e1", "alice", "a@example.com", "Alice", "A", enabled=False)
    clock.now += 5.01
    assert cache.get("e1").enabled is False  # type: ignore[union-attr]
    assert source.calls == 2


def test_misses_are_cached_too_and_invalidate_forces_a_read() -> None:
    source = Source()
    cache = EmployeeCache(source, ttl=5, clock=Clock())
    assert cache.get("nobody") is None
    assert cache.get("nobody") is None
    assert source.calls == 1
    cache.invalidate("nobody")
    cache.get("nobody")
    assert source.calls == 2


def test_zero_ttl_disables_caching_and_size_is_bounded() -> None:
    source = Source()
    uncached = EmployeeCache(source, ttl=0, clock=Clock())
    uncached.get("e1")
    uncached.get("e1")
    assert source.calls == 2
    bounded = EmployeeCache(Source(), ttl=60, max_entries=3, clock=Clock())
    for i in range(10):
        bounded.get(f"x{i}")
    assert len(bounded._entries) <= 3

"""Fault scenarios under a closed-loop load, each bounded in time: the fault runs in a thread
while the users keep signing in; the load stops ``tail`` seconds after the fault is over.

Each reports the failed sign-ins (and how they failed) and the audit events lost: every
completed sign-in must have left its ceremony (``login_success``) and its answer to the
relying party (``sso_issued``) in the audit.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bench.load.cluster import wait_until
from bench.load.deploy import audit_lost, audit_mark, audited
from bench.load.generator import Summary, closed_loop, completed_per_user, summarize
from bench.load.harness import Harness
from bench.load.signins import Outcome

#: the longest any one fault may take (restarting an instance included)
FAULT_LIMIT = 120.0


@dataclass(frozen=True)
class FaultResult:
    name: str
    summary: Summary
    lost: Counter[str]
    refused_503: int
    notes: str

    @property
    def audit_lost(self) -> int:
        return sum(self.lost.values())

    @property
    def other_failures(self) -> int:
        return self.summary.failed - self.refused_503

    def line(self) -> str:
        return (f"{self.name:<28} {self.summary.completed:5d} done, failed {self.summary.failed} "
                f"({self.refused_503} refused 503 + Retry-After, {self.other_failures} other), "
                f"audit lost {self.audit_lost}{_kinds(self.lost)}; {self.notes}")  # fmt: skip


def _kinds(lost: Counter[str]) -> str:
    return f" ({', '.join(f'{kind} {n}' for kind, n in lost.items())})" if lost else ""


async def under_load(h: Harness, name: str, fault: Callable[[], str], *, lead: float = 1.0,
                     tail: float = 1.0, think: float = 0.0) -> FaultResult:  # fmt: skip
    """Run ``fault`` (which returns its notes) ``lead`` seconds into a load on every user
    (each pausing ``think`` seconds between sign-ins)."""
    mark = audit_mark(h.runtime)
    stop: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def drive() -> str:
        try:
            await asyncio.sleep(lead)
            notes = await asyncio.wait_for(asyncio.to_thread(fault), FAULT_LIMIT)
            await asyncio.sleep(tail)
            return notes
        finally:
            stop.set_result(None)

    begin = time.monotonic()
    outcomes, notes = await asyncio.gather(
        closed_loop(h.users, h.rp, until=stop, think=think), drive()
    )
    summary = summarize(outcomes, time.monotonic() - begin)
    lost = await asyncio.to_thread(_lost_after_flush, h, outcomes, mark)
    return FaultResult(name, summary, lost, _refused(outcomes), notes)


def _refused(outcomes: list[Outcome]) -> int:
    return sum(1 for o in outcomes if o.error and o.error.status == 503 and o.error.retry_after)


def _lost_after_flush(
    h: Harness, outcomes: list[Outcome], mark: int, seconds: float = 5
) -> Counter[str]:
    """Audit events lost, once the instances' background writers had time to write (~50 ms)."""
    completed = completed_per_user(outcomes)
    deadline = time.monotonic() + seconds
    while (lost := audit_lost(completed, audited(h.runtime, after=mark))) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.2)
    return lost


def kill_one(h: Harness) -> str:
    """SIGKILL the first instance, start it again; notes: what was in flight there."""
    victim = h.instances[0]
    before = h.backend_stats(victim)
    victim.kill()
    killed_at = time.monotonic()
    in_flight = before["in_flight"]
    victim.start()
    victim.wait_ready(FAULT_LIMIT)
    wait_until(lambda: h.proxy_sees_ready(victim), seconds=10, what="the proxy seeing it again")
    failed = h.backend_stats(victim)["failed"] - before["failed"]
    return (f"{in_flight} request(s) in flight there just before the kill, {failed} of its "
            "requests answered 502 by the proxy; "
            f"back in {time.monotonic() - killed_at:.1f} s")  # fmt: skip


def _outage(h: Harness, stop: Callable[[], None], start: Callable[[], None],
            seconds: float) -> str:  # fmt: skip
    pids = [i.process.pid for i in h.instances if i.process is not None]
    stop()
    time.sleep(seconds)
    start()
    restarted = time.monotonic()
    wait_until(h.all_ready, seconds=FAULT_LIMIT, what="every instance ready again")
    same = pids == [i.process.pid for i in h.instances if i.process is not None]
    return (f"down {seconds:g} s, every instance ready {time.monotonic() - restarted:.1f} s after "
            f"the restart, {'without' if same else 'WITH'} restarting an instance")  # fmt: skip


def restart_redis(h: Harness, outage: float = 2.0) -> str:
    assert h.redis is not None, "the Redis restart needs the harness's private Redis"
    return _outage(h, h.redis.stop, h.redis.start, outage)


def restart_postgres(h: Harness, outage: float = 2.0) -> str:
    assert h.postgres is not None, "the PostgreSQL restart needs the harness's private server"
    return _outage(h, h.postgres.stop, h.postgres.start, outage)


def rolling_restart(h: Harness) -> str:
    """SIGTERM each instance in turn, start it again (once the old one stopped listening),
    wait until the proxy sees it ready."""
    codes = []
    begin = time.monotonic()
    for instance in h.instances:
        old = instance.replace()
        instance.wait_ready(FAULT_LIMIT)
        wait_until(lambda i=instance: h.proxy_sees_ready(i), seconds=10,  # type: ignore[misc]
                   what="the proxy seeing the new instance")  # fmt: skip
        codes.append(old.wait(timeout=FAULT_LIMIT))
    return (
        f"{len(codes)} instances restarted in {time.monotonic() - begin:.1f} s, exit codes {codes}"
    )

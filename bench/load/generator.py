"""The load: closed loop (every virtual user signs in again as soon as it is done — the peak)
or open loop (sign-ins arrive at a fixed rate, each waiting for a free user — latency at a
given load, the wait counted). Flows take turns: SAML, OIDC, OIDC with push."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.load.signins import FLOWS, Outcome, Relying, User, sign_in


@dataclass(frozen=True)
class Summary:
    seconds: float
    completed: int
    failed: int
    p50: float
    p95: float
    p99: float
    by_flow: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        flows = ", ".join(f"{name} {self.by_flow[name]}" for name in FLOWS)
        return (f"{self.rate:7.1f} sign-ins/s ({self.completed} in {self.seconds:.1f} s: {flows}); "
                f"p50 {1000 * self.p50:.0f} ms, p95 {1000 * self.p95:.0f} ms, "
                f"p99 {1000 * self.p99:.0f} ms; failed {self.failed}")  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def summarize(outcomes: list[Outcome], seconds: float) -> Summary:
    done = [o for o in outcomes if o.error is None]
    times = [o.seconds for o in done]
    errors = Counter(_error_key(o) for o in outcomes if o.error is not None)
    return Summary(seconds, len(done), len(outcomes) - len(done), percentile(times, 0.50),
                   percentile(times, 0.95), percentile(times, 0.99),
                   Counter(o.flow for o in done), errors)  # fmt: skip


#: marks a 503 that came without Retry-After (the harness counts those as plain failures)
NO_RETRY_AFTER = " [no Retry-After]"


def _error_key(outcome: Outcome) -> str:
    assert outcome.error is not None
    bare = outcome.error.status == 503 and not outcome.error.retry_after
    return f"{outcome.flow} {outcome.error}"[:140] + (NO_RETRY_AFTER if bare else "")


def completed_per_user(outcomes: list[Outcome]) -> Counter[str]:
    return Counter(o.username for o in outcomes if o.error is None)


async def closed_loop(users: list[User], rp: Relying, *, until: asyncio.Future[None] | float,
                      think: float = 0.0) -> list[Outcome]:  # fmt: skip
    """Every user signs in over and over, ``think`` seconds apart, until ``until`` (a deadline
    on the monotonic clock, or a future that is done when the load should stop)."""
    outcomes: list[Outcome] = []
    turns = itertools.count()

    def more() -> bool:
        if isinstance(until, float):
            return time.monotonic() < until
        return not until.done()

    async def user_loop(user: User) -> None:
        while more():
            outcomes.append(await sign_in(FLOWS[next(turns) % len(FLOWS)], user, rp))
            if think:
                await asyncio.sleep(think)

    await asyncio.gather(*(user_loop(u) for u in users))
    return outcomes


async def open_loop(
    users: list[User], rp: Relying, *, rate: float, seconds: float
) -> list[Outcome]:
    """``rate`` sign-ins per second for ``seconds``; a sign-in's time runs from its arrival."""
    free: asyncio.Queue[User] = asyncio.Queue()
    for user in users:
        free.put_nowait(user)
    outcomes: list[Outcome] = []

    async def arrival(flow: str) -> None:
        arrived = time.perf_counter()
        user = await free.get()
        try:
            outcome = await sign_in(flow, user, rp)
        finally:
            free.put_nowait(user)
        outcomes.append(Outcome(outcome.flow, outcome.username, arrived,
                                time.perf_counter() - arrived, outcome.error))  # fmt: skip

    tasks = []
    begin = time.monotonic()
    for index in itertools.count():
        at = begin + index / rate
        if at - begin >= seconds:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        tasks.append(asyncio.create_task(arrival(FLOWS[index % len(FLOWS)])))
    await asyncio.gather(*tasks)
    return outcomes

"""The load and fault harness from the command line: sign-ins per second with 1 and 2
instances (the scaling ratio), p99 at 70% of the 2-instance peak, and the fault scenarios.

Everything runs on this machine's 2 CPUs: instance A on CPU 0; with one instance the load
generator (this process) and the proxy take CPU 1; with two, instance B takes CPU 1 and the
generator and proxy share both CPUs with the instances. Their CPU time is measured and printed,
so the ratio can be read against what the instances actually got.

Run: .venv/bin/python -m bench.load.run [--seconds 10] [--users 24]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.load import scenarios
from bench.load.cluster import private_stores, process_cpu_seconds, wait_until
from bench.load.generator import Summary, closed_loop, open_loop, summarize
from bench.load.harness import Harness, close_browsers, harness, pin

CPU_A, CPU_B, BOTH = {0}, {1}, {0, 1}


@dataclass(frozen=True)
class Phase:
    """A load phase and the CPU seconds each part of the system used during it."""

    summary: Summary
    cpu: dict[str, float]

    def cpu_line(self) -> str:
        total = sum(self.cpu.values())
        parts = ", ".join(f"{name} {seconds:.1f} s ({100 * seconds / total:.0f}%)"
                          for name, seconds in self.cpu.items())  # fmt: skip
        idp = sum(s for n, s in self.cpu.items() if n.startswith("instance"))
        per_cpu = self.summary.completed / idp if idp else 0.0
        return f"CPU: {parts}; {per_cpu:.1f} sign-ins per instance CPU-second"


def _cpu(h: Harness, running: int) -> dict[str, float]:
    cpu = {f"instance {'AB'[i]}": h.instances[i].cpu_seconds() for i in range(running)}
    cpu["generator"] = time.process_time()
    cpu["proxy"] = process_cpu_seconds(h.proxy.pid)
    return cpu


async def closed_phase(h: Harness, running: int, seconds: float) -> Phase:
    before = _cpu(h, running)
    begin = time.monotonic()
    outcomes = await closed_loop(h.users, h.rp, until=begin + seconds)
    summary = summarize(outcomes, time.monotonic() - begin)
    after = _cpu(h, running)
    return Phase(summary, {name: after[name] - before[name] for name in after})


async def main_async(h: Harness, seconds: float) -> None:
    pin(os.getpid(), CPU_B)
    pin(h.proxy.pid, CPU_B)
    await closed_phase(h, 1, 2.0)  # warm-up: connections, caches, JIT-free Python paths
    one = await closed_phase(h, 1, seconds)
    second = h.instances[1]
    second.start()
    await asyncio.to_thread(second.wait_ready)
    await asyncio.to_thread(wait_until, lambda: h.proxy_sees_ready(second),
                            seconds=10, what="the proxy seeing instance B")  # fmt: skip
    pin(os.getpid(), BOTH)
    pin(h.proxy.pid, BOTH)
    await closed_phase(h, 2, 2.0)
    two = await closed_phase(h, 2, seconds)
    rate = 0.7 * two.summary.rate
    at_70 = summarize(await open_loop(h.users, h.rp, rate=rate, seconds=seconds), seconds)
    # The rolling restart first: the others fail sign-ins on purpose.
    faults = [
        await scenarios.under_load(h, "rolling restart (SIGTERM)",
                                   lambda: scenarios.rolling_restart(h)),
        await scenarios.under_load(h, "kill an instance (SIGKILL)",
                                   lambda: scenarios.kill_one(h)),
        await scenarios.under_load(h, "restart Redis", lambda: scenarios.restart_redis(h)),
        await scenarios.under_load(h, "restart PostgreSQL",
                                   lambda: scenarios.restart_postgres(h)),
    ]  # fmt: skip
    await close_browsers(h.users)
    report(one, two, at_70, rate, faults, users=len(h.users))


def report(one: Phase, two: Phase, at_70: Summary, rate: float,
           faults: list[scenarios.FaultResult], *, users: int) -> None:  # fmt: skip
    print(f"complete sign-ins (SAML, OIDC, OIDC + app push in turn), {users} users, "
          "closed loop through the proxy:")  # fmt: skip
    print(f"  1 instance : {one.summary.line()}")
    print(f"               {one.cpu_line()}")
    print(f"  2 instances: {two.summary.line()}")
    print(f"               {two.cpu_line()}")
    ratio = two.summary.rate / one.summary.rate if one.summary.rate else 0.0
    print(f"  scaling: 2 instances / 1 instance  ratio {ratio:.2f}x (goal >= 1.8x)")
    print(f"  at 70% of the 2-instance peak ({rate:.1f}/s offered, open loop): {at_70.line()}")
    print("fault scenarios (2 instances, closed loop on every user):")
    for fault in faults:
        print(f"  {fault.line()}")
    phases = [("1 instance", one.summary), ("2 instances", two.summary), ("70% of peak", at_70)]
    for name, phase in phases + [(f.name, f.summary) for f in faults]:
        for error, count in phase.errors.most_common(4):
            print(f"    {name}: {count} x {error}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per load phase")
    parser.add_argument("--users", type=int, default=24, help="virtual users (default 24)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    with private_stores(work / "stores") as (redis_server, postgres), harness(
        work / "idp", database_url=postgres.url, store_url=redis_server.url,
        instance_cpus=[CPU_A, CPU_B], proxy_cpus=CPU_B, users=args.users, start=1,
        saml_requests=int(args.seconds * 60),
    ) as h:  # fmt: skip
        h.redis, h.postgres = redis_server, postgres
        asyncio.run(main_async(h, args.seconds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

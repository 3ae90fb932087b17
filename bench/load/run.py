"""The load and fault harness from the command line: sign-ins per second with 1 and 2
instances (the scaling ratio), p99 at 70% of the 2-instance peak, and the fault scenarios.

Everything runs on this machine's 2 CPUs: instance A on CPU 0; with one instance the load
generator (this process) and the proxy take CPU 1; with two, instance B takes CPU 1 and the
generator and proxy share both CPUs with the instances. Their CPU time is measured and printed,
so the ratio can be read against what the instances actually got.

Run: .venv/bin/python -m bench.load.run [--seconds 10] [--users 24] [--faults rolling,kill]
The instances' logs (in /tmp/bench-load-*) are removed afterwards unless ``--keep-logs``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.load import scenarios
from bench.load.cluster import private_stores, process_cpu_seconds, wait_until
from bench.load.generator import NO_RETRY_AFTER, Summary, closed_loop, open_loop, summarize
from bench.load.harness import Harness, close_browsers, harness, pin

CPU_A, CPU_B, BOTH = {0}, {1}, {0, 1}
#: in this order: the rolling restart first, as the others fail sign-ins on purpose
FAULTS: dict[str, tuple[str, Callable[[Harness], str]]] = {
    "rolling": ("rolling restart (SIGTERM)", scenarios.rolling_restart),
    "kill": ("kill an instance (SIGKILL)", scenarios.kill_one),
    "redis": ("restart Redis", scenarios.restart_redis),
    "postgres": ("restart PostgreSQL", scenarios.restart_postgres),
}


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


async def start_second(h: Harness) -> None:
    second = h.instances[1]
    second.start()
    await asyncio.to_thread(second.wait_ready)
    await asyncio.to_thread(wait_until, lambda: h.proxy_sees_ready(second),
                            seconds=10, what="the proxy seeing instance B")  # fmt: skip


async def scaling(h: Harness, seconds: float) -> None:
    pin(os.getpid(), CPU_B)
    pin(h.proxy.pid, CPU_B)
    await closed_phase(h, 1, 2.0)  # warm-up: connections, caches
    one = await closed_phase(h, 1, seconds)
    print(f"complete sign-ins (SAML, OIDC, OIDC + app push in turn), {len(h.users)} users, "
          "closed loop through the proxy:")  # fmt: skip
    print(f"  1 instance : {one.summary.line()}\n               {one.cpu_line()}", flush=True)
    await start_second(h)
    pin(os.getpid(), BOTH)
    pin(h.proxy.pid, BOTH)
    await closed_phase(h, 2, 2.0)
    two = await closed_phase(h, 2, seconds)
    print(f"  2 instances: {two.summary.line()}\n               {two.cpu_line()}")
    ratio = two.summary.rate / one.summary.rate if one.summary.rate else 0.0
    print(f"  scaling: 2 instances / 1 instance  ratio {ratio:.2f}x (goal >= 1.8x)")
    rate = 0.7 * two.summary.rate
    at_70 = summarize(await open_loop(h.users, h.rp, rate=rate, seconds=seconds), seconds)
    print(f"  at 70% of the 2-instance peak ({rate:.1f}/s offered, open loop): {at_70.line()}")
    for name, phase in (("1 instance", one.summary), ("2 instances", two.summary),
                        ("70%", at_70)):  # fmt: skip
        print_errors(name, phase)


def print_errors(name: str, summary: Summary) -> None:
    """Every kind of failure but refusals (503), then the commonest refusals."""
    errors = summary.errors.most_common()
    refusals = [(e, n) for e, n in errors if ": 503 " in e and not e.endswith(NO_RETRY_AFTER)]
    others = [(e, n) for e, n in errors if (e, n) not in refusals]
    for error, count in others[:8] + refusals[:2]:
        print(f"    {name}: {count} x {error}")


async def main_async(h: Harness, seconds: float, faults: list[str], *, measure: bool) -> None:
    try:
        if measure:
            await scaling(h, seconds)
        else:
            await start_second(h)
        print("fault scenarios (2 instances, closed loop on every user):", flush=True)
        for key in faults:
            name, fault = FAULTS[key]
            result = await scenarios.under_load(h, name, lambda f=fault: f(h))  # type: ignore[misc]
            print(f"  {result.line()}", flush=True)
            print_errors(key, result.summary)
    finally:
        await close_browsers(h.users)


def _faults(text: str) -> list[str]:
    names = [n for n in text.split(",") if n]
    unknown = [n for n in names if n not in FAULTS]
    if unknown:
        raise argparse.ArgumentTypeError(f"expected some of {','.join(FAULTS)}, got {unknown}")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per load phase")
    parser.add_argument("--users", type=int, default=24, help="virtual users (default 24)")
    choices = ",".join(FAULTS)
    parser.add_argument("--faults", type=_faults, default=list(FAULTS),
                        help=f"fault scenarios, comma-separated (default {choices})")  # fmt: skip
    parser.add_argument("--no-scaling", action="store_true", help="only the fault scenarios")
    parser.add_argument(
        "--keep-logs",
        action="store_true",
        help="keep the instances' logs (printed where) instead of removing them",
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        run(work, args)
    finally:
        if args.keep_logs:
            print(f"logs kept: {work}/idp/instance-*.log")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def run(work: Path, args: argparse.Namespace) -> None:
    with private_stores(work / "stores") as (redis_server, postgres), harness(
        work / "idp", database_url=postgres.url, store_url=redis_server.url,
        instance_cpus=[CPU_A, CPU_B], proxy_cpus=CPU_B, users=args.users, start=1,
        saml_requests=int(args.seconds * 60),
    ) as h:  # fmt: skip
        h.redis, h.postgres = redis_server, postgres
        asyncio.run(main_async(h, args.seconds, args.faults, measure=not args.no_scaling))


if __name__ == "__main__":
    raise SystemExit(main())

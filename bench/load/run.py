"""The load and fault harness from the command line: sign-ins per second with 1 and 2
instances (the scaling ratio), p99 at 70% of the 2-instance peak, and the fault scenarios.

Everything runs on this machine's 2 CPUs: instance A on CPU 0; with one instance the load
generator (this process) and the proxy take CPU 1; with two, instance B takes CPU 1 and the
generator and proxy share both CPUs with the instances. Their CPU time is measured and printed,
so the ratio can be read against what the instances actually got.

Run: .venv/bin/python -m bench.load.run [--seconds 10] [--users 24] [--runs 3] [--faults kill]
The instances' logs (in /tmp/bench-load-*) are removed afterwards unless ``--keep-logs``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.load import scenarios
from bench.load.cluster import private_stores, process_cpu_seconds, tree_cpu_seconds, wait_until
from bench.load.generator import NO_RETRY_AFTER, Summary, closed_loop, open_loop, summarize
from bench.load.harness import Harness, close_browsers, harness, pin

CPU_A, CPU_B, BOTH = {0}, {1}, {0, 1}
STORES = "Redis + PostgreSQL"
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

    @property
    def instance_cpu(self) -> float:
        return sum(s for n, s in self.cpu.items() if n.startswith("instance"))

    @property
    def per_instance_cpu_second(self) -> float:
        return self.summary.completed / self.instance_cpu if self.instance_cpu else 0.0

    @property
    def instance_cores(self) -> float:
        """How many CPUs the instances had, on average, during the phase."""
        return self.instance_cpu / self.summary.seconds if self.summary.seconds else 0.0

    @property
    def ceiling(self) -> float:
        """The best 2-instance / 1-instance ratio 2 otherwise idle CPUs allow at this phase's
        CPU costs per sign-in: one instance goes as fast as the slower of itself (on one CPU)
        and everything else (on the other); two share both CPUs with everything else."""
        instance = self.instance_cpu
        rest = sum(self.cpu.values()) - instance
        return 2 * max(instance, rest) / (instance + rest) if instance + rest else 0.0

    def cpu_line(self) -> str:
        total = sum(self.cpu.values())
        parts = ", ".join(f"{name} {seconds:.1f} s ({100 * seconds / total:.0f}%)"
                          for name, seconds in self.cpu.items())  # fmt: skip
        done = max(self.summary.completed, 1)
        load = self.cpu["generator"] + self.cpu["proxy"]
        stores = self.cpu.get(STORES)
        rest = "" if stores is None else f", {STORES} {1000 * stores / done:.1f} ms"
        return (f"CPU: {parts}\n               per sign-in: instances "
                f"{1000 * self.instance_cpu / done:.1f} ms, generator + proxy "
                f"{1000 * load / done:.1f} ms{rest}; the instances had "
                f"{self.instance_cores:.2f} CPUs, {self.per_instance_cpu_second:.1f} sign-ins "
                "per instance CPU-second")  # fmt: skip


def _cpu(h: Harness, running: int) -> dict[str, float]:
    cpu = {f"instance {'AB'[i]}": h.instances[i].cpu_seconds() for i in range(running)}
    cpu["generator"] = time.process_time()
    cpu["proxy"] = process_cpu_seconds(h.proxy.pid)
    if h.redis is not None and h.postgres is not None:
        assert h.redis.process is not None and h.postgres.process is not None
        cpu[STORES] = process_cpu_seconds(h.redis.process.pid) + tree_cpu_seconds(
            h.postgres.process.pid
        )
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


async def stop_second(h: Harness) -> None:
    second = h.instances[1]
    await asyncio.to_thread(second.stop)
    await asyncio.to_thread(wait_until, lambda: not h.proxy_sees_ready(second),
                            seconds=10, what="the proxy seeing instance B gone")  # fmt: skip


@dataclass(frozen=True)
class Pair:
    one: Phase
    two: Phase

    @property
    def ratio(self) -> float:
        return self.two.summary.rate / self.one.summary.rate if self.one.summary.rate else 0.0

    @property
    def cores_ratio(self) -> float:
        return self.two.instance_cores / self.one.instance_cores if self.one.instance_cores else 0.0

    @property
    def efficiency_ratio(self) -> float:
        one = self.one.per_instance_cpu_second
        return self.two.per_instance_cpu_second / one if one else 0.0

    def line(self) -> str:
        return (f"ratio {self.ratio:.2f}x raw = {self.cores_ratio:.2f}x the instances' CPUs "
                f"({self.one.instance_cores:.2f} -> {self.two.instance_cores:.2f}) x "
                f"{self.efficiency_ratio:.2f}x sign-ins per instance CPU-second")  # fmt: skip


async def measure_pair(h: Harness, seconds: float) -> Pair:
    """1 instance (generator and proxy on the other CPU), then 2 (everything on both CPUs)."""
    pin(os.getpid(), CPU_B)
    pin(h.proxy.pid, CPU_B)
    await closed_phase(h, 1, 2.0)  # warm-up: connections, caches
    one = await closed_phase(h, 1, seconds)
    print(f"  1 instance : {one.summary.line()}\n               {one.cpu_line()}", flush=True)
    await start_second(h)
    pin(os.getpid(), BOTH)
    pin(h.proxy.pid, BOTH)
    await closed_phase(h, 2, 2.0)
    two = await closed_phase(h, 2, seconds)
    print(f"  2 instances: {two.summary.line()}\n               {two.cpu_line()}")
    return Pair(one, two)


async def scaling(h: Harness, seconds: float, runs: int) -> None:
    print(f"complete sign-ins (SAML, OIDC, OIDC + app push in turn), {len(h.users)} users, "
          "closed loop through the proxy:")  # fmt: skip
    pairs: list[Pair] = []
    for run in range(1, runs + 1):
        if run > 1:
            await stop_second(h)
        print(f" run {run} of {runs}:")
        pairs.append(await measure_pair(h, seconds))
        print(f"  scaling, 2 instances / 1 instance: {pairs[-1].line()} (goal >= 1.8x)")
        for name, phase in (("1 instance", pairs[-1].one), ("2 instances", pairs[-1].two)):
            print_errors(name, phase.summary)
    print(f" spread over {runs} runs (min / median / max):")
    for name, values in (("raw ratio", [p.ratio for p in pairs]),
                         ("instances' CPUs ratio", [p.cores_ratio for p in pairs]),
                         ("per instance CPU-second ratio",
                          [p.efficiency_ratio for p in pairs])):  # fmt: skip
        print(f"  {name:<30} {_spread(values)}")
    print(
        f"  {'best possible on 2 idle CPUs':<30} {_spread([p.one.ceiling for p in pairs])}"
        "  (2 max(I, L) / (I + L): I the instance's, L everything else's CPU per sign-in)"
    )
    rate = 0.7 * pairs[-1].two.summary.rate
    at_70 = summarize(await open_loop(h.users, h.rp, rate=rate, seconds=seconds), seconds)
    print(f"  at 70% of the 2-instance peak ({rate:.1f}/s offered, open loop): {at_70.line()}")
    print_errors("70%", at_70)


def _spread(values: list[float]) -> str:
    return " / ".join(f"{v:.2f}x" for v in (min(values), statistics.median(values), max(values)))


def print_errors(name: str, summary: Summary) -> None:
    """Every kind of failure but refusals (503), then the commonest refusals."""
    errors = summary.errors.most_common()
    refusals = [(e, n) for e, n in errors if ": 503 " in e and not e.endswith(NO_RETRY_AFTER)]
    others = [(e, n) for e, n in errors if (e, n) not in refusals]
    for error, count in others[:8] + refusals[:2]:
        print(f"    {name}: {count} x {error}")


async def main_async(h: Harness, seconds: float, faults: list[str], *, runs: int) -> None:
    try:
        if runs:
            await scaling(h, seconds, runs)
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


def _runs(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 20:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to 20, got {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per load phase")
    parser.add_argument("--users", type=int, default=24, help="virtual users (default 24)")
    choices = ",".join(FAULTS)
    parser.add_argument("--faults", type=_faults, default=list(FAULTS),
                        help=f"fault scenarios, comma-separated (default {choices})")  # fmt: skip
    parser.add_argument("--no-scaling", action="store_true", help="only the fault scenarios")
    parser.add_argument(
        "--runs",
        type=_runs,
        default=3,
        help="scaling measurements, each 1 then 2 instances (default 3, 1-20)",
    )
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
        runs = 0 if args.no_scaling else args.runs
        asyncio.run(main_async(h, args.seconds, args.faults, runs=runs))


if __name__ == "__main__":
    raise SystemExit(main())

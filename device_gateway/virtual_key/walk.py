"""A scripted walk: the virtual keys' signal over time, to show walk-up unlock without a radio.

One step per line, ``SECONDS RSSI``: from ``SECONDS`` after the start (never earlier than the
line before) every key advertises at ``RSSI`` dBm (-127 to 20), or ``gone``: it stops
advertising and drops its connection, as a key that left the building; a later number brings
it back. ``#`` starts a comment; blank lines are skipped. Parsing is pure; :func:`play` runs it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from device_gateway.virtual_key.key import VirtualKey
from idp.errors import InvalidRequest

MIN_RSSI, MAX_RSSI = -127, 20
MAX_STEPS = 10_000
#: the longest walk (a day): a typo of a few zeros is caught here
MAX_SECONDS = 86_400.0
GONE = "gone"


@dataclass(frozen=True)
class Step:
    at: float
    #: None: the keys are gone (out of range, not advertising)
    rssi: int | None


def parse_walk(text: str, *, name: str = "--walk") -> tuple[Step, ...]:
    """The steps of a walk script; the first bad line is refused, naming its number."""
    steps: list[Step] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if len(steps) >= MAX_STEPS:
            raise InvalidRequest(f"{name}: at most {MAX_STEPS} steps")
        steps.append(_step(line, f"{name} line {number}", steps[-1].at if steps else 0.0))
    if not steps:
        raise InvalidRequest(f"{name}: expected lines 'SECONDS RSSI', the file has none")
    return tuple(steps)


def _step(line: str, where: str, earliest: float) -> Step:
    fields = line.split()
    if len(fields) != 2:
        raise InvalidRequest(f"{where}: expected 'SECONDS RSSI' (or 'SECONDS gone'), got {line!r}")
    seconds, value = fields
    try:
        at = float(seconds)
    except ValueError:
        raise InvalidRequest(f"{where}: SECONDS is a number, got {seconds!r}") from None
    if not earliest <= at <= MAX_SECONDS:  # also refuses nan
        raise InvalidRequest(
            f"{where}: SECONDS must be from {earliest:g} (the line before) to {MAX_SECONDS:g}, "
            f"got {seconds}"
        )
    if value.lower() == GONE:
        return Step(at, None)
    try:
        rssi = int(value)
    except ValueError:
        raise InvalidRequest(f"{where}: RSSI is whole dBm or 'gone', got {value!r}") from None
    if not MIN_RSSI <= rssi <= MAX_RSSI:
        raise InvalidRequest(f"{where}: RSSI is {MIN_RSSI} to {MAX_RSSI} dBm, got {rssi}")
    return Step(at, rssi)


async def play(
    steps: Sequence[Step],
    keys: Sequence[VirtualKey],
    *,
    report: Callable[[Step], None],
    present: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Apply each step at its time (from now) to every key; ``report`` is told of each.
    ``present``: whether the keys are advertising already (started)."""
    started = clock()
    for step in steps:
        await asyncio.sleep(max(0.0, started + step.at - clock()))
        if step.rssi is None:
            if present:
                for key in keys:
                    await key.stop()
            present = False
        else:
            for key in keys:
                key.rssi = step.rssi
            if not present:
                for key in keys:
                    await key.start()
            present = True
        report(step)

"""``hideez-idp key-sim``: virtual Hideez Keys in their own process, beside a normal gateway.

The keys live on a simulated radio; the gateway's controller on that radio is served over
bumble's TCP HCI transport, so ``hideez-idp gateway run --keys bumble:tcp-client:HOST:PORT``
in another process drives them through bleak as it would real keys. The first line printed
names the port (``--port 0`` lets the OS choose). ``--rssi`` sets every key's signal;
``--walk FILE`` scripts it over time (:mod:`device_gateway.virtual_key.walk`), one line
printed per step.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from pathlib import Path

from device_gateway.bumble_radio import Radio
from device_gateway.virtual_key.key import VirtualKey
from device_gateway.virtual_key.walk import Step, parse_walk, play
from idp.errors import InvalidRequest
from idp.vault.protocol import gatt
from idp.vault.protocol.key import KeyStorage


def _checked(args: argparse.Namespace) -> list[str]:
    serials = [str(s).upper() for s in args.serial]
    for serial in serials:
        if not gatt.SERIAL.fullmatch(serial):
            raise InvalidRequest(f"--serial: 4-26 letters, digits and '-', got {serial!r}")
    if len(set(serials)) != len(serials) or len(serials) > 64:
        raise InvalidRequest("--serial: at most 64 keys, each serial once")
    if not -127 <= args.rssi <= 20:
        raise InvalidRequest(f"--rssi: -127 to 20 dBm, got {args.rssi}")
    if not 0 <= args.port <= 65535 or args.duration < 0:
        raise InvalidRequest("--port is 0-65535 and --duration not negative")
    return serials


def _walk(path: Path | None) -> tuple[Step, ...]:
    if path is None:
        return ()
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"--walk: cannot read {path}: {exc}") from None
    return parse_walk(text, name=f"--walk {path}")


def _said(step: Step) -> None:
    what = "gone" if step.rssi is None else f"rssi {step.rssi} dBm"
    print(f"walk {step.at:g} s: {what}", flush=True)


async def _serve(args: argparse.Namespace, serials: list[str], walk: tuple[Step, ...]) -> None:
    radio = Radio()
    # a walk that starts at 0 s says how the keys start (heard at its RSSI, or not at all)
    first = walk[0] if walk and walk[0].at == 0 else None
    rssi = args.rssi if first is None or first.rssi is None else first.rssi
    present = first is None or first.rssi is not None
    keys = [VirtualKey(radio, KeyStorage(serial=s), rssi=rssi) for s in serials]
    for key in keys if present else ():
        await key.start()
    transport, port = await radio.serve_hci("gateway", host=args.host, port=args.port)
    print(f"hci tcp-server {args.host}:{port} keys {' '.join(serials)}", flush=True)
    walking = asyncio.create_task(play(walk, keys, report=_said, present=present)) if walk else None
    try:
        if args.duration:
            await asyncio.sleep(args.duration)
        else:
            await asyncio.Event().wait()
    finally:
        if walking is not None:
            walking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await walking
        for key in keys:
            await key.stop()
        await transport.close()


def run_key_sim(args: argparse.Namespace) -> int:
    serials = _checked(args)
    walk = _walk(args.walk)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args, serials, walk))
    return 0

"""The long-running commands: ``link serve`` (the server side), ``gateway run`` and
``workstation-sim`` (the workstation side; these need no server configuration)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import getpass
import platform
import socket
import ssl
from pathlib import Path

from device_gateway.actuator import actuator_for
from device_gateway.agent import Gateway, GatewayOptions
from device_gateway.identity import Identity
from device_gateway.key_agent import KeyAgent, PasswordPrompt, PinPrompt
from device_gateway.key_unlock import key_gateway
from device_gateway.keys import BleBackend, KeyRadio
from device_gateway.simulator import simulate
from device_gateway.spool import Spool
from flask_idp.commands import ListenFailed
from flask_idp.link_server import LinkMetrics, LinkServer, run_forever, tls_context
from idp.errors import InvalidRequest
from idp.metrics import LinkCollector
from idp.runtime import Runtime
from idp.vault.store import VaultStore
from idp.workstations.model import WorkstationInfo
from idp.workstations.services import Workstations

VERSION = "1.0.0"


def serve_link(runtime: Runtime, parts: Workstations, *, host: str | None, port: int | None) -> int:
    settings = runtime.config.workstations.link
    tls = None
    if settings.tls is not None:
        tls = tls_context(str(settings.tls.cert), str(settings.tls.key))
    observability = runtime.config.observability
    served = None
    if observability.metrics:
        collector = LinkCollector(
            store=runtime.ephemeral,
            vault_tasks=VaultStore(runtime.db).pending_tasks,
            connected=lambda: len(server.connections),
            clock=runtime.now,
        )
        served = LinkMetrics(collector, observability.metrics_from)
    server = LinkServer(parts.link, runtime.ephemeral, metrics=served)
    host, port = host or settings.host, port or settings.port
    try:
        asyncio.run(run_forever(server, host, port, tls))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ListenFailed(
                f"cannot listen on {host}:{port}: the port is in use by another process "
                "(another link server?); stop it or set workstations.link.port"
            ) from exc
        raise ListenFailed(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return 0


def _local_ip() -> str:
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for a UDP connect
        return str(s.getsockname()[0])
    return "127.0.0.1"


def run_gateway(args: argparse.Namespace) -> int:
    if not 0.1 <= args.refused_retry <= 3600:
        raise InvalidRequest(f"--refused-retry: 0.1-3600 seconds, got {args.refused_retry}")
    if not str(args.server).startswith(("ws://", "wss://")):
        raise InvalidRequest(f"--server: expected a ws:// or wss:// URL, got {args.server!r}")
    tls = None
    if args.ca_file is not None:
        if not args.ca_file.is_file():
            raise InvalidRequest(f"--ca-file: no such file: {args.ca_file}")
        tls = ssl.create_default_context(cafile=str(args.ca_file))
    info = WorkstationInfo(
        name=args.name or socket.gethostname(),
        domain=args.domain,
        os=f"{platform.system()} {platform.release()}"[:128],
        ip=_local_ip(),
        client_version=VERSION,
    )
    keys = str(getattr(args, "keys", "none"))
    if keys not in ("none", "system") and not keys.startswith("bumble:"):
        raise InvalidRequest(f"--keys: none, system or bumble:TRANSPORT, got {keys!r}")
    script = getattr(args, "pin_script", None)
    pins = None if script is None else _pin_script(script)
    if pins is not None and keys == "none":
        raise InvalidRequest("--pin-script answers the PIN prompts of keys: give --keys too")
    passwords: PasswordPrompt = _typed_password
    if getattr(args, "password_script", None) is not None:
        passwords = scripted_passwords(args.password_script)
    actuator = actuator_for(args.actuator)
    identity = Identity.load_or_create(args.state_dir / "identity")
    spool = Spool(args.state_dir / "spool")
    options = GatewayOptions(
        server_url=args.server, info=info, refused_retry=args.refused_retry, tls=tls
    )
    print(f"workstation {identity.workstation_id} ({info.name}) → {args.server}")

    async def main() -> None:
        if keys == "none":
            gateway = Gateway(identity=identity, spool=spool, actuator=actuator, options=options)
        else:
            # Keys unlock and lock the workstation by proximity (the server's settings).
            agent = await _key_agent(keys, pins, passwords)
            gateway = key_gateway(
                identity=identity, spool=spool, actuator=actuator, options=options, agent=agent
            )
        await gateway.run(asyncio.Event())

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
    return 0


async def _typed_code(serial: str, attempts_left: int, purpose: str) -> str:
    """The activation code, typed at the gateway's terminal (the Windows client shows a
    dialog; this is its console form)."""
    question = f"activation code to {purpose} key {serial} ({attempts_left} attempts left): "
    return (await asyncio.to_thread(input, question)).strip()


async def _typed_pin(serial: str, attempts_left: int | None, purpose: str) -> str:
    """The key's PIN, typed at the gateway's terminal without echo."""
    left = "" if attempts_left is None else f" ({attempts_left} attempts left)"
    what = "a new PIN for" if purpose == "set" else "the PIN of"
    return (await asyncio.to_thread(getpass.getpass, f"{what} key {serial}{left}: ")).strip()


def _pin_script(path: Path) -> list[str]:
    """The PINs of ``--pin-script FILE``: one per line, answered in turn (the simulator's user)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"--pin-script: cannot read {path}: {exc}") from None
    pins = [line.strip() for line in lines if line.strip()]
    bad = [n for n, pin in enumerate(pins, 1) if not (pin.isascii() and pin.isdigit())]
    bad += [n for n, pin in enumerate(pins, 1) if not 4 <= len(pin) <= 16]
    if not pins or bad:
        where = f"PIN {min(bad)} is not 4-16 digits" if bad else "it holds none"
        raise InvalidRequest(f"--pin-script: expected one PIN per line in {path}; {where}")
    return pins


def _scripted(pins: list[str]) -> PinPrompt:
    async def answer(serial: str, attempts_left: int | None, purpose: str) -> str:
        if not pins:
            raise InvalidRequest(f"--pin-script: no PIN left to answer key {serial}")
        print(f"PIN ({purpose}) for key {serial} from the script", flush=True)
        return pins.pop(0)

    return answer


async def _typed_password(serial: str, name: str, login: str, refused: str) -> str:
    """An account's password, typed at the gateway's terminal without echo (empty: later)."""
    if refused:
        print(f"not accepted: {refused}")
    question = f"password of {login} ({name}) for key {serial}, empty to skip: "
    return await asyncio.to_thread(getpass.getpass, question)


def scripted_passwords(path: Path) -> PasswordPrompt:
    """Answers from ``path``, one line per prompt in order; once they run out, skip."""
    if not path.is_file():
        raise InvalidRequest(f"--password-script: no such file: {path}")
    answers = path.read_text(encoding="utf-8").splitlines()

    async def answer(serial: str, name: str, login: str, refused: str) -> str:
        why = f" (the last one was not accepted: {refused})" if refused else ""
        print(f"password of {login} ({name}) for key {serial}: from the script{why}")
        return answers.pop(0) if answers else ""

    return answer


async def _key_agent(keys: str, pins: list[str] | None, passwords: PasswordPrompt) -> KeyAgent:
    backend = None
    if keys.startswith("bumble:"):
        # the simulator's radio (hideez-idp key-sim): bumble is only needed here
        from device_gateway.bleak_bumble import BumbleCentral, BumbleClient, BumbleScanner

        central = await BumbleCentral.over_hci(keys.removeprefix("bumble:"))
        backend = BleBackend(BumbleScanner, BumbleClient, {"bumble": central})
    pin_prompt = _typed_pin if pins is None else _scripted(pins)
    return KeyAgent(
        radio=KeyRadio(backend=backend),
        prompt=_typed_code,
        password_prompt=passwords,
        pin_prompt=pin_prompt,
    )


def run_simulator(args: argparse.Namespace) -> int:
    if not 1 <= args.count <= 10_000:
        raise InvalidRequest(f"--count: 1-10000 gateways, got {args.count}")
    if args.interval <= 0 or args.duration <= 0:
        raise InvalidRequest("--interval and --duration must be positive")
    report = asyncio.run(
        simulate(
            server_url=args.server,
            directory=args.state_dir,
            count=args.count,
            interval=args.interval,
            duration=args.duration,
        )
    )
    print(
        f"gateways {report.gateways}, connected at the end {report.connected}, events "
        f"recorded {report.events_recorded}, not yet acknowledged "
        f"{report.events_unacknowledged}"
    )
    return 0

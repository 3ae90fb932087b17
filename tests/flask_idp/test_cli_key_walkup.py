"""Walk up and it unlocks, as the documented commands run it: ``link serve``, ``key-sim`` (a
virtual key, near) and ``gateway run --keys bumble:… --pin-script FILE`` as their own
processes, the admin at the shell (``key …``, ``key-account …``, ``key-profile …``,
``workstation approve``). The activation code is typed on the gateway's stdin, the PIN comes
from the script; the workstation's journal gets the unlock with the key's primary account."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.config.loader import load_config
from idp.runtime import build_runtime
from idp.workstations.events import EventType, UnlockedBy
from idp.workstations.journal import EventJournal
from idp.workstations.registry import WorkstationRepository
from tests.e2e.workstations.harness import free_port

SERIAL = "ST10301234567890"


def _wait(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@dataclass
class Running:
    process: subprocess.Popen[str]
    #: what it printed, once it was stopped
    out: str = ""


@contextmanager
def _process(*args: str, stdin: str | None = None) -> Iterator[Running]:
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_idp.cli", *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.flush()
    running = Running(process)
    try:
        yield running
    finally:
        process.terminate()
        try:
            running.out = process.communicate(timeout=10)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            running.out = process.communicate()[0]


def _admin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """Alice with a primary Windows account and a PIN profile on her key; the code."""
    password = tmp_path / "pw"
    password.write_text("win-secret\n")
    for line in (
        ["employee", "add", "alice", "--email", "alice@corp.example"],
        ["key", "import", "--key", f"{SERIAL},AA:BB:CC:00:00:51,Hideez Key 4,4.0.1"],
        ["key-profile", "add", "Pin", "--storage", "pin", "--pin-attempts", "3"],
        [
            *("key-account", "add", "--employee", "alice", "--name", "Windows"),
            *("--type", "domain", "--login", "CORP\\alice", "--password-file", str(password)),
        ],
    ):
        assert main(line) == 0, line
    capsys.readouterr()
    assert main(["key-account", "list", "--employee", "alice", "--json"]) == 0
    [account] = json.loads(capsys.readouterr().out)
    assert main(["key-account", "primary", account["id"]]) == 0
    assert main(["key", "profile", SERIAL, "Pin"]) == 0
    capsys.readouterr()
    assert main(["key", "assign", SERIAL, "--employee", "alice"]) == 0
    found = re.search(r"activation code (\d{6})", capsys.readouterr().out)
    assert found
    return found[1]


def test_a_key_near_the_gateway_unlocks_it_with_the_primary_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(config))
    pins = tmp_path / "pins.txt"
    pins.write_text("2468\n")
    port = free_port()
    sim = ["key-sim", "--serial", SERIAL, "--rssi", "-44", "--port", "0"]
    with (
        _process("link", "serve", "--config", str(config), "--port", str(port)),
        _process(*sim) as sim_run,
    ):
        code = _admin(tmp_path, capsys)  # while the servers start
        runtime = build_runtime(load_config(config))
        registry, journal = WorkstationRepository(runtime.db), EventJournal(runtime.db)
        keys = sim_run.process
        assert keys.stdout is not None
        found = re.match(r"hci tcp-server (\S+):(\d+) keys", keys.stdout.readline())
        assert found
        gateway = [
            "gateway", "run", "--server", f"ws://127.0.0.1:{port}/", "--state-dir",
            str(tmp_path / "gw"), "--name", "pc-walkup", "--actuator", "recording",
            "--refused-retry", "0.2", "--keys", f"bumble:tcp-client:{found[1]}:{found[2]}",
            "--pin-script", str(pins),
        ]  # fmt: skip
        with _process(*gateway, stdin=f"{code}\n") as gateway_run:
            _wait(lambda: registry.list().total == 1)
            ws_id = registry.list().items[0].id
            assert main(["workstation", "approve", ws_id]) == 0

            def unlocks() -> list[tuple[UnlockedBy | None, str, str | None]]:
                return [
                    (s.event.unlocked_by, s.event.account, s.event.details.get("key"))
                    for s in journal.events(workstation_id=ws_id).items
                    if s.event.type is EventType.UNLOCK
                ]

            _wait(lambda: bool(unlocks()))
    assert unlocks() == [(UnlockedBy.PROXIMITY, "CORP\\alice", SERIAL)]
    # the profile wants the PIN: the key held none, the script set it
    assert f"PIN (set) for key {SERIAL} from the script" in gateway_run.out
    capsys.readouterr()
    assert main(["key", "show", SERIAL]) == 0
    assert "active" in capsys.readouterr().out
    runtime.close()

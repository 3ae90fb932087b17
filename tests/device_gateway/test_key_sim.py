"""``hideez-idp key-sim`` as its own process: a gateway-side central reaches its virtual keys
over bumble's TCP HCI transport and speaks the key protocol through bleak."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from device_gateway.bleak_bumble import BumbleCentral, BumbleClient, BumbleScanner
from device_gateway.keys import BleBackend, KeyRadio
from flask_idp.cli import main
from idp.vault.protocol.host import HostSession

SERIALS = ("ST10301234567890", "ST10301234567891")


def test_key_sim_serves_its_keys_to_a_gateway_in_another_process():
    command = [sys.executable, "-c", "from flask_idp.cli import main; raise SystemExit(main())"]
    args = ["key-sim", "--serial", SERIALS[0], "--serial", SERIALS[1], "--rssi", "-44"]
    process = subprocess.Popen(
        [*command, *args, "--duration", "30"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.match(r"hci tcp-server (\S+):(\d+) keys (.*)", first)
        assert found, first
        spec = f"tcp-client:{found[1]}:{found[2]}"

        async def gateway() -> None:
            central = await BumbleCentral.over_hci(spec)
            radio = KeyRadio(backend=BleBackend(BumbleScanner, BumbleClient, {"bumble": central}))
            heard = []
            radio.listeners.append(heard.append)
            await radio.start()
            for serial in SERIALS:
                link = await radio.connect(serial)
                host = HostSession(expected_serial=serial)
                host.on_hello_reply(await link.exchange(host.hello()))
                info = host.on_ready(await link.exchange(host.confirm(master_key=None)))
                assert info.serial == serial and not info.linked
            assert {o.rssi for o in heard} == {-44}
            await radio.stop()
            await central.close()

        asyncio.run(asyncio.wait_for(gateway(), 20))
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--serial", "not a serial"], "--serial"),
        (["--serial", "ST1234", "--serial", "ST1234"], "each serial once"),
        (["--serial", "ST1234", "--rssi", "50"], "--rssi"),
    ],
)
def test_key_sim_refuses_bad_arguments(args, message, capsys):
    assert main(["key-sim", *args]) == 2
    assert message in capsys.readouterr().err


def test_gateway_refuses_an_unknown_key_radio(tmp_path, capsys):
    args = ["gateway", "run", "--server", "ws://127.0.0.1:9/link", "--state-dir", str(tmp_path)]
    assert main([*args, "--keys", "usb"]) == 2
    assert "--keys: none, system or bumble:TRANSPORT" in capsys.readouterr().err


@pytest.mark.parametrize(
    "script, keys, message",
    [
        (None, "bumble:tcp-client:127.0.0.1:9", "--pin-script: cannot read"),
        ("1234\n12\n", "bumble:tcp-client:127.0.0.1:9", "PIN 2 is not 4-16 digits"),
        ("12ab\n", "bumble:tcp-client:127.0.0.1:9", "PIN 1 is not 4-16 digits"),
        ("\n\n", "bumble:tcp-client:127.0.0.1:9", "it holds none"),
        ("2468\n", "none", "give --keys too"),
    ],
)
def test_gateway_refuses_a_bad_pin_script(tmp_path, capsys, script, keys, message):
    pins = tmp_path / "pins.txt"
    if script is not None:
        pins.write_text(script)
    args = ["gateway", "run", "--server", "ws://127.0.0.1:9/link", "--state-dir", str(tmp_path)]
    assert main([*args, "--keys", keys, "--pin-script", str(pins)]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "identity").exists()  # refused before anything was made


WALK = """# seconds rssi: approach, leave, vanish, come back
0    -80
0.8  -40   # walked up
1.6  gone  # out of range
4.0  -60
"""


def test_key_sim_walks_its_keys_through_a_script(tmp_path):
    walk = tmp_path / "walk.txt"
    walk.write_text(WALK)
    command = [sys.executable, "-c", "from flask_idp.cli import main; raise SystemExit(main())"]
    args = ["key-sim", "--serial", SERIALS[0], "--walk", str(walk), "--duration", "30"]
    process = subprocess.Popen([*command, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        found = re.match(r"hci tcp-server (\S+):(\d+) keys", process.stdout.readline())
        assert found
        heard: list[tuple[int, float]] = []

        async def until(rssi: int, radio_heard: list) -> None:  # type: ignore[type-arg]
            while not any(o.rssi == rssi for o in radio_heard if hasattr(o, "rssi")):
                await asyncio.sleep(0.02)

        async def gateway() -> None:
            central = await BumbleCentral.over_hci(f"tcp-client:{found[1]}:{found[2]}")
            radio = KeyRadio(backend=BleBackend(BumbleScanner, BumbleClient, {"bumble": central}))
            seen: list = []  # type: ignore[type-arg]
            radio.listeners.append(seen.append)
            await radio.start()
            for rssi in (-80, -40, -60):
                await asyncio.wait_for(until(rssi, seen), 15)
            await radio.stop()
            await central.close()
            heard.extend((o.rssi, o.at) for o in seen if hasattr(o, "rssi"))

        asyncio.run(asyncio.wait_for(gateway(), 40))
    finally:
        process.terminate()
        process.wait(10)
    assert process.stdout is not None
    out = process.stdout.read()  # through the reader readline() used: it may hold a line
    values = [rssi for rssi, _ in heard]
    first_60 = values.index(-60)
    assert set(values[:first_60]) == {-80, -40} and values.index(-40) > values.index(-80)
    last_40 = max(i for i, v in enumerate(values) if v == -40)
    gap = heard[first_60][1] - heard[last_40][1]
    assert gap >= 1.0, f"heard while gone for 2.4 s: only {gap:.2f} s without advertisements"
    assert out.splitlines()[:4] == [
        "walk 0 s: rssi -80 dBm",
        "walk 0.8 s: rssi -40 dBm",
        "walk 1.6 s: gone",
        "walk 4 s: rssi -60 dBm",
    ]


@pytest.mark.parametrize(
    "script, message",
    [
        ("", "expected lines 'SECONDS RSSI', the file has none"),
        ("0 -60\nsoon -40\n", "line 2: SECONDS is a number, got 'soon'"),
        ("0 -60\n\n# back\n2 -40\n1 -50\n", "line 5: SECONDS must be from 2 (the line before)"),
        ("0 -60 ST1234\n", "line 1: expected 'SECONDS RSSI' (or 'SECONDS gone')"),
        ("0 loud\n", "line 1: RSSI is whole dBm or 'gone', got 'loud'"),
        ("0 -200\n", "line 1: RSSI is -127 to 20 dBm, got -200"),
        ("nan -60\n", "line 1: SECONDS must be from 0"),
        ("99999999 -60\n", "line 1: SECONDS must be from 0 (the line before) to 86400"),
    ],
)
def test_key_sim_refuses_a_bad_walk_naming_the_line(tmp_path, capsys, script, message):
    walk = tmp_path / "walk.txt"
    walk.write_text(script)
    assert main(["key-sim", "--serial", "ST1234", "--walk", str(walk)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(walk) in err


def test_key_sim_refuses_an_unreadable_walk(tmp_path, capsys):
    assert main(["key-sim", "--serial", "ST1234", "--walk", str(tmp_path / "nope.txt")]) == 2
    assert "--walk: cannot read" in capsys.readouterr().err


def test_the_walk_in_docs_keys_md_runs(tmp_path, capsys):
    text = (Path(__file__).resolve().parents[2] / "docs" / "keys.md").read_text()
    [block] = [b for b in re.findall(r"```text\n(.*?)```", text, re.S) if "# walk.txt" in b]
    walk = tmp_path / "walk.txt"
    walk.write_text(block)
    serial = "ST10301234567890"
    assert main(["key-sim", "--serial", serial, "--walk", str(walk), "--duration", "0.3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("hci tcp-server 127.0.0.1:") and out[0].endswith(f"keys {serial}")
    assert out[1] == "walk 0 s: rssi -90 dBm"  # the rest would come later


@pytest.mark.parametrize("script", ["0 gone\n", "0 gone\n0.1 -60\n0.2 gone\n"])
def test_a_walk_may_start_with_the_keys_out_of_range(tmp_path, capsys, script):
    walk = tmp_path / "walk.txt"
    walk.write_text(script)
    assert main(["key-sim", "--serial", "ST1234", "--walk", str(walk), "--duration", "0.6"]) == 0
    steps = [line for line in capsys.readouterr().out.splitlines() if line.startswith("walk")]
    assert steps[0] == "walk 0 s: gone" and len(steps) == script.count("\n")

"""``hideez-idp key-sim`` as its own process: a gateway-side central reaches its virtual keys
over bumble's TCP HCI transport and speaks the key protocol through bleak."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

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

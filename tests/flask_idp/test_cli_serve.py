"""``serve`` and ``demo`` as processes: a port in use, a second demo, stopping the demo."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from flask_idp.cli import main
from flask_idp.demo import prepare


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    try:
        requests.get(f"http://127.0.0.1:{port}/", timeout=1)
    except requests.ConnectionError:
        return False
    return True


def _wait(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.2)
    return False


@contextmanager
def _demo(directory: Path, port: int, sp_port: int) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_idp.cli", "demo", "--dir", str(directory),
         "--port", str(port), "--sp-port", str(sp_port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=20)


def test_serve_on_a_port_in_use_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = prepare(tmp_path / "demo", port=port, sp_port=port + 1)
        assert main(["serve", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: cannot listen on 127.0.0.1:{port}: the port is in use by another process "
        "(another hideez-idp?); stop it or set listen.port\n"
    )


def test_second_demo_refuses_and_stopping_the_demo_stops_its_sp(tmp_path: Path) -> None:
    port, sp_port = _free_port(), _free_port()
    with _demo(tmp_path / "one", port, sp_port) as first:
        assert _wait(lambda: _answers(port) and _answers(sp_port), 60), "the demo did not start"
        with _demo(tmp_path / "two", port, sp_port) as second:
            assert second.wait(timeout=60) == 2
            out, err = second.communicate()
        assert "Enrol alice" not in out
        assert "Traceback" not in err
        assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in err
        assert "Is another demo (make run) running?" in err
        assert _answers(port)  # the first demo is untouched
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=20) == 0
        out, _ = first.communicate()
    assert _wait(lambda: not _answers(sp_port), 10), "the demo SP outlived the demo"
    config = (tmp_path / "one/idp.yaml").resolve()
    assert f"export HIDEEZ_IDP_CONFIG={config} PATH={Path(sys.executable).parent}:" in out


def test_demo_sp_ends_when_the_demo_is_killed_outright(tmp_path: Path) -> None:
    port, sp_port = _free_port(), _free_port()
    with _demo(tmp_path / "demo", port, sp_port) as demo:
        assert _wait(lambda: _answers(port) and _answers(sp_port), 60), "the demo did not start"
        os.kill(demo.pid, signal.SIGKILL)
        demo.wait(timeout=10)
    assert _wait(lambda: not _answers(sp_port), 10), "the demo SP outlived a killed demo"


def _connects(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_sigterm_stops_listening_and_lets_a_request_in_flight_finish(tmp_path: Path) -> None:
    port = _free_port()
    config = prepare(tmp_path / "demo", port=port, sp_port=_free_port())
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_idp.cli", "serve", "--config", str(config), "--grace", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert _wait(lambda: _answers(port), 60), "serve did not start"
        body = b'{"username": "alice"}'
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        slow.sendall(b"POST /passkey/login/options HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body[:5])  # fmt: skip
        time.sleep(0.3)  # the server has the request's start
        process.send_signal(signal.SIGTERM)
        assert _wait(lambda: not _connects(port), 5), "still accepting after SIGTERM"
        slow.sendall(body[5:])
        # The drain closes the connection once its answer is sent.
        answer = b"".join(iter(lambda: slow.recv(65536), b"")).decode()
        slow.close()
        assert answer.startswith("HTTP/1.1 400"), answer[:200]  # no CSRF token: refused, answered
        assert "csrf" in answer.lower()
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=20)
    assert process.returncode == 0, err[-2000:]
    assert "hideez-idp stopped" in out
    assert "received SIGTERM: draining" in err and "drained" in err


def test_serve_refuses_a_bad_grace(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in ("soon", "-1", "99999"):
        with pytest.raises(SystemExit) as caught:
            main(["serve", "--grace", bad])
        assert caught.value.code == 2
        assert "--grace" in capsys.readouterr().err

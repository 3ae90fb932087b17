"""The drain of ``hideez-idp serve`` in process: readiness goes false first, a request still in
the listen backlog when the socket closes is answered, and then connections are refused."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable

import pytest
from waitress import create_server

from flask_idp.cli import main
from flask_idp.operations import drain_when, start_draining
from flask_idp.serving import drain
from tests.flask_idp.conftest import Shell


def test_readiness_follows_a_shared_draining_flag(shell: Shell) -> None:
    """As gunicorn's workers do (docker/gunicorn.conf.py): the flag is the master's."""
    flag = [False]
    drain_when(shell.app, lambda: flag[0])
    try:
        client = shell.app.test_client()
        assert client.get("/readyz").status_code == 200
        flag[0] = True
        ready = client.get("/readyz")
        assert (ready.status_code, ready.get_json()) == (503, {"status": "draining"})
        assert client.get("/login").status_code == 200
    finally:
        drain_when(shell.app, lambda: False)


def test_a_draining_instance_is_not_ready_but_still_serves(shell: Shell) -> None:
    client = shell.app.test_client()
    assert client.get("/readyz").status_code == 200
    start_draining(shell.app)
    ready = client.get("/readyz")
    assert (ready.status_code, ready.get_json()) == (503, {"status": "draining"})
    assert ready.headers["Retry-After"] == "5" and ready.headers["Cache-Control"] == "no-store"
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200


def _hello(environ: dict[str, object], start: Callable[..., object]) -> Iterable[bytes]:
    start("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]


def test_drain_answers_what_waits_in_the_backlog_then_refuses() -> None:
    server = create_server(_hello, host="127.0.0.1", port=0, threads=2)
    port = server.socket.getsockname()[1]
    try:
        # Connected and sent, but never accepted: the server's loop has not run yet.
        waiting = socket.create_connection(("127.0.0.1", port), timeout=10)
        waiting.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert drain(server, grace=10) is True
        answer = b""
        while chunk := waiting.recv(4096):
            answer += chunk
        waiting.close()
        assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"hello")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
    finally:
        server.task_dispatcher.shutdown(timeout=1)
        server.close()


@pytest.mark.parametrize("bad", ["-1", "3601", "soon"])
def test_serve_refuses_a_bad_unready_delay(bad: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--unready-delay", bad])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--unready-delay" in err and ("expected" in err)

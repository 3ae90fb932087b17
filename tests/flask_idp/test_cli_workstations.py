"""``hideez-idp workstation|alarm|link|gateway|workstation-sim`` through ``main()`` and as
processes: a real link server process, a real gateway process, the admin at the shell."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.audit import AuditKind, Outcome
from idp.config.loader import load_config
from idp.factors.password import hash_password
from idp.runtime import Runtime, build_runtime
from idp.workstations.events import EventType
from idp.workstations.journal import EventJournal
from idp.workstations.model import WorkstationStatus
from idp.workstations.registry import WorkstationRepository
from tests.conftest import REDIS_URL
from tests.e2e.workstations.harness import free_port

PASSWORD = "correct horse battery staple"


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, redis_prefix: str = "") -> Path:
    path = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(path))
    text = path.read_text()
    if redis_prefix:
        # Keys under the session's prefix are deleted at the end of the run.
        url = f"{REDIS_URL}?prefix={redis_prefix}{secrets.token_hex(4)}:"
        text = text.replace("ephemeral_url: memory://", f"ephemeral_url: '{url}'")
    path.write_text(text + "workstations:\n  alarm_admins: [boss]\n")
    assert (
        main(
            ["employee", "add", "boss", "--email", "boss@corp.example", "--sso-mode", "two_factor"]
        )
        == 0
    )
    runtime = _runtime(path)
    boss = runtime.employees.get_by_username("boss")
    assert boss is not None
    runtime.passwords.set(
        boss.id,
        password_hash=hash_password(password=PASSWORD, params=runtime.password_params),
        now=runtime.now(),
    )
    runtime.close()
    return path


def _runtime(path: Path) -> Runtime:
    return build_runtime(load_config(path))


def _wait(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@contextmanager
def _process(*args: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "flask_idp.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.mark.redis
def test_admin_at_the_shell_with_a_link_server_and_a_gateway_process(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    _redis_prefix: str,
) -> None:
    config = _config(tmp_path, monkeypatch, redis_prefix=_redis_prefix)
    runtime = _runtime(config)
    registry, journal = WorkstationRepository(runtime.db), EventJournal(runtime.db)
    port = free_port()
    with (
        _process("link", "serve", "--config", str(config), "--port", str(port)),
        _process(
            "gateway",
            "run",
            "--server",
            f"ws://127.0.0.1:{port}/",
            "--state-dir",
            str(tmp_path / "gw"),
            "--name",
            "pc-shell",
            "--actuator",
            "recording",
            "--refused-retry",
            "0.2",
        ),
    ):
        _wait(lambda: registry.list().total == 1)
        capsys.readouterr()
        assert main(["workstation", "list"]) == 0
        ws_id = registry.list().items[0].id
        listed = capsys.readouterr().out
        assert f"{ws_id}  pending    pc-shell" in listed and "1 workstations" in listed
        assert main(["workstation", "approve", ws_id]) == 0
        assert capsys.readouterr().out == f"{ws_id} (pc-shell) is now approved\n"

        def seen(kind: EventType, reason: str | None = None) -> bool:
            return any(
                s.event.type is kind and (reason is None or s.event.details.get("reason") == reason)
                for s in journal.events(workstation_id=ws_id).items
            )

        _wait(lambda: seen(EventType.SERVER_CONNECTED))
        # The link server's own /metrics (docs/operations.md), on its WebSocket port.
        gauges = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text.splitlines()
        assert "hideez_idp_workstations_connected 1.0" in gauges
        assert {"hideez_idp_push_outstanding 0.0", "hideez_idp_vault_tasks_pending 0.0"} <= set(
            gauges
        )
        settings = [
            "workstation",
            "settings",
            ws_id,
            "--lock-proximity",
            "20",
            "--unlock-proximity",
            "80",
            "--lock-timeout",
            "10",
        ]
        assert main(settings) == 0
        assert main(["workstation", "show", ws_id]) == 0
        shown = capsys.readouterr().out
        assert "status:     approved" in shown and "by cli" in shown
        assert "'lock_proximity': 20, 'unlock_proximity': 80, 'lock_timeout': 10" in shown
        assert main(["workstation", "lock", ws_id]) == 0
        _wait(lambda: seen(EventType.LOCK, "admin"))
        assert main(["alarm", "on"]) == 0
        _wait(lambda: seen(EventType.LOCK, "alarm"))
        wrong = tmp_path / "wrong"
        wrong.write_text("not the password\n")
        assert main(["alarm", "off", "--admin", "boss", "--password-file", str(wrong)]) == 2
        assert registry.alarm().active
        right = tmp_path / "right"
        right.write_text(PASSWORD + "\n")
        capsys.readouterr()
        assert main(["alarm", "off", "--admin", "boss", "--password-file", str(right)]) == 0
        assert capsys.readouterr().out == "alarm lifted by boss\n"
        assert main(["alarm", "status"]) == 0
        status = capsys.readouterr().out
        assert "alarm: off" in status and "by boss" in status and "approved 1" in status
        assert main(["workstation", "events", ws_id]) == 0
        assert "lock" in capsys.readouterr().out
        assert main(["workstation", "sessions", "--workstation", ws_id]) == 0
        assert capsys.readouterr().out == "0 sessions\n"  # nobody unlocked this one
        assert main(["workstation", "summary", "workstation"]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == "rows 0-0 of 0"
        # Simulated gateways against the same link server: they register and wait for approval.
        sim = [
            "workstation-sim",
            "--server",
            f"ws://127.0.0.1:{port}/",
            "--state-dir",
            str(tmp_path / "sim"),
            "--count",
            "3",
            "--interval",
            "0.2",
            "--duration",
            "1.5",
        ]
        assert main(sim) == 0
        assert capsys.readouterr().out.startswith("gateways 3, connected at the end 0, events")
        assert registry.list(status=WorkstationStatus.PENDING).total == 3
    lifts = runtime.audit.list(kind=AuditKind.ALARM_LIFTED, newest_first=False).items
    assert [e.outcome for e in lifts] == [Outcome.FAILURE, Outcome.SUCCESS]
    assert lifts[1].actor == "admin:boss"
    runtime.close()


def test_refused_inputs_say_what_was_wrong_and_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(tmp_path, monkeypatch)
    capsys.readouterr()
    unknown = "ws-" + "a" * 32
    cases = [
        (["workstation", "approve", unknown], f"no workstation '{unknown}'"),
        (["workstation", "lock", "not-an-id"], "no workstation 'not-an-id'"),
        (["workstation", "settings", unknown, "--lock-proximity", "80"], "must be above"),
        (["workstation", "summary", "employee", "--employee", "nobody"], "no employee 'nobody'"),
        (
            ["alarm", "off", "--admin", "mallory", "--password-file", "-"],
            "'mallory' is not in workstations.alarm_admins",
        ),
        (
            ["gateway", "run", "--server", "http://x", "--state-dir", str(tmp_path / "g")],
            "expected a ws:// or wss:// URL",
        ),
        (
            [
                "workstation-sim",
                "--server",
                "ws://127.0.0.1:1",
                "--state-dir",
                str(tmp_path),
                "--count",
                "0",
            ],
            "--count: 1-10000",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        assert message in capsys.readouterr().err, argv
    with pytest.raises(SystemExit):
        main(["workstation", "summary", "employee", "--since", "yesterday"])
    assert "expected YYYY-MM-DD" in capsys.readouterr().err


def test_summary_csv_export_and_ca_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, monkeypatch)
    out = tmp_path / "by-employee.csv"
    assert main(["workstation", "summary", "employee", "--csv", str(out)]) == 0
    assert out.read_text().splitlines() == [
        "employee,department,days,workstations,sessions,total_seconds,average_seconds"
    ]
    key, cert = tmp_path / "ca.key", tmp_path / "ca.crt"
    assert main(["workstation", "ca-init", "--key", str(key), "--cert", str(cert)]) == 0
    assert key.stat().st_mode & 0o777 == 0o600
    assert main(["workstation", "ca-init", "--key", str(key), "--cert", str(cert)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    config.write_text(config.read_text() + f"  logon_ca: {{key: {key}, cert: {cert}}}\n")
    from idp.workstations.services import build_workstations

    runtime = _runtime(config)
    assert build_workstations(runtime).ca is not None
    runtime.close()


def test_link_serve_on_a_port_in_use_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    _config(tmp_path, monkeypatch)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["link", "serve", "--port", str(port)]) == 2
    assert "the port is in use by another process (another link server?)" in capsys.readouterr().err

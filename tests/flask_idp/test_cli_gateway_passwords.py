"""``gateway run --password-script``: a simulated user answering the key-account password
prompts (the whole path runs in tests/e2e/keys/test_key_passwords.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from flask_idp.cli import main
from flask_idp.cli_gateway import scripted_passwords


def test_a_missing_script_is_refused_before_the_gateway_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["gateway", "run", "--server", "ws://127.0.0.1:9/link", "--state-dir", str(tmp_path)]
    assert main([*args, "--password-script", str(tmp_path / "none.txt")]) == 2
    assert "--password-script: no such file" in capsys.readouterr().err
    assert not (tmp_path / "identity").exists()


def test_answers_come_in_order_then_every_prompt_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    script = tmp_path / "answers.txt"
    script.write_text("First-Pass-1\n\nThird-Pass-3\n")
    answer = scripted_passwords(script)

    async def ask(refused: str = "") -> str:
        return await answer("ST1234", "Windows", "CORP\\alice", refused)

    got = [asyncio.run(ask()), asyncio.run(ask("wrong")), asyncio.run(ask()), asyncio.run(ask())]
    assert got == ["First-Pass-1", "", "Third-Pass-3", ""]
    shown = capsys.readouterr().out
    assert "password of CORP\\alice (Windows) for key ST1234" in shown
    assert "not accepted: wrong" in shown and "Pass" not in shown

"""``hideez-idp company|department|position list|add`` through ``main()``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = prepare(tmp_path / "demo", port=18084, sp_port=18085)
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(path))
    return path


def test_companies_departments_positions(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["company", "add", "Acme Ltd"]) == 0
    assert main(["company", "add", "Globex"]) == 0
    assert main(["department", "add", "Security", "--company", "acme ltd"]) == 0
    assert main(["department", "add", "Sales", "--company", "Globex"]) == 0
    assert main(["position", "add", "Engineer"]) == 0
    capsys.readouterr()
    assert main(["department", "list", "--company", "Acme Ltd"]) == 0
    table = capsys.readouterr().out
    assert "Security" in table and "Acme Ltd" in table and "Sales" not in table
    assert main(["company", "list", "--json"]) == 0
    assert sorted(c["name"] for c in json.loads(capsys.readouterr().out)) == ["Acme Ltd", "Globex"]
    assert main(["position", "list"]) == 0
    assert "Engineer" in capsys.readouterr().out
    assert main(["department", "add", "X", "--company", "Initech"]) == 2
    assert "no company named 'Initech'" in capsys.readouterr().err
    assert main(["company", "add", "   "]) == 2
    assert "printable" in capsys.readouterr().err
    assert main(["company", "add", "x" * 300]) == 2

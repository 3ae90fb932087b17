"""The reference authenticator uses only the documented wire model of the server, and the
server never imports the authenticator (what a mobile app embeds must stand on its own)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_authenticator_imports_only_the_wire_model_from_idp() -> None:
    files = sorted((ROOT / "authenticator").glob("*.py"))
    assert len(files) >= 3
    imported: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("idp"):
                imported |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("idp") for a in node.names), path
    assert imported == {"idp.factors.authenticator.wire"}


def test_the_wire_model_is_standard_library_only() -> None:
    wire = ROOT / "idp/factors/authenticator/wire.py"
    assert {n.split(".")[0] for n in _imports(wire)} <= {
        "__future__", "base64", "hashlib", "re", "dataclasses", "urllib"
    }  # fmt: skip


def test_the_server_never_imports_the_authenticator() -> None:
    for path in [*(ROOT / "idp").rglob("*.py"), *(ROOT / "flask_idp").rglob("*.py")]:
        if path.name == "cli_authenticator.py":
            continue  # the CLI runs the authenticator: that is its job
        bad = {n for n in _imports(path) if n.split(".")[0] == "authenticator"}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"

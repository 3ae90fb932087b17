"""The gateway imports from ``idp`` only the client-side models and wire formats (DESIGN.md),
and never a web framework: it runs on workstations, not on the server."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT_SIDE = {
    "idp.errors",
    "idp.workstations",
    "idp.workstations.commands",
    "idp.workstations.errors",
    "idp.workstations.events",
    "idp.workstations.model",
    #: the proximity engine is pure (no IO, no stores): the gateway runs it
    "idp.workstations.proximity",
    "idp.workstations.sealed",
    "idp.workstations.wire",
}
FORBIDDEN = {"flask", "werkzeug", "satosa", "flask_idp", "satosa_plugins", "sqlalchemy", "redis"}
FILES = sorted((ROOT / "device_gateway").rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_gateway_imports_only_client_side_idp(path: Path) -> None:
    imported = _imported(path)
    core = {name for name in imported if name == "idp" or name.startswith("idp.")}
    assert core <= CLIENT_SIDE, f"{path.name} imports server-side {sorted(core - CLIENT_SIDE)}"
    assert not {name.split(".")[0] for name in imported} & FORBIDDEN


def test_the_agent_loads_without_the_servers_stores_or_frameworks() -> None:
    import subprocess
    import sys

    probe = (
        "import sys, device_gateway.agent, device_gateway.simulator, device_gateway.actuator;"
        "print(sorted(m for m in ('redis', 'sqlalchemy', 'flask', 'saml2', 'webauthn')"
        " if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"

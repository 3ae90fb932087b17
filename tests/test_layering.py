"""The import direction of DESIGN.md: adapters depend on idp; idp depends on none of them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_IN_CORE = (
    "flask",
    "werkzeug",
    "satosa",
    "bleak",
    "bumble",
    "flask_idp",
    "satosa_plugins",
    "device_gateway",
    "demo_sp",
)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


CORE_FILES = sorted((ROOT / "idp").rglob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_core_module_imports_no_adapter_or_framework(path: Path) -> None:
    bad = _imports(path) & set(FORBIDDEN_IN_CORE)
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_check_sees_the_core() -> None:
    # Guard against the glob silently finding nothing (the test above would then pass).
    assert len(CORE_FILES) > 20
    assert _imports(ROOT / "flask_idp" / "app.py") >= {"flask", "idp"}


def test_demo_sp_does_not_use_our_code() -> None:
    for path in (ROOT / "demo_sp").rglob("*.py"):
        assert not _imports(path) & {"idp", "flask_idp"}, path


def test_py_typed_is_shipped() -> None:
    assert (ROOT / "idp" / "py.typed").exists()


def test_satosa_plugins_use_no_flask_and_no_flask_idp_code() -> None:
    # The pages are the Flask IdP's own files, found by location, never imported (docs/satosa.md).
    files = sorted((ROOT / "satosa_plugins").rglob("*.py"))
    assert len(files) >= 8
    for path in files:
        bad = _imports(path) & {"flask", "flask_idp", "werkzeug"}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"

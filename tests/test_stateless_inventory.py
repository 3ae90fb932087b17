"""Every in-process cache is in the committed inventory, which says why losing it is safe.

Instances are stateless: what must outlive a request lives in the database or the shared
store. What a process keeps for itself — caches, per-connection state, per-call scratch — is
listed in ``tests/stateless_inventory.toml`` with why losing it (a restart, another instance
answering) is harmless, or how stale it may be. This test finds such state in ``idp/``,
``flask_idp/`` and ``satosa_plugins/`` by reading the source (AST):

- module-level and class-level mutable containers (``{}``, ``[]``, ``set()``, ``dict()``,
  ``defaultdict(…)``, ``OrderedDict()``, ``deque(…)``, weak dictionaries);
- containers assigned to ``self.…`` in methods;
- dataclass fields made by ``field(default_factory=<container>)`` that are private or belong
  to a dataclass that is not frozen (a frozen dataclass's public fields are values);
- functions memoised by ``functools.lru_cache``, ``functools.cache`` or ``cached_property``;
- ``global`` statements (module state rebound at run time).

A new one without an entry fails naming it; an entry whose state is gone fails too, so the
inventory and docs/operations.md ("In-process state") stay true.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = Path(__file__).with_name("stateless_inventory.toml")
PACKAGES = ("idp", "flask_idp", "satosa_plugins")
_EMPTY = {"dict", "set", "list", "OrderedDict", "Counter", "WeakValueDictionary",
          "WeakKeyDictionary", "WeakSet"}  # fmt: skip
_ANY_ARGS = {"defaultdict", "deque"}
_MEMO = {"lru_cache", "cache", "cached_property"}
LOSS = {"safe", "stale"}


@dataclass(frozen=True)
class Found:
    name: str  # module:Qualified.name
    kind: str  # module, class, instance, field, memo, global
    line: int


def _called(node: ast.expr) -> str | None:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _is_container(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Dict):
        return not value.keys
    if isinstance(value, ast.List | ast.Set):
        return not value.elts
    if isinstance(value, ast.Call):
        name = _called(value)
        return name in _ANY_ARGS or (name in _EMPTY and not value.args)
    return False


def _factory(value: ast.expr | None) -> bool:
    """``field(default_factory=<container>)``."""
    if not isinstance(value, ast.Call) or _called(value) != "field":
        return False
    return any(
        k.arg == "default_factory" and _called(k.value) in _EMPTY | _ANY_ARGS
        for k in value.keywords
    )


def _target(node: ast.stmt) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, ast.AnnAssign):
        return [node.target]
    return []


def _frozen(cls: ast.ClassDef) -> bool:
    for deco in cls.decorator_list:
        if isinstance(deco, ast.Call) and _called(deco) == "dataclass":
            return any(
                k.arg == "frozen" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in deco.keywords
            )
    return False


def _in_class(module: str, cls: ast.ClassDef) -> Iterator[Found]:
    for item in cls.body:
        for target in _target(item):
            if not isinstance(target, ast.Name):
                continue
            value = getattr(item, "value", None)
            name = f"{module}:{cls.name}.{target.id}"
            if _is_container(value):
                yield Found(name, "class", item.lineno)
            elif _factory(value) and (target.id.startswith("_") or not _frozen(cls)):
                yield Found(name, "field", item.lineno)
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
            statements = (n for n in ast.walk(item) if isinstance(n, ast.stmt))
            for statement in statements:
                for target in _target(statement):
                    if (
                        isinstance(target, ast.Attribute)
                        and isinstance(target.value, ast.Name)
                        and target.value.id == "self"
                        and _is_container(getattr(statement, "value", None))
                    ):
                        name = f"{module}:{cls.name}.{target.attr}"
                        yield Found(name, "instance", statement.lineno)


def scan_module(module: str, tree: ast.Module) -> Iterator[Found]:
    for statement in tree.body:
        for target in _target(statement):
            if isinstance(target, ast.Name) and _is_container(getattr(statement, "value", None)):
                yield Found(f"{module}:{target.id}", "module", statement.lineno)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            yield from _in_class(module, node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if any(_called(d) in _MEMO for d in node.decorator_list):
                yield Found(f"{module}:{node.name}", "memo", node.lineno)
            for inner in ast.walk(node):
                if isinstance(inner, ast.Global):
                    yield Found(f"{module}:{','.join(inner.names)}", "global", inner.lineno)


def scan() -> dict[str, Found]:
    found: dict[str, Found] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            for item in scan_module(module, ast.parse(path.read_text(), str(path))):
                found.setdefault(item.name, item)
    return found


def inventory() -> dict[str, dict[str, str]]:
    entries = tomllib.loads(INVENTORY.read_text())["state"]
    return {entry["name"]: entry for entry in entries}


def test_every_in_process_cache_has_an_inventory_entry() -> None:
    listed = inventory()
    missing = [f"{f.name} ({f.kind}, line {f.line})" for f in scan().values()
               if f.name not in listed]  # fmt: skip
    assert not missing, (
        "in-process state without an entry in tests/stateless_inventory.toml (say why losing it "
        "is safe, or how stale it may be, and list bounded-staleness ones in "
        "docs/operations.md): " + "; ".join(missing)
    )


def test_every_inventory_entry_is_still_in_the_code() -> None:
    gone = sorted(set(inventory()) - set(scan()))
    assert not gone, f"inventory entries whose state is no longer in the code: {gone}"


def test_every_entry_says_why_and_stale_ones_are_documented() -> None:
    operations = (ROOT / "docs/operations.md").read_text()
    for name, entry in inventory().items():
        assert entry.get("loss") in LOSS, f"{name}: loss must be one of {sorted(LOSS)}"
        assert len(entry.get("why", "")) >= 20, f"{name}: say why losing it is harmless"
        if entry["loss"] == "stale":
            assert entry.get("bound"), f"{name}: a stale entry names its bound"
            assert f"`{name}`" in operations, f"{name}: list it in docs/operations.md"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("CACHE: dict[str, int] = {}", {"m:CACHE": "module"}),
        ("import functools\n@functools.lru_cache\ndef f(): ...", {"m:f": "memo"}),
        ("class C:\n    seen = set()\n    def go(self):\n        self.k = OrderedDict()",
         {"m:C.seen": "class", "m:C.k": "instance"}),
        ("@dataclass(frozen=True)\nclass D:\n    a: list = field(default_factory=list)\n"
         "    _b: list = field(default_factory=list)", {"m:D._b": "field"}),
        ("@dataclass\nclass E:\n    a: dict = field(default_factory=dict)", {"m:E.a": "field"}),
        ("def f():\n    global X\n    X = 1", {"m:X": "global"}),
        ("NAMES = {'a': 1}\nBAD = set('abc')\nfrom prometheus_client import Counter\n"
         "C = Counter('c', 'd')", {}),
    ],
)  # fmt: skip
def test_the_scanner_finds_state_and_ignores_constants(
    source: str, expected: dict[str, str]
) -> None:
    found = {f.name: f.kind for f in scan_module("m", ast.parse(source))}
    assert found == expected

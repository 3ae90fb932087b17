"""Every configuration key the parsers accept is documented where users look for it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAIRS = [
    ("idp/config/loader.py", "docs/configuration.md"),
    ("idp/config/saml.py", "docs/saml.md"),
    ("idp/config/saml_sp.py", "docs/saml.md"),
    ("idp/config/oidc.py", "docs/oidc.md docs/entra-eam.md"),
    ("idp/config/wsfed.py", "docs/wsfed.md"),
    ("idp/config/passwords.py", "docs/configuration.md docs/passwords.md"),
    ("satosa_plugins/config.py", "docs/satosa.md"),
    ("idp/config/directory.py", "docs/configuration.md"),
    ("idp/config/directory.py", "docs/directory.md"),
    ("idp/config/authenticator.py", "docs/authenticator.md"),
    ("idp/config/workstations.py", "docs/workstations.md"),
    ("idp/config/observability.py", "docs/operations.md"),
]


def accepted_keys(path: Path) -> set[str]:
    """String arguments of ``only_keys(...)`` calls and of module-level ``*_KEYS`` tuples."""
    tree = ast.parse(path.read_text())
    keys: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "only_keys"
        ):
            keys |= {
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            }
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id.endswith("_KEYS") for t in node.targets)
            and isinstance(node.value, ast.Tuple | ast.List)
        ):
            keys |= {
                e.value
                for e in node.value.elts
                if isinstance(e, ast.Constant) and isinstance(e.value, str)
            }
    return keys


@pytest.mark.parametrize(("parser", "doc"), PAIRS)
def test_every_accepted_key_is_documented(parser: str, doc: str) -> None:
    keys = accepted_keys(ROOT / parser)
    assert len(keys) > 5, f"found too few keys in {parser}: the check would be empty"
    text = "\n".join((ROOT / d).read_text() for d in doc.split())
    # `key`, `a.key.b`, and members of inline shapes like `{url, binding: post, index}`
    forms = ("`{k}`", "`{k}.", ".{k}`", ".{k}.", "`{k}:", "{{{k}", ", {k},", ", {k}}}", ", {k}:")
    missing = sorted(k for k in keys if not any(f.format(k=k) in text for f in forms))
    assert not missing, f"{doc} does not document: {', '.join(missing)}"

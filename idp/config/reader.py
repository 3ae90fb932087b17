"""A path-tracking reader over parsed YAML.

Configuration is parsed once, at start, into frozen dataclasses. Each parser walks the YAML
through a :class:`Node`, which knows its file and key path, so that every error names the
file, the key path (``relying_parties[2].acs_urls[0]``) and the reason. Unknown keys are
refused: a typo must not silently become a default.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, overload

import yaml

from idp.errors import ConfigError

T = TypeVar("T")
_MISSING: Any = object()


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (the later one would silently win)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, str | int | float | bool | None):
            # A list or mapping as a key (``? [a, b]``) is unhashable: refuse it as YAML here.
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"keys must be plain values, got {type(key).__name__}",
                key_node.start_mark,
            )
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return dict(loader.construct_pairs(node))


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

MAX_CONFIG_BYTES = 2_000_000


def load_yaml(path: Path) -> Node:
    """Read one YAML file into a :class:`Node`; errors name the file and the line."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(source, "", f"cannot read file: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(source, "", f"file is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = yaml.load(raw, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(source, "", f"invalid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    return Node(data, source, "")


@dataclass(frozen=True)
class Node:
    """A value inside a YAML document together with where it came from."""

    value: Any
    source: str
    path: str

    def error(self, reason: str) -> ConfigError:
        return ConfigError(self.source, self.path or "(top level)", reason)

    def _child_path(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    # -- mappings ---------------------------------------------------------------------------
    def mapping(self) -> Mapping[str, Any]:
        if not isinstance(self.value, dict):
            raise self.error(f"expected a mapping, got {_kind(self.value)}")
        for key in self.value:
            if not isinstance(key, str):
                raise self.error(f"keys must be strings, got {key!r}")
        return self.value

    def only_keys(self, *allowed: str) -> None:
        """Refuse keys other than ``allowed`` (typos must not pass silently)."""
        unknown = sorted(set(self.mapping()) - set(allowed))
        if unknown:
            raise self._at(unknown[0]).error(
                f"unknown key; expected one of: {', '.join(sorted(allowed))}"
            )

    def _at(self, key: str | int) -> Node:
        return Node(None, self.source, self._child_path(key))

    def has(self, key: str) -> bool:
        return key in self.mapping()

    def get(self, key: str) -> Node | None:
        data = self.mapping()
        if key not in data or data[key] is None:
            return None
        return Node(data[key], self.source, self._child_path(key))

    def child(self, key: str) -> Node:
        node = self.get(key)
        if node is None:
            raise self._at(key).error("is required")
        return node

    def items(self) -> Iterator[tuple[str, Node]]:
        for key, value in self.mapping().items():
            yield key, Node(value, self.source, self._child_path(key))

    # -- sequences --------------------------------------------------------------------------
    def elements(self) -> list[Node]:
        if not isinstance(self.value, list):
            raise self.error(f"expected a list, got {_kind(self.value)}")
        return [Node(v, self.source, self._child_path(i)) for i, v in enumerate(self.value)]

    # -- scalars ----------------------------------------------------------------------------
    def as_str(self, *, pattern: str | None = None, max_len: int = 4096) -> str:
        if not isinstance(self.value, str):
            raise self.error(f"expected a string, got {_kind(self.value)}")
        if not self.value:
            raise self.error("must not be empty")
        if len(self.value) > max_len:
            raise self.error(f"longer than {max_len} characters")
        if pattern is not None and not re.fullmatch(pattern, self.value):
            raise self.error(f"{self.value!r} does not match {pattern}")
        return self.value

    def as_int(self, *, min_value: int | None = None, max_value: int | None = None) -> int:
        if isinstance(self.value, bool) or not isinstance(self.value, int):
            raise self.error(f"expected an integer, got {_kind(self.value)}")
        if min_value is not None and self.value < min_value:
            raise self.error(f"must be at least {min_value}, got {self.value}")
        if max_value is not None and self.value > max_value:
            raise self.error(f"must be at most {max_value}, got {self.value}")
        return self.value

    def as_bool(self) -> bool:
        if not isinstance(self.value, bool):
            raise self.error(f"expected true or false, got {_kind(self.value)}")
        return self.value

    def as_choice(self, choices: tuple[str, ...] | list[str]) -> str:
        value = self.as_str()
        if value not in choices:
            raise self.error(f"{value!r} is not one of: {', '.join(choices)}")
        return value

    def as_str_list(self, *, pattern: str | None = None) -> tuple[str, ...]:
        return tuple(e.as_str(pattern=pattern) for e in self.elements())

    def as_path(self, base: Path) -> Path:
        """A file path; relative paths are taken from the directory of the config file."""
        p = Path(self.as_str())
        return p if p.is_absolute() else (base / p)

    def convert(self, fn: Callable[[Any], T]) -> T:
        """Apply ``fn`` to the raw value; its ValueError becomes a path-precise error."""
        try:
            return fn(self.value)
        except (ValueError, TypeError) as exc:
            raise self.error(str(exc)) from None


class ConfigErrors(ConfigError):
    """Several independent parts of the configuration are invalid: every error found.

    Parsers of independent parts (top-level keys, protocol sections, relying-party files,
    clients) go on after a failed part, so one run names every broken part, not only the first.
    Within one part the first error stops that part.
    """

    def __init__(self, errors: Sequence[ConfigError]) -> None:
        flat = tuple(e for error in errors for e in _flatten(error))
        first = flat[0]
        super().__init__(first.source, first.path, first.reason)
        self.errors = flat
        self.description = "; ".join(e.description for e in flat)
        self.args = (self.description,)


def _flatten(error: ConfigError) -> tuple[ConfigError, ...]:
    return error.errors if isinstance(error, ConfigErrors) else (error,)


class Collector:
    """Gathers :class:`ConfigError` from independent parts; :meth:`check` raises them all."""

    def __init__(self) -> None:
        self.errors: list[ConfigError] = []

    def attempt(self, fn: Callable[[], T], fallback: T) -> T:
        try:
            return fn()
        except ConfigError as exc:
            self.errors.append(exc)
            return fallback

    def check(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ConfigErrors(self.errors)


@overload
def optional(node: Node | None, fn: Callable[[Node], T]) -> T | None: ...
@overload
def optional(node: Node | None, fn: Callable[[Node], T], default: T) -> T: ...
def optional(node: Node | None, fn: Callable[[Node], T], default: Any = None) -> Any:
    """``fn(node)`` when the key is present, else ``default``."""
    return default if node is None else fn(node)


def secret_from(node: Node, *, env: Mapping[str, str] | None = None) -> str:
    """Resolve a secret reference: ``{env: NAME}`` or ``{file: PATH}``, never a literal.

    Secrets never live in committed YAML; a literal string here is refused.
    """
    environ = os.environ if env is None else env
    if isinstance(node.value, str):
        raise node.error("secrets must not be written in YAML; use {env: NAME} or {file: PATH}")
    node.only_keys("env", "file")
    if (name_node := node.get("env")) is not None:
        name = name_node.as_str(pattern=r"[A-Za-z_][A-Za-z0-9_]*")
        if name not in environ or not environ[name]:
            raise name_node.error(f"environment variable {name} is not set")
        return environ[name]
    file_node = node.child("file")
    path = file_node.as_path(Path(node.source).parent)
    try:
        return path.read_bytes().decode("utf-8").strip()
    except OSError as exc:
        raise file_node.error(f"cannot read secret file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise file_node.error(
            f"secret file {path} is not UTF-8 text (write binary keys as base64)"
        ) from None


def is_loopback(host: str) -> bool:
    """``localhost`` (or a name under it, RFC 6761) or a loopback address."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a number",
    }.get(type(value), type(value).__name__)

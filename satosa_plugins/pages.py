"""The Flask IdP's own templates and scripts, rendered for the SATOSA plugins (not copies).

The files are found through the installed ``flask_idp`` package's location without importing
it (the plugins never import Flask or ``flask_idp`` code). The templates use two Flask-isms,
``url_for('static', filename=…)`` and ``csrf``; both are supplied here.
"""

from __future__ import annotations

import importlib.util
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from idp.errors import NotFound

STATIC_PATH = "/hideez/static/"
#: a static file name as the templates use them (no directories, no dots beyond the suffix)
STATIC_NAME = re.compile(r"[a-z_]{1,40}\.(?:js|css)")

TITLES = {
    400: "The request could not be used",
    401: "Sign-in did not succeed",
    403: "Access denied",
    404: "Not found",
    409: "Conflict",
    413: "The request is too large",
    429: "Too many attempts",
    500: "Something went wrong on our side",
}


def flask_idp_dir() -> Path:
    spec = importlib.util.find_spec("flask_idp")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the hideez-idp package (flask_idp templates) is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    content_type: str


class Pages:
    """One Jinja environment over the shared templates, and the shared static files."""

    def __init__(self, root: Path | None = None) -> None:
        root = root or flask_idp_dir()
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(root / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self._env.globals["url_for"] = _url_for
        # Read once at start: a request path never touches the disk.
        self._static = {
            p.name: StaticFile(p.read_bytes(), _content_type(p))
            for p in (root / "static").iterdir()
            if STATIC_NAME.fullmatch(p.name)
        }

    def render(self, name: str, **values: Any) -> str:
        return self._env.get_template(f"{name}.html").render(**values)

    def error(self, *, status: int, description: str, error_id: str) -> str:
        return self.render(
            "error",
            title=TITLES.get(status, TITLES[500]),
            description=description,
            error_id=error_id,
        )

    def static(self, name: str) -> StaticFile:
        found = self._static.get(name)
        if found is None:
            raise NotFound(f"no static file {name[:60]!r}")
        return found


def _url_for(endpoint: str, *, filename: str) -> str:
    if endpoint != "static":
        raise ValueError(f"the SATOSA pages link static files only, not {endpoint!r}")
    return STATIC_PATH + filename


def _content_type(path: Path) -> str:
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{kind}; charset=utf-8"

"""Argument helpers shared by the ``hideez-idp`` sub-commands."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from idp.errors import InvalidRequest


def read_secret(path: Path | None, prompt: str) -> str:
    """A secret from a prompt (no ``path``), stdin (``-``) or a file, without its newline:
    never from the command line, where other users and the shell history would see it."""
    if path is None:
        return getpass.getpass(prompt)
    if str(path) == "-":
        return sys.stdin.readline().rstrip("\n")
    try:
        return path.read_text(encoding="utf-8").rstrip("\n")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"cannot read {path}: {exc.__class__.__name__}") from None


def add_id_argument(parser: argparse.ArgumentParser, dest: str, *, text: str) -> None:
    """An id as a positional *or* as ``--<dest>=ID`` (``credential_id`` → ``--credential-id``).

    Base64url credential ids and OIDC client ids may begin with ``-``, which argparse reads as an
    option: such an id is given as ``--credential-id=-ID`` (or after ``--``). Exactly one of the
    two forms is required; both land in ``args.<dest>``.
    """
    option = "--" + dest.replace("_", "-")
    metavar = dest.upper()
    either = parser.add_mutually_exclusive_group(required=True)
    # SUPPRESS: an absent positional must not overwrite the option's value with None
    either.add_argument(dest, nargs="?", default=argparse.SUPPRESS, metavar=metavar, help=text)
    either.add_argument(option, dest=dest, metavar=metavar, help=f"the same; {option}=-ID")

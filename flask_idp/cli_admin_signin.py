"""``hideez-idp admin-user set-password|totp-enable|totp-disable|recovery-codes|unlock``:
an admin account's console sign-in credentials (:mod:`idp.admin.credentials`).

The TOTP secret, its ``otpauth://`` URI (and, on a terminal, a QR code of it) and the
recovery codes are printed once, when made; nothing can print them again.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from idp.admin.access import CLI
from idp.errors import InvalidRequest

if TYPE_CHECKING:
    from idp.admin.services import AdminServices

_Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"
_Command: TypeAlias = Callable[[_Sub, str, str], argparse.ArgumentParser]
#: the ``admin-user`` actions this module runs
ACTIONS = frozenset({"set-password", "totp-enable", "totp-disable", "recovery-codes", "unlock"})
_MAX_PASSWORD_FILE = 4096


def add_parsers(admins: _Sub, command: _Command) -> None:
    password = command(admins, "set-password", "set an admin's console password (argon2id)")
    password.add_argument("username")
    password.add_argument(
        "--password-file",
        type=Path,
        help="read the password from this file ('-' for stdin); else a prompt, twice",
    )
    for name, text in (
        ("totp-enable", "give an admin a TOTP secret and 10 recovery codes (shown once)"),
        ("totp-disable", "remove an admin's TOTP and recovery codes"),
        ("recovery-codes", "replace an admin's recovery codes with 10 new ones (shown once)"),
        ("unlock", "lift the lock that 10 wrong sign-in attempts set"),
    ):
        command(admins, name, text).add_argument("username")


def _password(args: argparse.Namespace) -> str:
    source: Path | None = args.password_file
    if source is None:
        first = getpass.getpass(f"new console password of {args.username}: ")
        if getpass.getpass("again: ") != first:
            raise InvalidRequest("the two passwords differ; nothing was changed")
        return first
    text = sys.stdin.read(_MAX_PASSWORD_FILE + 1) if str(source) == "-" else source.read_text()
    if len(text) > _MAX_PASSWORD_FILE:
        raise InvalidRequest(f"the password file is longer than {_MAX_PASSWORD_FILE} bytes")
    return text.rstrip("\n")


def _print_qr(uri: str) -> None:
    # Only on a terminal: a script reading stdout wants the lines above, not block art.
    if sys.stdout.isatty():
        import segno

        segno.make(uri, error="m").terminal(compact=True)


def run(svc: AdminServices, args: argparse.Namespace) -> None:
    name, creds = args.username, svc.credentials
    if args.action == "set-password":
        creds.set_password(CLI, name, _password(args))
        print(f"console password of {name} set")
    elif args.action == "totp-enable":
        made = creds.enable_totp(CLI, name)
        print(f"TOTP enabled for {name}. Add it to an authenticator app (shown this once):")
        print(f"  secret: {made.secret}")
        print(f"  URI:    {made.uri}")
        _print_qr(made.uri)
        _print_codes(made.recovery_codes)
    elif args.action == "totp-disable":
        creds.disable_totp(CLI, name)
        print(f"TOTP and recovery codes of {name} removed; enabling again makes new ones")
    elif args.action == "recovery-codes":
        _print_codes(creds.new_recovery_codes(CLI, name))
    else:
        was = creds.unlock(CLI, name)
        print(f"{name} {'unlocked' if was else 'was not locked'}")


def _print_codes(codes: tuple[str, ...]) -> None:
    print("recovery codes (each works once; the old ones no longer do):")
    for code in codes:
        print(f"  {code}")

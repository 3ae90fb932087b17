"""Re-authentication at the shell, for the actions that need a person who has just proved who
they are (lifting the alarm, marking a key compromised): the admin names themselves with
``--admin`` and re-enters their password — prompted, or read from ``--password-file`` (``-``
for stdin) — checked with the same lockout as a sign-in. The actor that comes back carries
the time of that proof, which the core's
:func:`~idp.admin.access.require_recent_sign_in` reads; the bare CLI operator never passes it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from flask_idp.cli_args import read_secret
from idp.admin.access import Actor, Role
from idp.runtime import Runtime


def add_arguments(parser: argparse.ArgumentParser, *, who: str) -> None:
    """``--admin NAME`` (``who`` says who qualifies) and ``--password-file FILE``."""
    parser.add_argument("--admin", required=True, help=who)
    parser.add_argument(
        "--password-file",
        type=Path,
        help="read the password from this file ('-' for stdin); else a prompt",
    )


def reauthenticate(
    runtime: Runtime,
    args: argparse.Namespace,
    *,
    role: Role,
    admin_id: str | None = None,
) -> Actor:
    """The admin ``args.admin`` proves who they are now with their password (the two-factor
    mode's); the caller has checked that they may act, with ``role``."""
    from idp.factors.password_signin import check_password_attempt

    username: str = args.admin
    employee = runtime.employees.get_by_username(username)
    use = check_password_attempt(
        repository=runtime.passwords,
        ephemeral=runtime.ephemeral,
        employee=employee,
        username=username,
        password=read_secret(args.password_file, f"password of {username}: "),
        client_ip="cli",
        now=runtime.now(),
        params=runtime.password_params,
        limits=runtime.config.passwords.limits,
    )
    return Actor(
        name=f"admin:{username}", role=role, admin_id=admin_id,
        employee_id=employee.id if employee else None, auth_time=use.at, auth_method="pwd",
    )  # fmt: skip

"""``hideez-idp client add``: register an OIDC client with a generated secret.

Prints a YAML entry for the clients file and writes the secret to a file (mode 0600) that the
entry references with ``{file: …}``, so the secret never lands in the YAML itself.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
from pathlib import Path

from idp.oidc.clients import AUTH_METHODS, MIN_SECRET_LENGTH, STANDARD_SCOPES

_CLIENT_ID = re.compile(r"[A-Za-z0-9._~\-]{3,128}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hideez-idp client add",
                                     description="Register an OpenID Connect client.")  # fmt: skip
    parser.add_argument("client_id", help="the client id (3-128 of A-Z a-z 0-9 . _ ~ -)")
    parser.add_argument("--name", help="display name (default: the client id)")
    parser.add_argument("--redirect-uri", action="append", required=True, dest="redirect_uris")
    parser.add_argument("--post-logout-redirect-uri", action="append", default=[],
                        dest="post_logout")  # fmt: skip
    parser.add_argument("--auth-method", choices=AUTH_METHODS, default="client_secret_basic")
    parser.add_argument("--public", action="store_true", help="a public client (PKCE, no secret)")
    parser.add_argument("--scope", action="append", choices=STANDARD_SCOPES, dest="scopes")
    parser.add_argument("--policy", help="policy name from idp.yaml (default: default)")
    parser.add_argument(
        "--secret-file",
        type=Path,
        help="where to write the secret (default: secrets/oidc-<client_id>)",
    )
    parser.add_argument("--clients-file", type=Path, help="append the entry to this YAML file")
    return parser


def add_client(argv: list[str]) -> int:
    """Entry point for ``hideez-idp client add …``; returns the process exit code."""
    args = _parser().parse_args(argv)
    if not _CLIENT_ID.fullmatch(args.client_id):
        print(f"error: client id {args.client_id!r} is not 3-128 of A-Z a-z 0-9 . _ ~ -",
              file=sys.stderr)  # fmt: skip
        return 2
    method = "none" if args.public else args.auth_method
    # Values are written as JSON strings (valid YAML): a name such as "Wiki #2: docs" or a URI
    # with a comma would otherwise be cut at the comment, fail to parse, or split in two.
    lines = [f"  - client_id: {args.client_id}", f"    name: {_q(args.name or args.client_id)}"]
    if args.public:
        lines.append("    public: true")
    lines.append(f"    token_endpoint_auth_method: {method}")
    if method in ("client_secret_basic", "client_secret_post"):
        path = args.secret_file or Path("secrets") / f"oidc-{args.client_id}"
        secret = secrets.token_urlsafe(48)
        assert len(secret) >= MIN_SECRET_LENGTH
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600, exist_ok=False)
        path.write_text(secret + "\n")
        lines.append(f"    secret: {{file: {_q(str(path))}}}")
        print(f"secret written to {path} (give it to the relying party; it is shown once):")
        print(secret)
    lines.append(f"    redirect_uris: {_qs(args.redirect_uris)}")
    if args.post_logout:
        lines.append(f"    post_logout_redirect_uris: {_qs(args.post_logout)}")
    if args.scopes:
        lines.append("    scopes: [" + ", ".join(dict.fromkeys(["openid", *args.scopes])) + "]")
    if args.policy:
        lines.append(f"    policy: {_q(args.policy)}")
    if method == "private_key_jwt":
        lines.append("    jwks_file: <the client's public JWK set, JSON>")
    entry = "\n".join(lines) + "\n"
    if args.clients_file is not None:
        existing = args.clients_file.read_text() if args.clients_file.exists() else "clients:\n"
        args.clients_file.write_text(existing.rstrip("\n") + "\n" + entry)
        print(f"added to {args.clients_file}; restart the IdP to load it")
    else:
        print("add this entry under 'clients:' in the clients file:")
        print(entry, end="")
    return 0


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _qs(values: list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"

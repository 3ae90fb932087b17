"""``hideez-idp client add|list|show|rotate-secret|remove``: the OpenID Connect clients file.

The clients file is the one ``oidc.clients_file`` of the configuration names (or
``--clients-file``). Secrets go to files (mode 0600) that the entry references with
``{file: …}``, written relative to the clients file, which is where the loader reads them, so
a secret never lands in the YAML. Every change is written to a temporary file beside the
clients file, loaded by the same parser the IdP uses, and only then put in place: a change that
would not load stores nothing. The IdP reads the file at start: restart it after a change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeAlias

import yaml

from flask_idp.cli_args import add_id_argument
from idp.config.oidc import load_clients
from idp.config.reader import load_yaml
from idp.errors import Conflict, InvalidRequest, NotFound
from idp.oidc.clients import AUTH_METHODS, MIN_SECRET_LENGTH, STANDARD_SCOPES, Client

_CLIENT_ID = re.compile(r"[A-Za-z0-9._~\-]{3,128}")
_Sub: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class ClientCommandError(InvalidRequest):
    """A ``client`` command cannot do what was asked; nothing was changed."""

    error = "client_command_failed"


def add_client_parsers(
    sub: _Sub, command: Callable[[_Sub, str, str], argparse.ArgumentParser]
) -> None:
    add = command(sub, "add", "register a client: an entry in the clients file and a secret")
    add_id_argument(add, "client_id", text="the client id (3-128 of A-Z a-z 0-9 . _ ~ -)")
    add.add_argument("--name", help="display name (default: the client id)")
    add.add_argument("--redirect-uri", action="append", required=True, dest="redirect_uris")
    add.add_argument("--post-logout-redirect-uri", action="append", default=[],
                     dest="post_logout")  # fmt: skip
    add.add_argument("--auth-method", choices=AUTH_METHODS, default="client_secret_basic")
    add.add_argument("--public", action="store_true", help="a public client (PKCE, no secret)")
    add.add_argument("--scope", action="append", choices=STANDARD_SCOPES, dest="scopes")
    add.add_argument("--policy", help="policy name from idp.yaml (default: default)")
    add.add_argument(
        "--allow-http", action="store_true", help="allow plain-http redirect URIs off localhost"
    )
    add.add_argument("--secret-file", type=Path,
                     help="where to write the secret (default: secrets/oidc-<client_id> "
                          "beside the clients file)")  # fmt: skip
    command(sub, "list", "list the registered clients")
    for name, text in (
        ("show", "show one client (never its secret)"),
        ("rotate-secret", "give a client a new secret (the old one stops working at restart)"),
        ("remove", "remove a client and its secret file"),
    ):
        add_id_argument(command(sub, name, text), "client_id", text="the client id")
    for parser in sub.choices.values():
        parser.add_argument(
            "--clients-file", type=Path, help="the clients YAML (default: oidc.clients_file)"
        )


def run_client_command(args: argparse.Namespace, config_path: Path) -> int:
    clients_file, policies = _clients_file(args.clients_file, config_path)
    action = args.action
    if action == "add":
        return _add(args, clients_file, policies)
    registry = load_clients(clients_file, policies=policies, env=os.environ)
    if action == "list":
        print(f"{'CLIENT ID':<28} {'NAME':<28} {'AUTH METHOD':<20} REDIRECT URIS")
        for c in registry.clients.values():
            print(f"{c.client_id:<28} {c.name:<28} {c.token_endpoint_auth_method:<20} "
                  f"{', '.join(c.redirect_uris)}")  # fmt: skip
        print(f"({len(registry.clients)} clients in {clients_file})")
        return 0
    client = registry.get(args.client_id)
    if client is None:
        raise NotFound(f"no client {args.client_id!r} in {clients_file}")
    if action == "show":
        print(_show(client, _secret_ref(clients_file, client.client_id)))
        return 0
    if action == "rotate-secret":
        return _rotate(clients_file, client)
    return _remove(clients_file, client, policies)


def _clients_file(given: Path | None, config_path: Path) -> tuple[Path, Mapping[str, object]]:
    root = load_yaml(config_path)
    policies = dict(root.child("policies").items())
    if given is not None:
        return given, policies
    oidc = root.get("oidc")
    if oidc is None or oidc.get("clients_file") is None:
        raise ClientCommandError(
            f"{config_path} has no oidc.clients_file: add 'oidc: {{clients_file: "
            "oidc_clients.yaml}' to it (or pass --clients-file)"
        )
    return oidc.child("clients_file").as_path(config_path.parent), policies


def _add(args: argparse.Namespace, clients_file: Path, policies: Mapping[str, object]) -> int:
    if not _CLIENT_ID.fullmatch(args.client_id):
        raise ClientCommandError(
            f"client id {args.client_id!r} is not 3-128 of A-Z a-z 0-9 . _ ~ -"
        )
    existing = clients_file.read_text() if clients_file.exists() else "clients:\n"
    if args.client_id in load_clients_ids(existing):
        raise Conflict(f"client {args.client_id!r} is already in {clients_file}")
    method = "none" if args.public else args.auth_method
    if method == "private_key_jwt":
        raise ClientCommandError(
            "private_key_jwt clients need the client's public JWK set: write that entry by "
            "hand with jwks_file (see config/oidc_clients.example.yaml)"
        )
    # Values are written as JSON strings (valid YAML): a name such as "Wiki #2: docs" or a URI
    # with a comma would otherwise be cut at the comment, fail to parse, or split in two.
    lines = [f"  - client_id: {args.client_id}", f"    name: {_q(args.name or args.client_id)}"]
    if args.public:
        lines.append("    public: true")
    lines.append(f"    token_endpoint_auth_method: {method}")
    secret_path = None
    if method in ("client_secret_basic", "client_secret_post"):
        default = clients_file.parent / "secrets" / f"oidc-{args.client_id}"
        secret_path = (args.secret_file or default).absolute()
        lines.append(
            f"    secret: {{file: {_q(os.path.relpath(secret_path, clients_file.parent))}}}"
        )
    lines.append(f"    redirect_uris: {_qs(args.redirect_uris)}")
    if args.post_logout:
        lines.append(f"    post_logout_redirect_uris: {_qs(args.post_logout)}")
    if args.scopes:
        lines.append("    scopes: [" + ", ".join(dict.fromkeys(["openid", *args.scopes])) + "]")
    if args.policy:
        lines.append(f"    policy: {_q(args.policy)}")
    if args.allow_http:
        lines.append("    allow_http: true")
    secret = secrets.token_urlsafe(48)
    assert len(secret) >= MIN_SECRET_LENGTH
    text = _with_clients_list(existing).rstrip("\n") + "\n" + "\n".join(lines) + "\n"
    if secret_path is not None:
        _write_new_secret(secret_path, secret)
    try:
        _replace_checked(clients_file, text, policies)
    except BaseException:
        if secret_path is not None:
            secret_path.unlink()
        raise
    print(f"added client {args.client_id} to {clients_file}; restart the IdP to load it")
    if secret_path is not None:
        print(f"secret written to {secret_path} (give it to the relying party):")
        print(secret)
    return 0


def load_clients_ids(text: str) -> set[str]:
    data = yaml.safe_load(text) or {}
    items = data.get("clients") if isinstance(data, dict) else None
    return {str(i.get("client_id")) for i in items or [] if isinstance(i, dict)}


def _with_clients_list(text: str) -> str:
    # An empty list written as "clients: []" cannot take appended block items.
    return re.sub(r"(?m)^clients:\s*\[\s*\]\s*$", "clients:", text)


def _rotate(clients_file: Path, client: Client) -> int:
    ref = _secret_ref(clients_file, client.client_id)
    if client.secret is None or ref is None:
        raise ClientCommandError(
            f"client {client.client_id!r} uses {client.token_endpoint_auth_method}: no secret"
        )
    secret = secrets.token_urlsafe(48)
    kind, where = ref
    if kind == "env":
        print(f"client {client.client_id} reads its secret from ${where}; set it to:")
        print(secret)
        return 0
    path = Path(where) if Path(where).is_absolute() else clients_file.parent / where
    temporary = path.with_name(path.name + ".new")
    temporary.unlink(missing_ok=True)
    _write_new_secret(temporary, secret)
    temporary.replace(path)
    print(f"new secret written to {path}; restart the IdP, then give it to the relying party:")
    print(secret)
    return 0


def _remove(clients_file: Path, client: Client, policies: Mapping[str, object]) -> int:
    text = clients_file.read_text()
    start, end = _entry_lines(text, client.client_id)
    lines = text.splitlines(keepends=True)
    _replace_checked(clients_file, "".join(lines[:start] + lines[end:]), policies)
    print(f"removed client {client.client_id} from {clients_file}; restart the IdP")
    ref = _secret_ref_in(text, client.client_id)
    if ref is not None and ref[0] == "file":
        path = Path(ref[1]) if Path(ref[1]).is_absolute() else clients_file.parent / ref[1]
        path.unlink(missing_ok=True)
        print(f"deleted its secret file {path}")
    return 0


def _entry_lines(text: str, client_id: str) -> tuple[int, int]:
    """The lines (start, end) of a client's item in the ``clients:`` list, comments kept."""
    root = yaml.compose(text)
    assert isinstance(root, yaml.MappingNode)
    items = next(v for k, v in root.value if k.value == "clients")
    assert isinstance(items, yaml.SequenceNode)
    if items.flow_style:
        raise ClientCommandError(
            "the clients list is written in flow style ([...]); remove the entry by hand"
        )
    for index, item in enumerate(items.value):
        ids = [v.value for k, v in item.value if k.value == "client_id"]
        if ids == [client_id]:
            following = items.value[index + 1] if index + 1 < len(items.value) else None
            end = following.start_mark.line if following else items.end_mark.line
            if following is None and items.end_mark.column > 0:
                end += 1
            return item.start_mark.line, end
    raise NotFound(f"no client {client_id!r}")  # pragma: no cover - loaded just before


def _secret_ref(clients_file: Path, client_id: str) -> tuple[str, str] | None:
    return _secret_ref_in(clients_file.read_text(), client_id)


def _secret_ref_in(text: str, client_id: str) -> tuple[str, str] | None:
    for item in (yaml.safe_load(text) or {}).get("clients") or []:
        if item.get("client_id") == client_id and isinstance(item.get("secret"), dict):
            ((kind, where),) = item["secret"].items()
            return str(kind), str(where)
    return None


def _replace_checked(clients_file: Path, text: str, policies: Mapping[str, object]) -> None:
    temporary = clients_file.with_name(f".{clients_file.name}.new")
    clients_file.parent.mkdir(parents=True, exist_ok=True)
    temporary.write_text(text)
    try:
        # The same parser as the IdP's start: what is written is what will load.
        load_clients(temporary, policies=policies, env=os.environ)
    except BaseException:
        temporary.unlink()
        raise
    temporary.replace(clients_file)


def _write_new_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Conflict(f"{path} exists; refusing to overwrite a secret") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")


def _show(client: Client, ref: tuple[str, str] | None) -> str:
    secret = f"{{{ref[0]}: {ref[1]}}}" if ref else "none"
    rows = [
        ("client id", client.client_id), ("name", client.name),
        ("auth method", client.token_endpoint_auth_method), ("secret", secret),
        ("redirect URIs", ", ".join(client.redirect_uris)),
        ("post-logout URIs", ", ".join(client.post_logout_redirect_uris) or "-"),
        ("scopes", " ".join(sorted(client.scopes))), ("policy", client.policy or "default"),
        ("subject type", client.subject_type),
        ("id_token alg", client.id_token_signed_response_alg),
        ("require PKCE", "yes" if client.require_pkce else "no"),
        ("refresh tokens", "yes" if client.refresh_tokens else "no"),
        ("require consent", "yes" if client.require_consent else "no"),
    ]  # fmt: skip
    return "\n".join(f"{label + ':':<18}{value}" for label, value in rows)


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _qs(values: list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"

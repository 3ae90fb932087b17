from __future__ import annotations

from pathlib import Path

from flask_idp.cli_oidc import add_client
from idp.config.oidc import load_clients


def test_client_add_writes_a_loadable_entry_and_a_long_secret(tmp_path: Path, capsys) -> None:
    clients = tmp_path / "clients.yaml"
    secret = tmp_path / "s" / "gitlab.secret"
    code = add_client(
        [
            "gitlab",
            "--redirect-uri",
            "https://gitlab.example.com/cb",
            "--scope",
            "email",
            "--secret-file",
            str(secret),
            "--clients-file",
            str(clients),
        ]
    )
    assert code == 0
    assert secret.stat().st_mode & 0o077 == 0
    assert len(secret.read_text().strip()) >= 32
    registry = load_clients(clients, policies={"default": object()}, env={})
    client = registry.get("gitlab")
    assert client is not None and client.secret == secret.read_text().strip()
    assert client.scopes == frozenset({"openid", "email"})
    assert secret.read_text().strip() in capsys.readouterr().out


def test_client_add_refuses_bad_id(capsys) -> None:
    assert add_client(["a b", "--redirect-uri", "https://x/cb"]) == 2

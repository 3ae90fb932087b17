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


def test_client_add_quotes_values_that_yaml_would_misread(tmp_path: Path) -> None:
    # " #" starts a YAML comment, ": " a mapping, "," splits a flow sequence.
    clients = tmp_path / "clients.yaml"
    name = "Wiki #2: docs, staff"
    uris = ["https://wiki.example.com/cb?a=1,2", "https://wiki.example.com/cb2"]
    code = add_client(
        ["wiki", "--name", name, "--redirect-uri", uris[0], "--redirect-uri", uris[1],
         "--post-logout-redirect-uri", "https://wiki.example.com/bye?x=1,2",
         "--secret-file", str(tmp_path / "wiki secret #1"), "--clients-file", str(clients)]
    )  # fmt: skip
    assert code == 0
    client = load_clients(clients, policies={"default": object()}, env={}).get("wiki")
    assert client is not None
    assert client.name == name
    assert client.redirect_uris == tuple(uris)
    assert client.post_logout_redirect_uris == ("https://wiki.example.com/bye?x=1,2",)
    assert client.secret == (tmp_path / "wiki secret #1").read_text().strip()

"""``hideez-idp client …`` through ``main()``: what it writes is what the IdP loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from flask_idp.cli import main
from flask_idp.demo import prepare
from idp.config.loader import load_config
from idp.config.oidc import OidcSettings


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    path.write_text(path.read_text() + "oidc:\n  clients_file: clients/oidc.yaml\n")
    (path.parent / "clients").mkdir()
    (path.parent / "clients/oidc.yaml").write_text("# our clients\nclients: []\n")
    return path


def _clients(config: Path) -> OidcSettings:
    settings = load_config(config).protocols["oidc"]
    assert isinstance(settings, OidcSettings)
    return settings


def _add(config: Path, client_id: str, *extra: str) -> int:
    return main(["client", "add", client_id, "--config", str(config),
                 "--redirect-uri", f"https://{client_id}.example.com/cb", *extra])  # fmt: skip


def test_add_from_another_directory_writes_the_secret_where_the_loader_reads_it(
    config: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert _add(config, "gitlab", "--scope", "email") == 0
    out = capsys.readouterr().out
    secret_file = config.parent / "clients/secrets/oidc-gitlab"
    assert secret_file.stat().st_mode & 0o077 == 0
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32 and secret in out
    assert not (elsewhere / "secrets").exists()
    client = _clients(config).clients.get("gitlab")
    assert client is not None and client.secret == secret
    assert client.scopes == frozenset({"openid", "email"})
    assert "# our clients" in (config.parent / "clients/oidc.yaml").read_text()


def test_client_id_from_the_environment_config(
    config: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HIDEEZ_IDP_CONFIG", str(config))
    assert main(["client", "add", "wiki", "--redirect-uri", "https://wiki.example.com/cb"]) == 0
    assert main(["client", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-3].split()[:2] == ["CLIENT", "ID"]
    assert lines[-2].split() == ["wiki", "wiki", "client_secret_basic",
                                 "https://wiki.example.com/cb"]  # fmt: skip


def test_values_yaml_would_misread_are_quoted(config: Path, tmp_path: Path) -> None:
    name = "Wiki #2: docs, staff"
    uris = ["https://wiki.example.com/cb?a=1,2", "https://wiki.example.com/cb2"]
    secret = tmp_path / "wiki secret #1"
    assert main(["client", "add", "wiki", "--config", str(config), "--name", name,
                 "--redirect-uri", uris[0], "--redirect-uri", uris[1],
                 "--post-logout-redirect-uri", "https://wiki.example.com/bye?x=1,2",
                 "--secret-file", str(secret)]) == 0  # fmt: skip
    client = _clients(config).clients.get("wiki")
    assert client is not None
    assert (client.name, client.redirect_uris) == (name, tuple(uris))
    assert client.post_logout_redirect_uris == ("https://wiki.example.com/bye?x=1,2",)
    assert client.secret == secret.read_text().strip()


def test_public_client_has_no_secret(config: Path) -> None:
    assert _add(config, "spa", "--public") == 0
    client = _clients(config).clients.get("spa")
    assert client is not None and client.secret is None
    assert client.token_endpoint_auth_method == "none"
    assert not (config.parent / "clients/secrets").exists()


@pytest.mark.parametrize(
    ("client_id", "extra", "message"),
    [
        ("a b", [], "is not 3-128 of"),
        ("web", ["--redirect-uri", "http://web.example.com/cb"], "plain http is only allowed"),
        ("web", ["--policy", "strictt"], "no policy named 'strictt'"),
        ("web", ["--auth-method", "private_key_jwt"], "need the client's public JWK set"),
    ],
)
def test_a_refused_add_stores_nothing(
    config: Path, capsys: pytest.CaptureFixture[str], client_id: str, extra: list[str],
    message: str,
) -> None:  # fmt: skip
    before = (config.parent / "clients/oidc.yaml").read_text()
    assert _add(config, client_id, *extra) == 2
    assert message in capsys.readouterr().err
    assert (config.parent / "clients/oidc.yaml").read_text() == before
    assert not list((config.parent / "clients").glob("secrets/*"))
    assert not list((config.parent / "clients").glob(".*"))


def test_allow_http_is_explicit_per_client(config: Path) -> None:
    assert _add(config, "lab", "--redirect-uri", "http://lab.internal/cb", "--allow-http") == 0
    client = _clients(config).clients.get("lab")
    assert client is not None and "http://lab.internal/cb" in client.redirect_uris


def test_duplicate_id_is_refused(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(config, "gitlab") == 0
    secret = (config.parent / "clients/secrets/oidc-gitlab").read_text()
    assert _add(config, "gitlab") == 2
    assert "already in" in capsys.readouterr().err
    assert (config.parent / "clients/secrets/oidc-gitlab").read_text() == secret


def test_show_rotate_and_remove(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(config, "gitlab") == 0 and _add(config, "wiki") == 0
    old = _clients(config).clients.get("gitlab")
    assert old is not None
    capsys.readouterr()
    assert main(["client", "show", "gitlab", "--config", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "secret:           {file: secrets/oidc-gitlab}" in shown
    assert old.secret is not None and old.secret not in shown
    assert main(["client", "rotate-secret", "gitlab", "--config", str(config)]) == 0
    new = _clients(config).clients.get("gitlab")
    assert new is not None and new.secret != old.secret
    assert new.secret is not None and new.secret in capsys.readouterr().out
    assert main(["client", "remove", "gitlab", "--config", str(config)]) == 0
    assert set(_clients(config).clients.clients) == {"wiki"}
    assert not (config.parent / "clients/secrets/oidc-gitlab").exists()
    assert main(["client", "remove", "gitlab", "--config", str(config)]) == 2
    assert "no client 'gitlab'" in capsys.readouterr().err


def test_a_client_id_that_begins_with_a_dash(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["client", "add", "--client-id=-wiki", "--config", str(config),
                 "--redirect-uri", "https://wiki.example.com/cb"]) == 0  # fmt: skip
    assert set(_clients(config).clients.clients) == {"-wiki"}
    assert main(["client", "show", "--config", str(config), "--client-id=-wiki"]) == 0
    assert "-wiki" in capsys.readouterr().out
    assert main(["client", "rotate-secret", "--client-id=-wiki", "--config", str(config)]) == 0
    with pytest.raises(SystemExit) as exited:  # without the option form: argparse's own error
        main(["client", "remove", "-wiki", "--config", str(config)])
    assert exited.value.code == 2
    assert main(["client", "remove", "--config", str(config), "--", "-wiki"]) == 0
    assert set(_clients(config).clients.clients) == set()


def test_rotate_refuses_a_public_client(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _add(config, "spa", "--public") == 0
    assert main(["client", "rotate-secret", "spa", "--config", str(config)]) == 2
    assert "uses none: no secret" in capsys.readouterr().err


def test_help_and_unknown_actions(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["client", "--help"])
    assert exited.value.code == 0
    assert "rotate-secret" in capsys.readouterr().out
    for argv in (["client", "list-all"], ["client", "--redirect-uri", "https://x/cb", "add"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2


def test_config_without_oidc_says_how(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = prepare(tmp_path / "demo", port=18080, sp_port=18081)
    assert main(["client", "list", "--config", str(config)]) == 2
    assert "has no oidc.clients_file" in capsys.readouterr().err


def test_remove_the_last_entry_keeps_the_others_and_their_comments(config: Path) -> None:
    assert _add(config, "gitlab") == 0 and _add(config, "wiki") == 0
    assert main(["client", "remove", "wiki", "--config", str(config)]) == 0
    assert main(["client", "remove", "gitlab", "--config", str(config)]) == 0
    assert _add(config, "spa", "--public") == 0
    assert set(_clients(config).clients.clients) == {"spa"}
    assert (config.parent / "clients/oidc.yaml").read_text().startswith("# our clients\n")

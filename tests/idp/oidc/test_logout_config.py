"""The logout registration keys of the clients file (Back-Channel Logout 1.0 §2.2,
Front-Channel Logout 1.0 §2) and the ``oidc.backchannel_logout`` section: good values load,
hostile ones are refused with the file and key path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from idp.config.loader import load_config
from idp.config.oidc import load_clients
from idp.errors import ConfigError
from idp.keys import generate_self_signed
from idp.oidc.clients import Client
from idp.oidc.logout_channels import BackchannelSettings

ROOT = Path(__file__).resolve().parents[3]


def load(tmp_path: Path, entry: dict[str, object]) -> Client:
    client: dict[str, object] = {
        "client_id": "app",
        "secret": {"env": "APP_SECRET"},
        "redirect_uris": ["https://app.example.com/cb", "http://localhost:8080/cb"],
    }
    client.update(entry)
    path = tmp_path / "clients.yaml"
    path.write_text(yaml.safe_dump({"clients": [client]}))
    registry = load_clients(path, policies={"default": object()}, env={"APP_SECRET": "s" * 40})
    return registry.clients["app"]


def test_logout_keys_default_to_no_channel(tmp_path: Path) -> None:
    client = load(tmp_path, {})
    assert client.backchannel_logout_uri is None and client.frontchannel_logout_uri is None
    assert not client.backchannel_logout_session_required
    assert not client.frontchannel_logout_session_required


def test_good_logout_registrations_load(tmp_path: Path) -> None:
    client = load(tmp_path, {
        "backchannel_logout_uri": "https://api.example.net:8443/oidc/logout?tenant=7",
        "backchannel_logout_session_required": True,
        "frontchannel_logout_uri": "https://APP.example.com:443/signout?from=idp",
        "frontchannel_logout_session_required": True,
    })  # fmt: skip
    assert client.backchannel_logout_uri == "https://api.example.net:8443/oidc/logout?tenant=7"
    assert client.frontchannel_logout_uri == "https://APP.example.com:443/signout?from=idp"
    assert client.backchannel_logout_session_required
    assert client.frontchannel_logout_session_required


@pytest.mark.parametrize(
    "uri", ["http://localhost:9000/bc", "http://127.0.0.5/bc", "http://[::1]:9000/bc"]
)
def test_plain_http_is_accepted_on_loopback_for_confidential_clients(
    tmp_path: Path, uri: str
) -> None:
    assert load(tmp_path, {"backchannel_logout_uri": uri}).backchannel_logout_uri == uri


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("backchannel_logout_uri", "javascript:alert(1)", "absolute https URL"),
        ("backchannel_logout_uri", "data:text/html,<script>x</script>", "absolute https URL"),
        ("backchannel_logout_uri", "ftp://rp.example/bc", "absolute https URL"),
        ("backchannel_logout_uri", "/relative/logout", "absolute https URL"),
        ("backchannel_logout_uri", "https:///no-host", "absolute https URL"),
        ("backchannel_logout_uri", "https://rp.example/bc#frag", "fragment"),
        ("backchannel_logout_uri", "https://rp.example/bc#", "fragment"),
        ("backchannel_logout_uri", "http://rp.example/bc", "loopback host"),
        ("backchannel_logout_uri", "http://10.0.0.1/bc", "loopback host"),
        ("backchannel_logout_uri", "http://localhost.evil.example/bc", "loopback host"),
        ("backchannel_logout_uri", "https://user:pw@rp.example/bc", "user information"),
        ("backchannel_logout_uri", "https://rp.example:99999/bc", "invalid port"),
        ("backchannel_logout_uri", "https://rp.example/b c", "spaces or control"),
        ("backchannel_logout_uri", "https://rp.example/bc\r\nX-Injected: 1", "spaces or control"),
        ("backchannel_logout_uri", "https://rp.example/" + "a" * 2100, "longer than 2048"),
        ("backchannel_logout_uri", "", "must not be empty"),
        ("backchannel_logout_uri", ["https://rp.example/bc"], "expected a string"),
        ("backchannel_logout_session_required", "yes", "expected true or false"),
        ("frontchannel_logout_uri", "javascript:alert(document.cookie)", "absolute https URL"),
        ("frontchannel_logout_uri", "https://app.example.com/fc#x", "fragment"),
        ("frontchannel_logout_uri", "https://other.example.com/fc", "redirect_uris"),
        ("frontchannel_logout_uri", "https://app.example.com:8443/fc", "redirect_uris"),
        ("frontchannel_logout_uri", "http://app.example.com/fc", "loopback host"),
        ("frontchannel_logout_uri", "http://localhost:9999/fc", "redirect_uris"),
        ("frontchannel_logout_uri", "https://app.example.com/fc?sid=forged", "'sid'"),
        ("frontchannel_logout_uri", "https://app.example.com/fc?a=1&iss=x", "'iss'"),
    ],
)
def test_hostile_logout_registrations_are_refused_with_their_path(
    tmp_path: Path, key: str, value: object, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        load(tmp_path, {key: value})
    assert f"clients[0].{key}" in str(caught.value)


@pytest.mark.parametrize("channel", ["backchannel", "frontchannel"])
def test_session_required_without_its_uri_is_refused(tmp_path: Path, channel: str) -> None:
    with pytest.raises(ConfigError, match=f"needs {channel}_logout_uri"):
        load(tmp_path, {f"{channel}_logout_session_required": True})


def test_plain_http_is_refused_for_public_clients(tmp_path: Path) -> None:
    """Both specifications allow http only for confidential clients."""
    with pytest.raises(ConfigError, match="confidential clients"):
        load(tmp_path, {
            "public": True, "secret": None,
            "backchannel_logout_uri": "http://localhost:9000/bc",
        })  # fmt: skip
    public = load(tmp_path, {"public": True, "secret": None,
                             "frontchannel_logout_uri": "https://app.example.com/fc"})  # fmt: skip
    assert public.frontchannel_logout_uri == "https://app.example.com/fc"


def test_frontchannel_on_a_loopback_redirect_origin_is_accepted(tmp_path: Path) -> None:
    client = load(tmp_path, {"frontchannel_logout_uri": "http://localhost:8080/fc"})
    assert client.frontchannel_logout_uri == "http://localhost:8080/fc"


# -- oidc.backchannel_logout in idp.yaml ------------------------------------------------------


@pytest.fixture
def idp_yaml(tmp_path: Path) -> Path:
    """The shipped example configuration, its key and salt made up, with an oidc: section."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    keys = tmp_path / "var" / "keys"
    generate_self_signed(keys / "idp-signing.key", keys / "idp-signing.crt", common_name="t")
    (tmp_path / "var/secrets").mkdir()
    (tmp_path / "var/secrets/pairwise_salt").write_text("x" * 32)
    return tmp_path / "config" / "idp.yaml"


def with_oidc(path: Path, oidc: dict[str, object]) -> BackchannelSettings:
    data = yaml.safe_load(path.read_text())
    data["oidc"] = oidc
    path.write_text(yaml.safe_dump(data))
    config = load_config(path, env={})
    settings: BackchannelSettings = config.protocols["oidc"].backchannel
    return settings


def test_backchannel_section_defaults_and_values(idp_yaml: Path) -> None:
    assert with_oidc(idp_yaml, {}) == BackchannelSettings(
        connect_timeout=2.0, read_timeout=5.0, concurrency=8, token_lifetime=120
    )
    assert with_oidc(idp_yaml, {"backchannel_logout": {
        "connect_timeout_ms": 250, "read_timeout_ms": 1500, "concurrency": 3,
        "token_lifetime": 60,
    }}) == BackchannelSettings(0.25, 1.5, 3, 60)  # fmt: skip


@pytest.mark.parametrize(
    ("section", "reason"),
    [
        ({"connect_timeout_ms": 0}, "at least 100"),
        ({"connect_timeout_ms": 60_000}, "at most 10000"),
        ({"read_timeout_ms": 31_000}, "at most 30000"),
        ({"read_timeout_ms": 1.5}, "expected an integer"),
        ({"concurrency": 0}, "at least 1"),
        ({"concurrency": 1000}, "at most 32"),
        ({"token_lifetime": 3600}, "at most 300"),
        ({"token_lifetime": True}, "expected an integer"),
        ({"timeout": 5}, "unknown key"),
    ],
)
def test_backchannel_section_refuses_bad_values(
    idp_yaml: Path, section: dict[str, object], reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason) as caught:
        with_oidc(idp_yaml, {"backchannel_logout": section})
    assert "oidc.backchannel_logout." in str(caught.value)


def test_the_shipped_example_client_registers_both_channels(tmp_path: Path) -> None:
    example = yaml.safe_load((ROOT / "config" / "oidc_clients.example.yaml").read_text())
    gitlab = next(c for c in example["clients"] if c["client_id"] == "gitlab")
    path = tmp_path / "clients.yaml"
    path.write_text(yaml.safe_dump({"clients": [gitlab]}))
    registry = load_clients(path, policies={"default": object()},
                            env={"GITLAB_OIDC_SECRET": "g" * 40})  # fmt: skip
    client = registry.clients["gitlab"]
    assert client.backchannel_logout_uri and client.backchannel_logout_session_required
    assert client.frontchannel_logout_uri and client.frontchannel_logout_session_required

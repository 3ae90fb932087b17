"""The example configuration we ship (config/) loads as it is, with its relying parties."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from idp.config.loader import load_config
from idp.keys import generate_self_signed
from idp.runtime import build_runtime

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    """config/ and metadata/ copied as they are; the key and salt files they name made up."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    keys = tmp_path / "var" / "keys"
    generate_self_signed(keys / "idp-signing.key", keys / "idp-signing.crt",
                         common_name="example")  # fmt: skip
    (tmp_path / "var/secrets").mkdir()
    (tmp_path / "var/secrets/pairwise_salt").write_text("x" * 32)
    return tmp_path / "config" / "idp.yaml"


def test_example_idp_yaml_switches_on_no_placeholder_sp(shipped: Path) -> None:
    config = load_config(shipped, env={})
    assert config.base_url == "https://idp.example.com"
    assert config.protocols["saml"].service_providers == {}


def test_every_shipped_profile_loads_once_copied_into_the_enabled_dir(shipped: Path) -> None:
    for profile in (shipped.parent / "relying_parties").glob("*.yaml"):
        shutil.copy(profile, shipped.parent / "sp-enabled" / profile.name)
    saml = load_config(shipped, env={}).protocols["saml"]
    names = {sp.name for sp in saml.service_providers.values()}
    assert {"github-org", "github-enterprise", "google-workspace", "okta", "gitlab"} <= names


def test_example_config_builds_a_runtime(shipped: Path) -> None:
    # Keys load, signers are made and the database migrates: what `check-config` does at start.
    runtime = build_runtime(load_config(shipped, env={}))
    try:
        assert "saml" in runtime.protocols
    finally:
        runtime.db.dispose()


def test_example_without_its_salt_file_names_the_file(shipped: Path) -> None:
    from idp.errors import ConfigError

    salt = shipped.parent.parent / "var/secrets/pairwise_salt"
    salt.unlink()
    with pytest.raises(
        ConfigError, match=f"cannot read secret file {shipped.parent}/../var/secrets"
    ):
        load_config(shipped, env={})

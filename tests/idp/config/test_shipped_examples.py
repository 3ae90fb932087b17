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
    """config/ and metadata/ copied as they are; the key files they name made up."""
    shutil.copytree(ROOT / "config", tmp_path / "config")
    shutil.copytree(ROOT / "metadata", tmp_path / "metadata")
    keys = tmp_path / "var" / "keys"
    generate_self_signed(keys / "idp-signing.key", keys / "idp-signing.crt",
                         common_name="example")  # fmt: skip
    return tmp_path / "config" / "idp.yaml"


def test_example_idp_yaml_and_relying_parties_load(shipped: Path) -> None:
    config = load_config(shipped, env={"HIDEEZ_IDP_PAIRWISE_SALT": "x" * 32})
    saml = config.protocols["saml"]
    names = {sp.name for sp in saml.service_providers.values()}
    assert {"github-org", "github-enterprise", "google-workspace", "okta", "gitlab"} <= names
    assert config.base_url == "https://idp.example.com"


def test_example_config_builds_a_runtime(shipped: Path) -> None:
    # Keys load, signers are made and the database migrates: what `check-config` does at start.
    runtime = build_runtime(load_config(shipped, env={"HIDEEZ_IDP_PAIRWISE_SALT": "x" * 32}))
    try:
        assert "saml" in runtime.protocols
    finally:
        runtime.db.dispose()


def test_example_without_its_secret_names_the_variable(shipped: Path) -> None:
    from idp.errors import ConfigError

    with pytest.raises(ConfigError, match="HIDEEZ_IDP_PAIRWISE_SALT is not set"):
        load_config(shipped, env={})

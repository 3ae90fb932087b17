"""The plugins' YAML ``config`` is checked when SATOSA loads them: every mistake is an error
naming the plugin and the key path, never a silent default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from idp.directory.matching import MatchBy
from idp.errors import ConfigError
from satosa_plugins.attributes import DirectoryAttributes
from satosa_plugins.config import (
    WithoutFactor,
    parse_attributes,
    parse_backend,
    parse_mfa,
    parse_pages,
)
from satosa_plugins.mfa import MfaMicroService


def mfa(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "idp_config": "idp.yaml",
        "match": {"attribute": "mail", "by": "email"},
        "requesters": {"default": {"policy": "default"}},
    }
    config.update(changes)
    return config


def test_a_complete_mfa_config() -> None:
    settings = parse_mfa(
        mfa(
            skip_when_upstream_asserted=["https://refeds.org/profile/mfa"],
            without_factor="enrol",
            requesters={
                "default": {"policy": "default"},
                "https://wiki.example.org": {"mfa": False},
                "https://vpn.example.org": {"policy": "strict", "display_name": "VPN"},
            },
        ),
        plugin="mfa",
    )
    assert settings.match.by is MatchBy.EMAIL
    assert settings.without_factor is WithoutFactor.ENROL
    assert settings.idp_config.is_absolute()
    assert settings.rule_for("https://wiki.example.org").mfa is False
    assert settings.rule_for("https://vpn.example.org").display_name == "VPN"
    assert settings.rule_for("https://unlisted.example.org").policy == "default"
    assert settings.rule_for(None).mfa is True


@pytest.mark.parametrize(
    ("config", "path", "reason"),
    [
        (mfa(requestors={}), "config.requestors", "unknown key"),
        (mfa(requesters={"x": {}}), "config.requesters.default", "is required"),
        (mfa(requesters={"default": {"mfa": "yes"}}), "config.requesters.default.mfa", "true"),
        (mfa(requesters={"default": {"polcy": "a"}}), "config.requesters.default.polcy", "unknown"),
        (mfa(match={"attribute": "mail", "by": "phone"}), "config.match.by", "not one of"),
        (
            mfa(match={"attribute": "eppn", "by": "scoped_username"}),
            "config.match.scope",
            "required",
        ),
        (mfa(match={"attribute": "m", "by": "email", "scope": "x"}), "config.match.scope", "only"),
        (mfa(without_factor="allow"), "config.without_factor", "not one of"),
        (mfa(skip_when_upstream_asserted="mfa"), "config.skip_when_upstream_asserted", "list"),
        ({"match": {"attribute": "m", "by": "email"}}, "config.idp_config", "is required"),
        (None, "config.idp_config", "is required"),
    ],
)
def test_mfa_config_mistakes_name_the_key(config: Any, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_mfa(config, plugin="hideez_mfa")
    assert caught.value.source == "SATOSA plugin 'hideez_mfa'"
    assert caught.value.path == path
    assert reason in caught.value.reason


def test_a_policy_missing_from_the_idp_config_stops_the_plugin(idp_config: Path) -> None:
    config = mfa(idp_config=str(idp_config), requesters={"default": {"policy": "nope"}})
    with pytest.raises(ConfigError) as caught:
        MfaMicroService(config, {}, name="hideez_mfa", base_url="http://localhost")
    assert caught.value.path == "config.requesters['default'].policy"
    assert "expected one of: default" in caught.value.reason


def test_an_idp_config_that_does_not_exist_stops_the_plugin(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        MfaMicroService(
            mfa(idp_config=str(tmp_path / "missing.yaml")), {}, name="m", base_url="http://x"
        )
    assert "cannot read file" in caught.value.reason


def attributes(**changes: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "idp_config": "idp.yaml",
        "match": {"attribute": "subject_id", "by": "username"},
        "attributes": {"isMemberOf": "groups", "objectGUID": "external_id:ad_object_guid"},
    }
    config.update(changes)
    return config


def test_a_complete_attributes_config() -> None:
    settings = parse_attributes(attributes(pass_unknown=True), plugin="dir")
    assert settings.attributes == {
        "isMemberOf": "groups",
        "objectGUID": "external_id:ad_object_guid",
    }
    assert settings.pass_unknown is True


@pytest.mark.parametrize(
    ("config", "path", "reason"),
    [
        (attributes(attributes={"x": "shoe_size"}), "config.attributes.x", "unknown attribute"),
        (attributes(attributes={"x": "amr"}), "config.attributes.x", "describes a sign-in"),
        (attributes(attributes={}), "config.attributes", "at least one"),
        (attributes(attributes={"x": 3}), "config.attributes.x", "expected a string"),
        (attributes(pass_unknown="no"), "config.pass_unknown", "true or false"),
        (attributes(extra=1), "config.extra", "unknown key"),
    ],
)
def test_attributes_config_mistakes_name_the_key(config: Any, path: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_attributes(config, plugin="dir")
    assert (caught.value.path, reason in caught.value.reason) == (path, True)


def test_directory_attributes_loads_against_a_real_idp_config(idp_config: Path) -> None:
    plugin = DirectoryAttributes(
        attributes(idp_config=str(idp_config)), {}, name="dir", base_url="http://localhost"
    )
    assert plugin.settings.match.by is MatchBy.USERNAME


def test_backend_and_pages_configs() -> None:
    settings = parse_backend(
        {"idp_config": "idp.yaml", "attributes": {"mail": "email"}}, plugin="Hideez"
    )
    assert (settings.subject_id, settings.policy) == ("employee_id", None)
    assert parse_pages({"idp_config": "idp.yaml"}, plugin="pages").is_absolute()
    for config, path in (
        ({"idp_config": "i", "attributes": {"mail": "e-mail"}}, "config.attributes.mail"),
        ({"idp_config": "i", "attributes": {}, "subject_id": "nope"}, "config.subject_id"),
        ({"idp_config": "i", "attributes": {}, "extra": 1}, "config.extra"),
        ({"idp_config": "i", "pages": True}, "config.pages"),
    ):
        parser = parse_pages if "pages" in config else parse_backend
        with pytest.raises(ConfigError) as caught:
            parser(config, plugin="p")
        assert caught.value.path == path

"""The ``directory:`` section: parsed into frozen settings, every error naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from idp.config.directory import (
    AD_MAPPING,
    DEFAULT_SCOPE_GROUP,
    EntraSource,
    LdapSource,
    parse_directory,
)
from idp.config.reader import Node
from idp.errors import ConfigError

LDAP = {
    "name": "corp",
    "kind": "ldap",
    "url": "ldaps://dc1.corp.example",
    "bind_user": "svc@corp",
    "bind_password": {"env": "BIND"},
    "base_dn": "DC=corp,DC=example",
}
ENTRA = {
    "name": "cloud",
    "kind": "entra",
    "tenant_id": "7D5F3C2A-0B1E-4C6D-9A8B-1C2D3E4F5A6B",
    "client_id": "3f2e1d0c-9b8a-4765-8432-10fedcba9876",
    "client_secret": {"env": "SECRET"},
}
ENV = {"BIND": "bind-pass", "SECRET": "client-secret"}


def _parse(*sources: dict[str, object], **top: object):  # type: ignore[no-untyped-def]
    node = Node({"sources": list(sources), **top}, "/etc/idp.yaml", "directory")
    return parse_directory(node, ENV, Path("/etc"))


def test_defaults() -> None:
    settings = _parse(LDAP, ENTRA)
    ldap, entra = settings.sources
    assert isinstance(ldap, LdapSource) and isinstance(entra, EntraSource)
    assert settings.interval_seconds == 3600
    assert (ldap.port, ldap.page_size, ldap.verify_certificate) == (636, 500, True)
    assert (ldap.scope_group, ldap.on_leave_scope) == (DEFAULT_SCOPE_GROUP, "deactivate")
    assert ldap.mapping == AD_MAPPING and ldap.bind_password == "bind-pass"
    assert entra.tenant_id == "7d5f3c2a-0b1e-4c6d-9a8b-1c2d3e4f5a6b"
    assert entra.graph_url == "https://graph.microsoft.com/v1.0"
    assert settings.source("cloud") is entra and settings.source("nope") is None


def test_mapping_overrides_and_unmapped_fields() -> None:
    ldap = _parse(
        {**LDAP, "mapping": {"position": "jobTitle", "phone": None}, "scope_group": "none"}
    ).sources[0]
    assert ldap.mapping["position"] == "jobTitle" and "phone" not in ldap.mapping
    assert "phone" not in ldap.owned_fields and ldap.scope_group is None


def test_stored_secret() -> None:
    assert _parse({**LDAP, "bind_password": {"stored": True}}).sources[0].bind_password is None


@pytest.mark.parametrize(
    ("change", "where", "reason"),
    [
        ({"url": "ldap://dc1.corp.example"}, "sources[0].url", "expected ldaps://host[:port]"),
        ({"bind_password": "hunter2"}, "sources[0].bind_password", "must not be written in YAML"),
        ({"bind_password": {"stored": False}}, "bind_password.stored", "only 'stored: true'"),
        ({"mapping": {"username": None}}, "mapping.username", "must be mapped"),
        ({"mapping": {"nickname": "cn"}}, "mapping.nickname", "unknown key"),
        ({"mapping": {"email": "mail)(x"}}, "mapping.email", "does not match"),
        ({"page_size": 0}, "sources[0].page_size", "at least 1"),
        ({"filter": "department=Sales"}, "sources[0].filter", "in parentheses"),
        ({"filter": "(a=b))("}, "sources[0].filter", "in parentheses"),
        ({"email_domains": ["not a domain"]}, "email_domains[0]", "does not match"),
        ({"name": "Corp AD"}, "sources[0].name", "does not match"),
        ({"kind": "novell"}, "sources[0].kind", "is not one of: ldap, entra"),
        ({"tenant_id": "x"}, "sources[0].tenant_id", "unknown key"),
    ],
)
def test_bad_ldap_source(change: dict[str, object], where: str, reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        _parse({**LDAP, **change})
    assert f"/etc/idp.yaml: directory.{where}" in error.value.description or (
        where in error.value.description and error.value.description.startswith("/etc/idp.yaml")
    )
    assert reason in error.value.description


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"authority": "http://login.example"}, "expected an https:// URL"),
        ({"graph_url": "https://graph.example/v1.0?x=1"}, "without query"),
        ({"client_id": "not-a-guid"}, "does not match"),
        ({"max_retry_wait_seconds": -1}, "at least 0"),
        ({"client_secret": {"env": "MISSING"}}, "environment variable MISSING is not set"),
    ],
)
def test_bad_entra_source(change: dict[str, object], reason: str) -> None:
    with pytest.raises(ConfigError) as error:
        _parse({**ENTRA, **change})
    assert reason in error.value.description


def test_duplicate_names_and_interval() -> None:
    with pytest.raises(ConfigError, match=r"source name 'corp' is used twice"):
        _parse(LDAP, LDAP)
    with pytest.raises(ConfigError, match=r"interval_seconds: must be at least 60"):
        _parse(LDAP, interval_seconds=5)
    with pytest.raises(ConfigError, match=r"directory.schedule: unknown key"):
        _parse(LDAP, schedule="hourly")

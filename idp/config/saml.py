"""SAML configuration: the ``saml:`` section of ``idp.yaml`` and the SAML relying parties.

The IdP's settings are parsed here; each SP's own YAML file by :mod:`idp.config.saml_sp`; the
frozen objects live in :mod:`idp.config.saml_model` and are re-exported from here. Parsed once
at start with :class:`~idp.config.reader.Node`, so every error names the file, the key path
and the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from idp.config.reader import Node, optional, secret_from
from idp.config.saml_federation import parse_federation
from idp.config.saml_model import (
    ENCRYPTION_ALGORITHMS,
    NAME_ID_SOURCES,
    URL_PATTERN,
    AttributeRelease,
    Contact,
    Endpoint,
    IdpSamlSettings,
    NameIdRule,
    SamlConfig,
    ServiceProvider,
)
from idp.config.saml_sp import load_service_provider, load_service_providers, parse_service_provider
from idp.config.schema import IdpConfig

__all__ = [
    "ENCRYPTION_ALGORITHMS",
    "NAME_ID_SOURCES",
    "AttributeRelease",
    "Contact",
    "Endpoint",
    "IdpSamlSettings",
    "NameIdRule",
    "SamlConfig",
    "ServiceProvider",
    "load_service_provider",
    "load_service_providers",
    "parse",
    "parse_idp_settings",
    "parse_service_provider",
]


def parse(node: Node | None, config: IdpConfig, env: Mapping[str, str]) -> SamlConfig | None:
    """Protocol-section contract of :mod:`idp.config.protocols`; SAML is on unless disabled."""
    enabled = node.get("enabled") if node is not None else None
    if enabled is not None and not enabled.as_bool():
        return None
    settings = parse_idp_settings(
        node if node is not None else Node({}, str(config.source), "saml"),
        base_url=config.base_url,
        default_salt=config.pairwise_salt,
        env=env,
    )
    sps = load_service_providers(config.relying_parties_dir, policies=config.policies.policies)
    federation = node.get("federation") if node is not None else None
    return SamlConfig(
        settings,
        sps,
        federation=optional(
            federation, lambda n: parse_federation(n, policies=config.policies.policies)
        ),
    )


def parse_idp_settings(
    node: Node,
    *,
    base_url: str,
    default_salt: str | None = None,
    env: Mapping[str, str] | None = None,
) -> IdpSamlSettings:
    """The ``saml:`` section of the IdP config; endpoints derive from ``base_url``."""
    node.only_keys(
        "enabled",
        "entity_id",
        "pairwise_salt",
        "clock_skew_seconds",
        "max_request_bytes",
        "assertion_lifetime_seconds",
        "metadata_valid_days",
        "want_authn_requests_signed",
        "organisation",
        "contacts",
        "federation",
    )
    base = base_url.rstrip("/")
    org = node.get("organisation")
    if org is not None:
        org.only_keys("name", "url")
    contact_nodes: list[Node] = optional(node.get("contacts"), Node.elements, [])
    contacts = tuple(_contact(n) for n in contact_nodes)
    return IdpSamlSettings(
        entity_id=optional(node.get("entity_id"), lambda n: n.as_str(pattern=URL_PATTERN), base),
        base_url=base,
        pairwise_salt=_salt(node, default_salt, env),
        clock_skew=dt.timedelta(
            seconds=optional(
                node.get("clock_skew_seconds"), lambda n: n.as_int(min_value=0, max_value=600), 180
            )
        ),
        max_request_bytes=optional(
            node.get("max_request_bytes"),
            lambda n: n.as_int(min_value=1024, max_value=1024 * 1024),
            100 * 1024,
        ),
        assertion_lifetime=dt.timedelta(
            seconds=optional(
                node.get("assertion_lifetime_seconds"),
                lambda n: n.as_int(min_value=30, max_value=300),
                300,
            )
        ),
        metadata_valid_for=dt.timedelta(
            days=optional(
                node.get("metadata_valid_days"), lambda n: n.as_int(min_value=1, max_value=365), 7
            )
        ),
        want_authn_requests_signed=optional(
            node.get("want_authn_requests_signed"), Node.as_bool, False
        ),
        organisation_name=optional(org.get("name") if org else None, Node.as_str),
        organisation_url=optional(org.get("url") if org else None, Node.as_str),
        contacts=contacts,
    )


def _salt(node: Node, default: str | None, env: Mapping[str, str] | None) -> str:
    salt_node = node.get("pairwise_salt")
    if salt_node is not None:
        salt = secret_from(salt_node, env=env)
    elif default is not None:
        salt = default
    else:
        raise node._at("pairwise_salt").error("is required (a secret: {env: NAME})")
    if len(salt) < 16:
        raise node._at("pairwise_salt").error("must be at least 16 characters")
    return salt


def _contact(node: Node) -> Contact:
    node.only_keys("type", "email", "name")
    return Contact(
        type=optional(
            node.get("type"),
            lambda n: n.as_choice(("technical", "support", "administrative", "billing", "other")),
            "technical",
        ),
        email=node.child("email").as_str(pattern=r"[^@\s]+@[^@\s]+"),
        name=optional(node.get("name"), Node.as_str),
    )

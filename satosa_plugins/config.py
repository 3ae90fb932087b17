"""The plugins' own settings, parsed once when SATOSA loads them, with path-precise errors.

SATOSA hands each plugin the ``config`` mapping of its YAML file. It is read here through the
core's path-tracking reader (:mod:`idp.config.reader`): unknown keys and wrong values are errors
naming the plugin and the key path (``config.requesters["https://sp"].policy``); policies are
checked against the IdP configuration the plugin names. Nothing is read with defaults later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from idp.config.reader import Node
from idp.config.schema import IdpConfig
from idp.directory.matching import MatchBy
from idp.errors import ConfigError
from idp.subject import check_source

#: SATOSA's internal attribute name for the subject id itself (not an attribute)
SUBJECT_ID = "subject_id"


class WithoutFactor(StrEnum):
    #: refuse with an error page naming the reason
    DENY = "deny"
    #: send the user to a new one-time enrolment link of the Flask IdP
    ENROL = "enrol"


@dataclass(frozen=True)
class Match:
    """How an upstream subject becomes an employee."""

    attribute: str
    by: MatchBy
    scope: str | None = None

    def values(self, *, subject_id: str | None, attributes: Mapping[str, Any]) -> list[str]:
        if self.attribute == SUBJECT_ID:
            return [subject_id] if subject_id else []
        raw = attributes.get(self.attribute) or []
        return [v for v in raw if isinstance(v, str)]


@dataclass(frozen=True)
class RequesterRule:
    mfa: bool = True
    policy: str | None = None
    display_name: str | None = None


@dataclass(frozen=True)
class MfaSettings:
    idp_config: Path
    match: Match
    requesters: Mapping[str, RequesterRule]
    skip_when_upstream_asserted: tuple[str, ...] = ()
    without_factor: WithoutFactor = WithoutFactor.DENY

    def rule_for(self, requester: str | None) -> RequesterRule:
        return self.requesters.get(requester or "") or self.requesters["default"]


@dataclass(frozen=True)
class AttributeSettings:
    idp_config: Path
    match: Match
    #: internal attribute name → vocabulary source (``groups``, ``external_id:…`` …)
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: an unmatched subject passes unchanged (``True``) or is refused
    pass_unknown: bool = False


def plugin_node(config: Any, *, plugin: str, source: str | None = None) -> Node:
    """The plugin's ``config`` mapping; errors name ``source`` (the plugin's YAML file, when
    known) or the plugin."""
    where = source or f"SATOSA plugin {plugin!r}"
    return Node(config if config is not None else {}, where, "config")


def _idp_config(node: Node) -> Path:
    # SATOSA resolves its own relative paths from the working directory; so do we.
    return Path(os.path.abspath(node.child("idp_config").as_str()))


def _match(node: Node) -> Match:
    node.only_keys("attribute", "by", "scope")
    by = MatchBy(node.child("by").as_choice([m.value for m in MatchBy]))
    scope_node = node.get("scope")
    if by is MatchBy.SCOPED_USERNAME and scope_node is None:
        node.child("scope")  # raises: "is required"
    if by is not MatchBy.SCOPED_USERNAME and scope_node is not None:
        raise scope_node.error("only applies to 'by: scoped_username'")
    return Match(
        attribute=node.child("attribute").as_str(max_len=128),
        by=by,
        scope=scope_node.as_str(max_len=253) if scope_node else None,
    )


def _rule(node: Node) -> RequesterRule:
    node.only_keys("mfa", "policy", "display_name")
    mfa, policy, name = node.get("mfa"), node.get("policy"), node.get("display_name")
    return RequesterRule(
        mfa=mfa.as_bool() if mfa else True,
        policy=policy.as_str(max_len=128) if policy else None,
        display_name=name.as_str(max_len=200) if name else None,
    )


def parse_mfa(config: Any, *, plugin: str, source: str | None = None) -> MfaSettings:
    node = plugin_node(config, plugin=plugin, source=source)
    node.only_keys(
        "idp_config", "match", "requesters", "skip_when_upstream_asserted", "without_factor"
    )
    idp_config = _idp_config(node)
    requesters = {key: _rule(value) for key, value in node.child("requesters").items()}
    if "default" not in requesters:
        raise (
            node.child("requesters")
            .child("default")
            .error("is required (what requesters not listed get)")
        )
    skip = node.get("skip_when_upstream_asserted")
    without = node.get("without_factor")
    return MfaSettings(
        idp_config=idp_config,
        match=_match(node.child("match")),
        requesters=requesters,
        skip_when_upstream_asserted=skip.as_str_list() if skip else (),
        without_factor=WithoutFactor(without.as_choice([w.value for w in WithoutFactor]))
        if without
        else WithoutFactor.DENY,
    )


def check_policies(settings: MfaSettings, idp: IdpConfig, *, plugin: str) -> None:
    """Every policy a requester names exists in the IdP configuration."""
    known = idp.policies.policies
    for requester, rule in settings.requesters.items():
        if rule.policy is not None and rule.policy not in known:
            raise ConfigError(
                f"SATOSA plugin {plugin!r}",
                f"config.requesters[{requester!r}].policy",
                f"no policy {rule.policy!r} in {settings.idp_config}; "
                f"expected one of: {', '.join(sorted(known))}",
            )


def parse_attributes(config: Any, *, plugin: str, source: str | None = None) -> AttributeSettings:
    node = plugin_node(config, plugin=plugin, source=source)
    node.only_keys("idp_config", "match", "attributes", "pass_unknown")
    attributes: dict[str, str] = {}
    for name, value in node.child("attributes").items():
        attributes[name] = value.as_str(max_len=200)
        value.convert(check_source)
        if attributes[name] == "amr":
            raise value.error("'amr' describes a sign-in, not the directory; use the MFA plugin")
    if not attributes:
        raise node.child("attributes").error("must name at least one attribute")
    unknown = node.get("pass_unknown")
    return AttributeSettings(
        idp_config=_idp_config(node),
        match=_match(node.child("match")),
        attributes=attributes,
        pass_unknown=unknown.as_bool() if unknown else False,
    )


SUBJECT_FIELDS = ("username", "email", "first_name", "last_name", "phone", "department", "groups")


@dataclass(frozen=True)
class FrontendSettings:
    """A frontend of ours: the IdP config (its protocol section lists the relying parties)
    and which internal attributes the answer's subject is built from."""

    idp_config: Path
    #: subject field (``username``, ``email`` …, ``external_id:NAME``) → internal attribute
    subject: Mapping[str, str]


def _subject_mapping(node: Node) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for target, attribute in node.items():
        kind, sep, arg = target.partition(":")
        if target not in SUBJECT_FIELDS and not (sep and kind == "external_id" and arg):
            raise attribute.error(
                f"unknown subject field; expected one of: {', '.join(SUBJECT_FIELDS)} "
                "or external_id:NAME"
            )
        mapping[target] = attribute.as_str(max_len=128)
    if "username" not in mapping:
        raise node.child("username").error("is required (the subject's name)")
    return mapping


def parse_frontend(config: Any, *, plugin: str, source: str | None = None) -> FrontendSettings:
    node = plugin_node(config, plugin=plugin, source=source)
    node.only_keys("idp_config", "subject")
    idp_config = _idp_config(node)
    return FrontendSettings(idp_config=idp_config, subject=_subject_mapping(node.child("subject")))


@dataclass(frozen=True)
class BackendSettings:
    idp_config: Path
    #: the policy of the IdP config that decides factors, UV and the context class claimed
    policy: str | None
    #: the vocabulary source SATOSA's subject id comes from
    subject_id: str
    #: internal attribute → vocabulary source
    attributes: Mapping[str, str]


def _sources(node: Node) -> dict[str, str]:
    sources: dict[str, str] = {}
    for name, value in node.items():
        sources[name] = value.as_str(max_len=200)
        value.convert(check_source)
    return sources


def parse_backend(config: Any, *, plugin: str, source: str | None = None) -> BackendSettings:
    node = plugin_node(config, plugin=plugin, source=source)
    node.only_keys("idp_config", "policy", "subject_id", "attributes")
    idp_config = _idp_config(node)
    policy, subject_id = node.get("policy"), node.get("subject_id")
    if subject_id is not None:
        subject_id.convert(check_source)
    return BackendSettings(
        idp_config=idp_config,
        policy=policy.as_str(max_len=128) if policy else None,
        subject_id=subject_id.as_str(max_len=200) if subject_id else "employee_id",
        attributes=_sources(node.child("attributes")),
    )


def parse_pages(config: Any, *, plugin: str, source: str | None = None) -> Path:
    """The only setting of the pages micro-service and of the EAM frontend: the IdP config."""
    node = plugin_node(config, plugin=plugin, source=source)
    node.only_keys("idp_config")
    return _idp_config(node)


def check_eam(idp: IdpConfig, *, idp_config: Path, plugin: str) -> None:
    """The EAM frontend answers Entra with the ``oidc.eam`` section of its IdP config (client
    ids, tenants, hint audience, policy): without one it cannot start."""
    oidc = idp.protocols.get("oidc")
    if getattr(oidc, "eam", None) is None:
        raise ConfigError(
            plugin,
            "config.idp_config",
            f"{idp_config} has no oidc.eam section, which the Entra EAM frontend needs "
            "(docs/entra-eam.md)",
        )

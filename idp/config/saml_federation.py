"""``saml.federation``: SPs from signed metadata aggregates and from an MDQ server.

Parsed once at start like the rest of the configuration; every error names the file, the key
path and the reason. What the SPs get (profile, policy, NameID, attributes, signing) is the
``defaults`` block: the per-SP YAML options that make sense for a whole federation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from pathlib import Path

from idp.config.reader import Node, optional
from idp.config.saml_model import (
    ENCRYPTION_ALGORITHMS,
    AggregateSource,
    FederationConfig,
    FederationDefaults,
    MdqSource,
    MetadataFilter,
    NameIdRule,
)
from idp.config.saml_sp import _attributes, _name_id, _read_cert, _release
from idp.saml.federation import metadata_url_allowed
from idp.saml.profiles import PRESETS, PROFILES

_FEDERATION_KEYS = ("defaults", "aggregates", "mdq")
_DEFAULTS_KEYS = (
    "profile",
    "name_id",
    "attributes",
    "sign_response",
    "sign_assertion",
    "signature_algorithm",
    "digest_algorithm",
    "encrypt_assertions",
    "encryption_algorithm",
    "want_authn_requests_signed",
    "allow_idp_initiated",
    "policy",
    "relay_state_max_bytes",
    "session_lifetime_minutes",
)
_AGGREGATE_KEYS = (
    "name",
    "url",
    "file",
    "signing_certs",
    "refresh_minutes",
    "timeout_seconds",
    "max_bytes",
    "require_valid_until",
    "filter",
)
_MDQ_KEYS = (
    "base_url",
    "signing_certs",
    "cache_seconds",
    "negative_cache_seconds",
    "timeout_seconds",
    "max_bytes",
    "max_entries",
    "require_valid_until",
    "filter",
)
_FILTER_KEYS = ("entity_ids", "registration_authorities", "entity_categories")
# SHA-1 is refused for federation SPs: a federation-wide default must not weaken every SP.
_HASHES = ("sha256", "sha384", "sha512")


def parse_federation(node: Node, *, policies: Collection[str] | None) -> FederationConfig:
    node.only_keys(*_FEDERATION_KEYS)
    base = Path(node.source).parent
    aggregate_nodes: list[Node] = optional(node.get("aggregates"), Node.elements, [])
    aggregates = tuple(_aggregate(n, base) for n in aggregate_nodes)
    names = [a.name for a in aggregates]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise node._at("aggregates")._at(i)._at("name").error(f"{name!r} is used twice")
    mdq = optional(node.get("mdq"), lambda n: _mdq(n, base))
    if not aggregates and mdq is None:
        raise node.error("names no source: give `aggregates`, `mdq` or both")
    defaults = optional(
        node.get("defaults"), lambda n: _defaults(n, policies), _defaults(None, policies)
    )
    return FederationConfig(defaults=defaults, aggregates=aggregates, mdq=mdq)


def _defaults(node: Node | None, policies: Collection[str] | None) -> FederationDefaults:
    if node is None:
        node = Node({}, "", "saml.federation.defaults")
    node.only_keys(*_DEFAULTS_KEYS)
    profile = optional(node.get("profile"), lambda n: n.as_choice(PROFILES), "generic")
    preset = PRESETS[profile]
    policy = optional(node.get("policy"), Node.as_str)
    if policy is not None and policies is not None and policy not in policies:
        raise node.child("policy").error(
            f"no policy named {policy!r}; defined: {', '.join(sorted(policies))}"
        )
    sign_response = optional(node.get("sign_response"), Node.as_bool, preset.sign_response)
    sign_assertion = optional(node.get("sign_assertion"), Node.as_bool, preset.sign_assertion)
    if not (sign_response or sign_assertion):
        raise node._at("sign_assertion").error(
            "the response or the assertion must be signed; both are switched off"
        )
    lifetime = optional(
        node.get("session_lifetime_minutes"),
        lambda n: n.as_int(min_value=1, max_value=7 * 24 * 60),
        480,
    )
    return FederationDefaults(
        profile=profile,
        name_id=optional(
            node.get("name_id"), _name_id, NameIdRule(preset.name_id_format, preset.name_id_source)
        ),
        attributes=optional(
            node.get("attributes"), _attributes, tuple(_release(p) for p in preset.attributes)
        ),
        sign_response=sign_response,
        sign_assertion=sign_assertion,
        signature_algorithm=optional(
            node.get("signature_algorithm"), lambda n: n.as_choice(_HASHES), "sha256"
        ),
        digest_algorithm=optional(
            node.get("digest_algorithm"), lambda n: n.as_choice(_HASHES), "sha256"
        ),
        encrypt_assertions=optional(node.get("encrypt_assertions"), Node.as_bool, False),
        encryption_algorithm=optional(
            node.get("encryption_algorithm"),
            lambda n: n.as_choice(ENCRYPTION_ALGORITHMS),
            "aes256-gcm",
        ),
        want_authn_requests_signed=optional(
            node.get("want_authn_requests_signed"), Node.as_bool, False
        ),
        allow_idp_initiated=optional(node.get("allow_idp_initiated"), Node.as_bool, False),
        policy=policy,
        relay_state_max_bytes=optional(
            node.get("relay_state_max_bytes"),
            lambda n: n.as_int(min_value=80, max_value=8192),
            1024,
        ),
        session_lifetime=dt.timedelta(minutes=lifetime),
    )


def _aggregate(node: Node, base: Path) -> AggregateSource:
    node.only_keys(*_AGGREGATE_KEYS)
    url = optional(node.get("url"), _url)
    path = optional(node.get("file"), lambda n: n.as_path(base))
    if (url is None) == (path is None):
        raise node.error("give exactly one of `url` (https) or `file`")
    return AggregateSource(
        name=node.child("name").as_str(pattern=r"[A-Za-z0-9_.-]+", max_len=64),
        url=url,
        path=path,
        signing_certs=_certs(node.child("signing_certs"), base),
        refresh=dt.timedelta(
            minutes=optional(
                node.get("refresh_minutes"),
                lambda n: n.as_int(min_value=1, max_value=7 * 24 * 60),
                60,
            )
        ),
        timeout_seconds=optional(
            node.get("timeout_seconds"), lambda n: n.as_int(min_value=1, max_value=300), 30
        ),
        max_bytes=optional(
            node.get("max_bytes"),
            lambda n: n.as_int(min_value=1024, max_value=1024 * 1024 * 1024),
            100 * 1024 * 1024,
        ),
        require_valid_until=optional(node.get("require_valid_until"), Node.as_bool, True),
        filter=optional(node.get("filter"), _filter, MetadataFilter()),
    )


def _mdq(node: Node, base: Path) -> MdqSource:
    node.only_keys(*_MDQ_KEYS)
    return MdqSource(
        base_url=_url(node.child("base_url")),
        signing_certs=_certs(node.child("signing_certs"), base),
        max_cache=dt.timedelta(
            seconds=optional(
                node.get("cache_seconds"),
                lambda n: n.as_int(min_value=60, max_value=7 * 24 * 3600),
                3600,
            )
        ),
        negative_cache=dt.timedelta(
            seconds=optional(
                node.get("negative_cache_seconds"),
                lambda n: n.as_int(min_value=1, max_value=3600),
                60,
            )
        ),
        timeout_seconds=optional(
            node.get("timeout_seconds"), lambda n: n.as_int(min_value=1, max_value=60), 5
        ),
        max_bytes=optional(
            node.get("max_bytes"),
            lambda n: n.as_int(min_value=1024, max_value=10 * 1024 * 1024),
            1024 * 1024,
        ),
        max_entries=optional(
            node.get("max_entries"),
            lambda n: n.as_int(min_value=10, max_value=1_000_000),
            10_000,
        ),
        require_valid_until=optional(node.get("require_valid_until"), Node.as_bool, True),
        filter=optional(node.get("filter"), _filter, MetadataFilter()),
    )


def _url(node: Node) -> str:
    url = node.as_str()
    if not metadata_url_allowed(url):
        raise node.error(f"{url!r}: must be https (plain http only to a loopback address)")
    return url


def _certs(node: Node, base: Path) -> tuple[bytes, ...]:
    certs = tuple(_read_cert(n, base) for n in node.elements())
    if not certs:
        raise node.error("at least one certificate is required to verify the metadata signature")
    return certs


def _filter(node: Node) -> MetadataFilter:
    node.only_keys(*_FILTER_KEYS)

    def values(key: str) -> frozenset[str]:
        found = node.get(key)
        return frozenset(found.as_str_list()) if found is not None else frozenset()

    return MetadataFilter(
        entity_ids=values("entity_ids"),
        registration_authorities=values("registration_authorities"),
        entity_categories=values("entity_categories"),
    )

"""The ``wsfed:`` section of ``idp.yaml``: the STS settings and its relying parties.

Parsed once at start into :class:`~idp.wsfed.model.WsFedSettings`; every error names the file,
the key path and the reason. Relying parties come inline (``relying_parties:``) or from a file
(``relying_parties_file:``, a YAML list), or both. The ``exchange`` profile fills in what
Exchange OWA/ECP needs (SAML 1.1, ``upn`` and ``primarysid`` required, name, email, groups).
Without a ``wsfed:`` section WS-Federation is off.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

from idp.config.reader import Collector, Node, load_yaml, optional
from idp.config.schema import IdpConfig
from idp.wsfed import constants as c
from idp.wsfed.claims import check_source
from idp.wsfed.model import (
    DIGEST_ALGORITHMS,
    SIGNATURE_ALGORITHMS,
    ClaimRule,
    NameIdentifierRule,
    RelyingParty,
    TokenType,
    WsFedSettings,
    url_key,
)

_SECTION_KEYS = (
    "issuer",
    "token_lifetime_seconds",
    "max_context_bytes",
    "metadata_valid_days",
    "signout_reply_urls",
    "relying_parties",
    "relying_parties_file",
)
_RP_KEYS = (
    "name",
    "display_name",
    "profile",
    "realm",
    "reply_urls",
    "token_type",
    "claims",
    "name_identifier",
    "policy",
    "signout_url",
    "signature_algorithm",
    "digest_algorithm",
    "token_lifetime_seconds",
    "authentication_method",
)
PROFILES = ("generic", "exchange")
_EXCHANGE_CLAIMS = (
    ClaimRule(c.CLAIM_UPN, "upn", required=True),
    ClaimRule(c.CLAIM_PRIMARYSID, "primarysid", required=True),
    ClaimRule(c.CLAIM_NAME, "name"),
    ClaimRule(c.CLAIM_EMAIL, "email"),
    ClaimRule(c.CLAIM_GROUP, "groups"),
)
_GENERIC_CLAIMS = (
    ClaimRule(c.CLAIM_UPN, "upn"),
    ClaimRule(c.CLAIM_NAME, "name"),
    ClaimRule(c.CLAIM_EMAIL, "email"),
    ClaimRule(c.CLAIM_GIVEN_NAME, "given_name"),
    ClaimRule(c.CLAIM_SURNAME, "surname"),
    ClaimRule(c.CLAIM_GROUP, "groups"),
)
_LIFETIME = {"min_value": 60, "max_value": 24 * 3600}


def parse(node: Node | None, config: IdpConfig, env: Mapping[str, str]) -> WsFedSettings | None:
    """The ``wsfed:`` section (None when absent: WS-Federation is then off)."""
    if node is None:
        return None
    node.only_keys(*_SECTION_KEYS)
    base = Path(node.source).parent
    rps: list[RelyingParty] = []
    if (inline := node.get("relying_parties")) is not None:
        rps.extend(_rp_list(inline, config))
    file_node = node.get("relying_parties_file")
    if file_node is not None:
        rps.extend(_rp_file(file_node, base, config))
    if not rps:
        raise node.error("no relying parties: give relying_parties or relying_parties_file")
    return WsFedSettings(
        issuer=optional(node.get("issuer"), _absolute_uri, config.base_url),
        base_url=config.base_url.rstrip("/"),
        relying_parties=tuple(rps),
        token_lifetime=dt.timedelta(
            seconds=optional(
                node.get("token_lifetime_seconds"), lambda n: n.as_int(**_LIFETIME), 3600
            )
        ),
        max_context_bytes=optional(
            node.get("max_context_bytes"), lambda n: n.as_int(min_value=80, max_value=8192), 2048
        ),
        metadata_valid_for=dt.timedelta(
            days=optional(
                node.get("metadata_valid_days"), lambda n: n.as_int(min_value=1, max_value=365), 7
            )
        ),
        signout_reply_urls=_urls(node.get("signout_reply_urls")),
        source=node.source,
    )


def _rp_file(node: Node, base: Path, config: IdpConfig) -> list[RelyingParty]:
    root = load_yaml(node.as_path(base))
    if isinstance(root.value, dict):
        root.only_keys("relying_parties")
        root = root.child("relying_parties")
    return _rp_list(root, config)


def _rp_list(node: Node, config: IdpConfig) -> list[RelyingParty]:
    rps: list[RelyingParty] = []
    names: dict[str, str] = {}
    realms: dict[str, str] = {}
    found = Collector()  # every broken relying party is reported, not only the first
    for element in node.elements():
        rp = found.attempt(partial(parse_relying_party, element, config), None)
        if rp is None:
            continue
        if rp.name in names:
            found.errors.append(element.child("name").error(f"the name {rp.name!r} is used twice"))
            continue
        if url_key(rp.realm) in realms:
            found.errors.append(
                element.child("realm").error(
                    f"the realm is already configured for {realms[url_key(rp.realm)]} "
                    "(realms differing only by a trailing slash are the same)"
                )
            )
            continue
        names[rp.name] = rp.realm
        realms[url_key(rp.realm)] = rp.name
        rps.append(rp)
    found.check()
    return rps if rps else _none(node)


def _none(node: Node) -> list[RelyingParty]:
    raise node.error("the list of relying parties is empty")


def parse_relying_party(node: Node, config: IdpConfig) -> RelyingParty:
    node.only_keys(*_RP_KEYS)
    profile = optional(node.get("profile"), lambda n: n.as_choice(PROFILES), "generic")
    exchange = profile == "exchange"
    token_type = TokenType(
        optional(
            node.get("token_type"),
            lambda n: n.as_choice(tuple(TokenType)),
            "saml11" if exchange else "saml20",
        )
    )
    default_claims: tuple[ClaimRule, ...] = _EXCHANGE_CLAIMS if exchange else _GENERIC_CLAIMS
    claims = optional(node.get("claims"), lambda n: _claims(n, token_type), default_claims)
    reply = node.get("reply_urls")
    if reply is None or not reply.elements():
        raise node._at("reply_urls").error(
            "at least one reply URL (a registered wreply) is required for the realm"
        )
    policy = optional(node.get("policy"), Node.as_str)
    if policy is not None and policy not in config.policies.policies:
        raise node.child("policy").error(
            f"no policy named {policy!r}; defined: {', '.join(sorted(config.policies.policies))}"
        )
    lifetime = optional(node.get("token_lifetime_seconds"), lambda n: n.as_int(**_LIFETIME))
    return RelyingParty(
        name=node.child("name").as_str(pattern=r"[A-Za-z0-9_.-]+", max_len=64),
        display_name=optional(node.get("display_name"), lambda n: n.as_str(max_len=100)),
        realm=_absolute_uri(node.child("realm")),
        reply_urls=tuple(_url(e) for e in reply.elements()),
        token_type=token_type,
        claims=claims,
        name_identifier=optional(node.get("name_identifier"), _name_identifier),
        policy=policy,
        signout_url=optional(node.get("signout_url"), _url),
        signature_algorithm=optional(
            node.get("signature_algorithm"),
            lambda n: n.as_choice(tuple(SIGNATURE_ALGORITHMS)),
            "rsa-sha256",
        ),
        digest_algorithm=optional(
            node.get("digest_algorithm"), lambda n: n.as_choice(DIGEST_ALGORITHMS), "sha256"
        ),
        token_lifetime=dt.timedelta(seconds=lifetime) if lifetime is not None else None,
        authentication_method=optional(node.get("authentication_method"), _absolute_uri),
    )


def _claims(node: Node, token_type: TokenType) -> tuple[ClaimRule, ...]:
    rules: dict[str, ClaimRule] = {}
    for name, value in node.items():
        claim_type = c.CLAIM_ALIASES.get(name, name)
        if claim_type == name and not _is_absolute_uri(name):
            raise value.error(
                f"claim {name!r} is neither a claim type URI nor one of: "
                f"{', '.join(c.CLAIM_ALIASES)}"
            )
        if token_type is TokenType.SAML11 and not all(ClaimRule(claim_type, "").saml11_name):
            raise value.error(
                f"claim type {claim_type!r} cannot be split into a SAML 1.1 "
                "AttributeNamespace and AttributeName (it needs a '/')"
            )
        if claim_type in rules:
            raise value.error(f"claim type {claim_type} is listed twice")
        rules[claim_type] = _claim_rule(claim_type, value)
    return tuple(rules.values())


def _claim_rule(claim_type: str, node: Node) -> ClaimRule:
    if isinstance(node.value, str):
        node.convert(check_source)
        return ClaimRule(claim_type, node.value)
    node.only_keys("source", "required")
    source = node.child("source")
    source.convert(check_source)
    return ClaimRule(
        claim_type, source.as_str(), required=optional(node.get("required"), Node.as_bool, False)
    )


def _name_identifier(node: Node) -> NameIdentifierRule:
    node.only_keys("source", "format")
    fmt = optional(node.get("format"), Node.as_str, "unspecified")
    fmt = c.NAMEID_FORMATS.get(fmt, fmt)
    if not _is_absolute_uri(fmt):
        raise node.child("format").error(
            f"expected one of {', '.join(c.NAMEID_FORMATS)} or a format URI"
        )
    source = node.get("source")
    if source is None:
        if fmt != c.NAMEID_TRANSIENT:
            raise node._at("source").error("is required unless the format is transient")
        return NameIdentifierRule(source="transient", format=fmt)
    source.convert(check_source)
    return NameIdentifierRule(source=source.as_str(), format=fmt)


def _urls(node: Node | None) -> tuple[str, ...]:
    return () if node is None else tuple(_url(e) for e in node.elements())


def _url(node: Node) -> str:
    value = node.as_str(max_len=2048)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise node.error(f"expected an absolute https URL, got {value!r}")
    if parts.fragment:
        raise node.error("must not have a fragment")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise node.error("plain http is only allowed for localhost; use https")
    return value


def _absolute_uri(node: Node) -> str:
    value = node.as_str(max_len=2048)
    if not _is_absolute_uri(value):
        raise node.error(f"expected an absolute URI (https://… or urn:…), got {value!r}")
    return value


def _is_absolute_uri(value: str) -> bool:
    parts = urlsplit(value)
    if parts.scheme in ("http", "https"):
        return bool(parts.hostname)
    return parts.scheme == "urn" and bool(parts.path) and not any(ch.isspace() for ch in value)

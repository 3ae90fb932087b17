"""Load ``idp.yaml`` (and what it refers to) into :class:`IdpConfig`, failing fast."""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import cast, get_args
from urllib.parse import urlsplit

from idp.config.passwords import PasswordSettings, parse_passwords
from idp.config.reader import Node, load_yaml, optional, secret_from
from idp.config.schema import (
    Attestation,
    IdpConfig,
    KeyFiles,
    Limits,
    Listen,
    ResidentKey,
    SessionSettings,
    UserVerification,
    WebAuthnSettings,
)
from idp.factors.kinds import FactorKind
from idp.policy import Policy, PolicySet

TOP_KEYS = (
    "base_url",
    "listen",
    "trusted_proxies",
    "database_url",
    "ephemeral_url",
    "keys",
    "pairwise_salt",
    "master_key",
    "session",
    "webauthn",
    "policies",
    "limits",
    "relying_parties_dir",
    "directory_cache_seconds",
    "passwords",
    "saml",
    "oidc",
    "wsfed",
)
_UV = get_args(UserVerification)


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> IdpConfig:
    """Parse the IdP's YAML file. Any error names the file, the key path and the reason."""
    environ = dict(os.environ if env is None else env)
    root = load_yaml(path)
    root.only_keys(*TOP_KEYS)
    base = path.parent
    base_url = _base_url(root.child("base_url"))
    keys = root.child("keys")
    keys.only_keys("signing", "next")
    config = IdpConfig(
        source=path,
        base_url=base_url,
        listen=optional(root.get("listen"), _listen, Listen()),
        trusted_proxies=optional(root.get("trusted_proxies"), _proxies, ()),
        database_url=_database_url(root.child("database_url"), environ, base),
        ephemeral_url=optional(
            root.get("ephemeral_url"), lambda n: _ephemeral_url(n, environ), "memory://"
        ),
        signing_key=_key_files(keys.child("signing"), base),
        next_signing_key=optional(keys.get("next"), lambda n: _key_files(n, base)),
        pairwise_salt=secret_from(root.child("pairwise_salt"), env=environ),
        master_key=optional(root.get("master_key"), lambda n: _master_key(n, environ)),
        session=optional(root.get("session"), _session, SessionSettings()),
        webauthn=_webauthn(root.get("webauthn"), base_url),
        policies=_policies(root.child("policies")),
        limits=optional(root.get("limits"), _limits, Limits()),
        relying_parties_dir=optional(
            root.get("relying_parties_dir"), lambda n: n.as_path(base), base / "relying_parties"
        ),
        directory_cache_seconds=optional(
            root.get("directory_cache_seconds"), lambda n: n.as_int(min_value=0, max_value=300), 5
        ),
        passwords=optional(root.get("passwords"), parse_passwords, PasswordSettings()),
    )
    if len(config.pairwise_salt) < 16:
        raise root.child("pairwise_salt").error("the pairwise salt must be at least 16 characters")
    return _with_protocols(config, root, environ)


def _with_protocols(config: IdpConfig, root: Node, environ: Mapping[str, str]) -> IdpConfig:
    # Each protocol parses its own section; imported here so the core stays layered.
    from idp.config.protocols import parse_protocols

    config.protocols.update(parse_protocols(config, root, environ))
    return config


def _base_url(node: Node) -> str:
    value = node.as_str()
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise node.error(f"expected an absolute http(s) URL, got {value!r}")
    if parts.query or parts.fragment:
        raise node.error("must not have a query or fragment")
    if parts.path not in ("", "/"):
        # Routes, redirects and page links are rooted at "/": under a prefix the metadata would
        # advertise endpoints that answer 404 and sign-in would redirect out of the prefix.
        raise node.error(
            f"must not have a path ({parts.path!r}); serve the IdP at the root of its own host"
        )
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise node.error("plain http is only allowed for localhost; use https")
    return value.rstrip("/")


def _listen(node: Node) -> Listen:
    node.only_keys("host", "port")
    return Listen(
        host=optional(node.get("host"), lambda n: n.as_str(), "127.0.0.1"),
        port=optional(node.get("port"), lambda n: n.as_int(min_value=1, max_value=65535), 8080),
    )


def _proxies(node: Node) -> tuple[str, ...]:
    result = []
    for element in node.elements():
        text = element.as_str()
        element.convert(lambda v: ipaddress.ip_network(v, strict=False))
        result.append(text)
    return tuple(result)


def _database_url(node: Node, env: Mapping[str, str], base: Path) -> str:
    url = node.as_str() if isinstance(node.value, str) else secret_from(node, env=env)
    parts = urlsplit(url)
    if not parts.scheme.startswith(("sqlite", "postgresql")):
        raise node.error(f"expected a sqlite:// or postgresql:// URL, got scheme {parts.scheme!r}")
    if isinstance(node.value, str) and parts.password:
        raise node.error("a URL with a password must come from {env: NAME} or {file: PATH}")
    prefix = "sqlite:///"
    relative = url.startswith(prefix) and not url.startswith(prefix + "/")
    if relative and url[len(prefix) :] not in ("", ":memory:"):
        # Like every other path in this file: relative to the file, not to the working dir.
        url = prefix + str((base / url[len(prefix) :]).resolve())
    return url


def _ephemeral_url(node: Node, env: Mapping[str, str]) -> str:
    url = node.as_str() if isinstance(node.value, str) else secret_from(node, env=env)
    scheme = urlsplit(url).scheme
    if scheme not in ("memory", "redis", "rediss"):
        raise node.error(f"expected memory:// or redis(s)://, got scheme {scheme!r}")
    if isinstance(node.value, str) and urlsplit(url).password:
        raise node.error("a URL with a password must come from {env: NAME} or {file: PATH}")
    return url


def _master_key(node: Node, env: Mapping[str, str]) -> str:
    value = secret_from(node, env=env)
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:  # binascii.Error, or text that is not ASCII
        raise node.error(
            "expected base64 of 32 random bytes, got text that is not base64"
        ) from None
    if len(key) != 32:
        raise node.error(f"expected base64 of 32 random bytes, got {len(key)} bytes")
    return value


def _key_files(node: Node, base: Path) -> KeyFiles:
    node.only_keys("key", "cert")
    return KeyFiles(key=node.child("key").as_path(base), cert=node.child("cert").as_path(base))


def _session(node: Node) -> SessionSettings:
    node.only_keys("cookie_name", "idle_timeout", "absolute_lifetime")
    d = SessionSettings()
    s = SessionSettings(
        cookie_name=optional(
            node.get("cookie_name"),
            _cookie_name,
            d.cookie_name,
        ),
        idle_timeout=optional(
            node.get("idle_timeout"), lambda n: n.as_int(min_value=60), d.idle_timeout
        ),
        absolute_lifetime=optional(
            node.get("absolute_lifetime"), lambda n: n.as_int(min_value=300), d.absolute_lifetime
        ),
    )
    if s.idle_timeout > s.absolute_lifetime:
        raise node.child("idle_timeout").error("must not exceed absolute_lifetime")
    return s


def _cookie_name(node: Node) -> str:
    name = node.as_str(pattern=r"[A-Za-z0-9_\-]{1,64}")
    if name == "hideez_idp_flow":  # the Flask IdP's per-browser flow cookie
        raise node.error("'hideez_idp_flow' is the IdP's flow cookie; choose another name")
    return name


def _webauthn(node: Node | None, base_url: str) -> WebAuthnSettings:
    host = urlsplit(base_url).hostname or "localhost"
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    if node is None:
        return WebAuthnSettings(rp_id=host, rp_name="Hideez IdP", origins=(origin,))
    node.only_keys(
        "rp_id",
        "rp_name",
        "origins",
        "user_verification",
        "resident_key",
        "attestation",
        "allowed_aaguids",
        "challenge_ttl",
    )
    rp_id = optional(node.get("rp_id"), lambda n: n.as_str(), host)
    if host != rp_id and not host.endswith("." + rp_id):
        raise node.child("rp_id").error(
            f"{rp_id!r} is not the host of base_url ({host!r}) or a parent domain of it"
        )
    aaguids = optional(
        node.get("allowed_aaguids"),
        lambda n: frozenset(
            v.lower()
            for v in n.as_str_list(pattern=r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
        ),
    )
    return WebAuthnSettings(
        rp_id=rp_id,
        rp_name=optional(node.get("rp_name"), lambda n: n.as_str(max_len=64), "Hideez IdP"),
        origins=optional(node.get("origins"), lambda n: _origins(n, rp_id), (origin,)),
        user_verification=cast(
            UserVerification,
            optional(node.get("user_verification"), lambda n: n.as_choice(_UV), "required"),
        ),
        resident_key=cast(
            ResidentKey,
            optional(
                node.get("resident_key"), lambda n: n.as_choice(get_args(ResidentKey)), "required"
            ),
        ),
        attestation=cast(
            Attestation,
            optional(node.get("attestation"), lambda n: n.as_choice(get_args(Attestation)), "none"),
        ),
        allowed_aaguids=aaguids,
        challenge_ttl=optional(
            node.get("challenge_ttl"), lambda n: n.as_int(min_value=30, max_value=900), 300
        ),
    )


def _origins(node: Node, rp_id: str) -> tuple[str, ...]:
    result = []
    for element in node.elements():
        value = element.as_str()
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
        ):
            raise element.error(f"expected an origin like https://idp.example.com, got {value!r}")
        host = parts.hostname
        if host != rp_id and not host.endswith("." + rp_id):
            # WebAuthn §5.1.3: browsers refuse an RP ID that is not the origin's domain or a
            # parent of it, so such an origin could never complete a ceremony.
            raise element.error(f"{value!r} is not on the RP ID {rp_id!r} or a subdomain of it")
        result.append(value.rstrip("/"))
    return tuple(result)


def _policies(node: Node) -> PolicySet:
    policies = {name: _policy(name, child) for name, child in node.items()}
    if "default" not in policies:
        raise node.error("a policy named 'default' is required")
    return PolicySet(policies=policies)


def _policy(name: str, node: Node) -> Policy:
    node.only_keys(
        "factors",
        "user_verification",
        "max_auth_age",
        "refeds_mfa",
        "authn_context_class_ref",
        "acr",
        "also_satisfies",
    )
    kinds = [k.value for k in FactorKind if k is not FactorKind.PASSWORD]
    factors = frozenset(FactorKind(e.as_choice(kinds)) for e in node.child("factors").elements())
    if not factors:
        raise node.child("factors").error("at least one factor is required")
    d = Policy(name=name, factors=factors)
    return Policy(
        name=name,
        factors=factors,
        require_user_verification=optional(
            node.get("user_verification"), lambda n: n.as_bool(), d.require_user_verification
        ),
        max_auth_age=optional(
            node.get("max_auth_age"),
            lambda n: n.as_int(min_value=0, max_value=7 * 86400),
            d.max_auth_age,
        ),
        refeds_mfa=optional(node.get("refeds_mfa"), lambda n: n.as_bool(), d.refeds_mfa),
        authn_context_class_ref=optional(
            node.get("authn_context_class_ref"), lambda n: n.as_str(), d.authn_context_class_ref
        ),
        acr=optional(node.get("acr"), lambda n: n.as_str(), d.acr),
        also_satisfies=optional(node.get("also_satisfies"), lambda n: n.as_str_list(), ()),
    )


def _limits(node: Node) -> Limits:
    node.only_keys("max_request_bytes", "login_attempts_per_minute")
    d = Limits()
    return Limits(
        max_request_bytes=optional(
            node.get("max_request_bytes"),
            lambda n: n.as_int(min_value=4096, max_value=10_000_000),
            d.max_request_bytes,
        ),
        login_attempts_per_minute=optional(
            node.get("login_attempts_per_minute"),
            lambda n: n.as_int(min_value=1),
            d.login_attempts_per_minute,
        ),
    )

"""Load ``idp.yaml`` (and what it refers to) into :class:`IdpConfig`, failing fast."""

from __future__ import annotations

import base64
import ipaddress
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar, cast, get_args
from urllib.parse import urlsplit

from idp.config.authenticator import AuthenticatorSettings, parse_authenticator
from idp.config.directory import parse_directory
from idp.config.observability import ObservabilitySettings, parse_observability
from idp.config.passwords import PasswordSettings, parse_passwords
from idp.config.reader import Collector, Node, load_yaml, optional, secret_from
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
from idp.config.workstations import WorkstationSettings, parse_workstations
from idp.factors.kinds import FactorKind
from idp.policy import Policy, PolicySet
from idp.session_records import RECORD_VERSIONS, RecordVersion
from idp.store.ephemeral import redis_topology
from idp.store.errors import InvalidStoreUrl

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
    "authenticator",
    "workstations",
    "saml",
    "oidc",
    "wsfed",
    "directory",
    "observability",
)
_UV = get_args(UserVerification)
T = TypeVar("T")


#: stands in for a value whose own error is already collected, so the parts that follow it
#: are still checked; a configuration with any error is never returned
_UNCHECKED_SALT = "(unchecked: see its own error)"


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> IdpConfig:
    """Parse the IdP's YAML file. Errors name the file, the key path and the reason; every
    independent part is checked, and all errors found are raised together
    (:class:`~idp.config.reader.ConfigErrors`)."""
    environ = dict(os.environ if env is None else env)
    root = load_yaml(path)
    found = Collector()
    base = path.parent

    def part(key: str, fn: Callable[[Node], T], default: T) -> T:
        """An optional key; its error is collected and its default stands in."""
        return found.attempt(lambda: optional(root.get(key), fn, default), default)

    found.attempt(lambda: root.only_keys(*TOP_KEYS), None)
    base_url = found.attempt(lambda: _base_url(root.child("base_url")), None)
    policies = found.attempt(lambda: _policies(root.child("policies")), None)
    no_keys: tuple[KeyFiles | None, KeyFiles | None] = (None, None)
    signing, upcoming = found.attempt(lambda: _keys(root.child("keys"), base), no_keys)
    config = IdpConfig(
        source=path,
        base_url=base_url or "http://localhost",
        listen=part("listen", _listen, Listen()),
        trusted_proxies=part("trusted_proxies", _proxies, ()),
        database_url=found.attempt(
            lambda: _database_url(root.child("database_url"), environ, base), ""
        ),
        ephemeral_url=part("ephemeral_url", lambda n: _ephemeral_url(n, environ), "memory://"),
        signing_key=signing or KeyFiles(key=path, cert=path),
        next_signing_key=upcoming,
        pairwise_salt=found.attempt(lambda: _salt(root, environ), _UNCHECKED_SALT),
        master_key=part("master_key", lambda n: _master_key(n, environ), None),
        session=part("session", _session, SessionSettings()),
        webauthn=found.attempt(
            lambda: _webauthn(root.get("webauthn"), base_url or "http://localhost"),
            _webauthn(None, "http://localhost"),
        ),
        policies=policies or PolicySet(policies={}),
        limits=part("limits", _limits, Limits()),
        relying_parties_dir=found.attempt(
            lambda: _relying_parties_dir(root.get("relying_parties_dir"), base),
            base / "relying_parties",
        ),
        directory_cache_seconds=part(
            "directory_cache_seconds", lambda n: n.as_int(min_value=0, max_value=300), 5
        ),
        passwords=part("passwords", parse_passwords, PasswordSettings()),
        directory=part("directory", lambda n: parse_directory(n, environ, base), None),
        authenticator=part(
            "authenticator",
            lambda n: parse_authenticator(n, environ, base),
            AuthenticatorSettings(),
        ),
        workstations=part(
            "workstations", lambda n: parse_workstations(n, base), WorkstationSettings()
        ),
        observability=part("observability", parse_observability, ObservabilitySettings()),
    )
    if base_url is not None and policies is not None:
        # The protocol sections derive endpoints from base_url and name policies: without
        # those two their errors would only echo the ones already found.
        found.attempt(lambda: _with_protocols(config, root, environ), config)
    found.check()
    return config


def _keys(node: Node, base: Path) -> tuple[KeyFiles, KeyFiles | None]:
    node.only_keys("signing", "next")
    return (
        _key_files(node.child("signing"), base),
        optional(node.get("next"), lambda n: _key_files(n, base)),
    )


def _salt(root: Node, environ: Mapping[str, str]) -> str:
    node = root.child("pairwise_salt")
    salt = secret_from(node, env=environ)
    if len(salt) < 16:
        raise node.error("the pairwise salt must be at least 16 characters")
    return salt


def _relying_parties_dir(node: Node | None, base: Path) -> Path:
    if node is None:
        return base / "relying_parties"  # the default may be absent: then there are none
    path = node.as_path(base)
    if not path.is_dir():
        # Named explicitly, a missing directory is a typo or a lost mount, not "no SPs".
        raise node.error(f"directory {path} does not exist")
    return path


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
    if not parts.scheme.startswith(("sqlite", "postgresql", "mysql", "mariadb")):
        raise node.error(
            f"expected a sqlite://, postgresql:// or mysql:// URL, got scheme {parts.scheme!r}"
        )
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
    if scheme not in ("memory", "redis", "rediss", "unix", *redis_topology.SCHEMES):
        raise node.error(
            "expected memory://, redis(s)://, unix://, redis+sentinel:// or redis+cluster://, "
            f"got scheme {scheme!r}"
        )
    if scheme in redis_topology.SCHEMES:
        try:
            redis_topology.check_url(url)
        except InvalidStoreUrl as exc:
            raise node.error(exc.description) from None
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
    node.only_keys("cookie_name", "idle_timeout", "absolute_lifetime", "record_version")
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
        record_version=optional(node.get("record_version"), _record_version, d.record_version),
    )
    if s.idle_timeout > s.absolute_lifetime:
        raise node.child("idle_timeout").error("must not exceed absolute_lifetime")
    return s


def _record_version(node: Node) -> RecordVersion:
    version = node.as_int()
    for known in RECORD_VERSIONS:
        if version == known:
            return known
    raise node.error(f"expected 1 or 2 (the session record version to write), got {version}")


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

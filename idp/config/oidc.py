"""The ``oidc:`` section of ``idp.yaml`` and the clients file it points at.

Absent section → OIDC is off. Every key is documented in ``docs/oidc.md`` (and the ``eam:``
keys in ``docs/entra-eam.md``); unknown keys are refused; client secrets come only from
``{env: NAME}`` or ``{file: PATH}`` and must be at least 32 characters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from urllib.parse import parse_qs, urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from idp.config.reader import Collector, Node, is_loopback, load_yaml, optional, secret_from
from idp.config.schema import IdpConfig, KeyFiles
from idp.oidc.clients import (
    AUTH_METHODS,
    MIN_SECRET_LENGTH,
    SECRET_METHODS,
    STANDARD_SCOPES,
    Client,
    ClientRegistry,
)
from idp.oidc.eam import ENTRA_CLOUDS, LINKING_MODES, EamSettings, EntraCloud, offered_amr
from idp.oidc.keys import JoseKey
from idp.oidc.logout_channels import BackchannelSettings

_GUID = r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_CLIENT_ID = r"[A-Za-z0-9._~\-]{3,128}"


@dataclass(frozen=True)
class Lifetimes:
    code: int = 60
    access_token: int = 3600
    id_token: int = 3600
    refresh_token: int = 30 * 86400
    consent: int = 180 * 86400


@dataclass(frozen=True)
class OidcKeyFiles:
    """Key files per algorithm; ``rs256`` None means the IdP's own ``keys.signing``/``next``."""

    rs256: KeyFiles | None = None
    rs256_next: KeyFiles | None = None
    es256: KeyFiles | None = None
    es256_next: KeyFiles | None = None


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    base_url: str
    keys: OidcKeyFiles
    lifetimes: Lifetimes
    clients: ClientRegistry
    pairwise_salt: str
    eam: EamSettings | None = None
    pending_ttl: int = 900
    backchannel: BackchannelSettings = field(default_factory=BackchannelSettings)

    def endpoint(self, path: str) -> str:
        return f"{self.base_url}/oidc/{path}"


def parse(node: Node | None, config: IdpConfig, env: Mapping[str, str]) -> OidcSettings | None:
    """Protocol-section contract of :mod:`idp.config.protocols`; absent section → off."""
    if node is None:
        return None
    node.only_keys("issuer", "keys", "lifetimes", "clients_file", "eam", "backchannel_logout")
    base = Path(config.source).parent
    issuer = optional(node.get("issuer"), lambda n: _issuer(n, config.base_url), config.base_url)
    clients = optional(
        node.get("clients_file"),
        lambda n: load_clients(n.as_path(base), policies=config.policies.policies, env=env),
        ClientRegistry({}),
    )
    eam = optional(node.get("eam"), lambda n: _eam(n, config))
    if eam is not None:
        clash = sorted(set(eam.client_ids) & set(clients.clients))
        if clash:
            raise (
                node.child("eam")
                .child("client_ids")
                .error(f"client id {clash[0]!r} is also a regular client in the clients file")
            )
    return OidcSettings(
        issuer=issuer,
        base_url=config.base_url,
        keys=optional(node.get("keys"), lambda n: _keys(n, base), OidcKeyFiles()),
        lifetimes=optional(node.get("lifetimes"), _lifetimes, Lifetimes()),
        clients=clients,
        pairwise_salt=config.pairwise_salt,
        eam=eam,
        backchannel=optional(node.get("backchannel_logout"), _backchannel, BackchannelSettings()),
    )


def _backchannel(node: Node) -> BackchannelSettings:
    node.only_keys("connect_timeout_ms", "read_timeout_ms", "concurrency", "token_lifetime")
    d = BackchannelSettings()

    def millis(name: str, most: int, default: float) -> float:
        found = optional(node.get(name), lambda n: n.as_int(min_value=100, max_value=most))
        return default if found is None else found / 1000

    return BackchannelSettings(
        connect_timeout=millis("connect_timeout_ms", 10_000, d.connect_timeout),
        read_timeout=millis("read_timeout_ms", 30_000, d.read_timeout),
        concurrency=optional(
            node.get("concurrency"), lambda n: n.as_int(min_value=1, max_value=32), d.concurrency
        ),
        token_lifetime=optional(
            node.get("token_lifetime"), lambda n: n.as_int(min_value=10, max_value=300),
            d.token_lifetime,
        ),
    )  # fmt: skip


def _issuer(node: Node, base_url: str) -> str:
    value = node.as_str()
    if value != base_url and not value.startswith(base_url + "/"):
        # Discovery is served at issuer + /.well-known/…, so it must live on this server.
        raise node.error(f"the issuer must be base_url ({base_url}) or a path below it")
    if value.endswith("/") or urlsplit(value).query or urlsplit(value).fragment:
        raise node.error("the issuer must not end with '/' or have a query or fragment")
    return value


def _keys(node: Node, base: Path) -> OidcKeyFiles:
    node.only_keys("rs256", "rs256_next", "es256", "es256_next")

    def files(name: str) -> KeyFiles | None:
        def one(n: Node) -> KeyFiles:
            n.only_keys("key", "cert")
            return KeyFiles(key=n.child("key").as_path(base), cert=n.child("cert").as_path(base))

        return optional(node.get(name), one)

    result = OidcKeyFiles(files("rs256"), files("rs256_next"), files("es256"), files("es256_next"))
    if result.rs256_next is not None and result.rs256 is None:
        raise node.child("rs256_next").error("rs256_next needs rs256 (else keys.next is used)")
    if result.es256_next is not None and result.es256 is None:
        raise node.child("es256_next").error("es256_next needs es256")
    return result


def _lifetimes(node: Node) -> Lifetimes:
    node.only_keys("code", "access_token", "id_token", "refresh_token", "consent")
    d = Lifetimes()
    return Lifetimes(
        code=optional(node.get("code"), lambda n: n.as_int(min_value=10, max_value=600), d.code),
        access_token=optional(
            node.get("access_token"), lambda n: n.as_int(min_value=60, max_value=86400),
            d.access_token,
        ),
        id_token=optional(
            node.get("id_token"), lambda n: n.as_int(min_value=60, max_value=86400), d.id_token
        ),
        refresh_token=optional(
            node.get("refresh_token"), lambda n: n.as_int(min_value=300, max_value=365 * 86400),
            d.refresh_token,
        ),
        consent=optional(
            node.get("consent"), lambda n: n.as_int(min_value=60, max_value=2 * 365 * 86400),
            d.consent,
        ),
    )  # fmt: skip


_CLIENT_KEYS = (
    "client_id", "name", "secret", "redirect_uris", "token_endpoint_auth_method", "public",
    "scopes", "policy", "jwks", "jwks_file", "post_logout_redirect_uris",
    "id_token_signed_response_alg", "subject_type", "require_pkce", "refresh_tokens",
    "require_consent", "backchannel_logout_uri", "backchannel_logout_session_required",
    "frontchannel_logout_uri", "frontchannel_logout_session_required", "allow_http",
)  # fmt: skip


def load_clients(
    path: Path, *, policies: Mapping[str, object], env: Mapping[str, str]
) -> ClientRegistry:
    """Read the clients YAML file (``clients:`` list); every error names file and key path."""
    root = load_yaml(path)
    root.only_keys("clients")
    clients: dict[str, Client] = {}
    elements: list[Node] = optional(root.get("clients"), Node.elements, [])
    found = Collector()  # every broken client is reported, not only the first
    for element in elements:
        client = found.attempt(partial(_client, element, policies, env), None)
        if client is None:
            continue
        if client.client_id in clients:
            found.errors.append(
                element.child("client_id").error(f"duplicate client_id {client.client_id!r}")
            )
            continue
        clients[client.client_id] = client
    found.check()
    return ClientRegistry(MappingProxyType(clients))


def _client(node: Node, policies: Mapping[str, object], env: Mapping[str, str]) -> Client:
    node.only_keys(*_CLIENT_KEYS)
    client_id = node.child("client_id").as_str(pattern=_CLIENT_ID)
    public = optional(node.get("public"), Node.as_bool, False)
    method = optional(
        node.get("token_endpoint_auth_method"),
        lambda n: n.as_choice(AUTH_METHODS),
        "none" if public else "client_secret_basic",
    )
    if public != (method == "none"):
        raise node.child("token_endpoint_auth_method").error(
            "a public client uses 'none'; a confidential client must not"
            if public
            else "token_endpoint_auth_method 'none' needs public: true"
        )
    secret = optional(node.get("secret"), lambda n: secret_from(n, env=env))
    if method in SECRET_METHODS:
        if secret is None:
            raise node.child("secret").error(f"{method} needs a secret")
        if len(secret) < MIN_SECRET_LENGTH:
            raise node.child("secret").error(
                f"client secrets must be at least {MIN_SECRET_LENGTH} characters, got "
                f"{len(secret)}; generate one with 'hideez-idp client add'"
            )
    elif secret is not None:
        raise node.child("secret").error(f"{method} does not use a secret; remove it")
    jwks = _client_jwks(node)
    if method == "private_key_jwt" and not jwks:
        raise node.error("private_key_jwt needs jwks or jwks_file with at least one key")
    policy = optional(node.get("policy"), lambda n: n.as_str())
    if policy is not None and policy not in policies:
        raise node.child("policy").error(f"no policy named {policy!r} in idp.yaml")
    allow_http = optional(node.get("allow_http"), Node.as_bool, False)
    redirect_uris = _uris(node.child("redirect_uris"), required=True, allow_http=allow_http)
    back, back_sid = _logout_channel(node, "backchannel", public, redirect_uris)
    front, front_sid = _logout_channel(node, "frontchannel", public, redirect_uris)
    return Client(
        client_id=client_id,
        name=optional(node.get("name"), lambda n: n.as_str(max_len=128), client_id),
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=method,
        secret=secret,
        scopes=_scopes(node.get("scopes")),
        policy=policy,
        jwks=jwks,
        post_logout_redirect_uris=optional(
            node.get("post_logout_redirect_uris"),
            lambda n: _uris(n, required=False, allow_http=allow_http), (),
        ),
        id_token_signed_response_alg=optional(
            node.get("id_token_signed_response_alg"), lambda n: n.as_choice(("RS256", "ES256")),
            "RS256",
        ),
        subject_type=optional(
            node.get("subject_type"), lambda n: n.as_choice(("public", "pairwise")), "public"
        ),
        require_pkce=optional(node.get("require_pkce"), Node.as_bool, False),
        refresh_tokens=optional(node.get("refresh_tokens"), Node.as_bool, not public),
        require_consent=optional(node.get("require_consent"), Node.as_bool, False),
        backchannel_logout_uri=back, backchannel_logout_session_required=back_sid,
        frontchannel_logout_uri=front, frontchannel_logout_session_required=front_sid,
    )  # fmt: skip


def _uris(node: Node, *, required: bool, allow_http: bool) -> tuple[str, ...]:
    uris = node.as_str_list()
    if required and not uris:
        raise node.error("at least one URI is required")
    for index, uri in enumerate(uris):
        parts = urlsplit(uri)
        where = node.elements()[index]
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise where.error(f"expected an absolute https URL, got {uri!r}")
        if parts.scheme == "http" and not allow_http and not is_loopback(parts.hostname):
            # Codes and tokens travel in this redirect: over plain http they can be taken.
            raise where.error(
                "plain http is only allowed for localhost; use https, or set allow_http: true "
                "for this client if it really is on a trusted network"
            )
        if parts.fragment or "#" in uri:
            raise where.error("a redirect URI must not have a fragment (RFC 6749 §3.1.2)")
    return uris


MAX_LOGOUT_URI_LENGTH = 2048


def _logout_channel(
    node: Node, channel: str, public: bool, redirect_uris: tuple[str, ...]
) -> tuple[str | None, bool]:
    """``<channel>_logout_uri`` and ``<channel>_logout_session_required`` of one client."""
    uri_key, required_key = f"{channel}_logout_uri", f"{channel}_logout_session_required"
    uri_node = node.get(uri_key)
    uri = None
    if uri_node is not None:
        uri = _logout_uri(uri_node, channel=channel, public=public, redirect_uris=redirect_uris)
    required = optional(node.get(required_key), Node.as_bool, False)
    if required and uri is None:
        raise node.child(required_key).error(f"{required_key} needs {uri_key}")
    return uri, required


def _logout_uri(node: Node, *, channel: str, public: bool, redirect_uris: tuple[str, ...]) -> str:
    spec = "Back-Channel Logout 1.0 §2.2" if channel == "backchannel" else "Front-Channel §2"
    uri = node.as_str(max_len=MAX_LOGOUT_URI_LENGTH)
    if any(c.isspace() or not c.isprintable() for c in uri):
        raise node.error("a logout URI must not contain spaces or control characters")
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise node.error(f"expected an absolute https URL, got {uri[:80]!r}")
    if "@" in parts.netloc:
        raise node.error("a logout URI must not carry user information ('user@host')")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise node.error(f"{uri[:80]!r} has an invalid port") from None
    if parts.fragment or "#" in uri:
        raise node.error(f"a logout URI must not have a fragment ({spec})")
    if parts.scheme == "http":
        if not is_loopback(parts.hostname):
            raise node.error(
                "plain http is only allowed for a loopback host (localhost, 127.0.0.1, ::1)"
            )
        if public:
            raise node.error(f"plain http is only allowed for confidential clients ({spec})")
    if channel == "frontchannel":
        clash = {"iss", "sid"} & set(parse_qs(parts.query, keep_blank_values=True))
        if clash:
            raise node.error(
                f"the query must not already carry {sorted(clash)[0]!r}: the IdP adds it"
            )
        if _origin(uri) not in {_origin(u) for u in redirect_uris}:
            raise node.error(
                "the scheme, host and port must be those of one of the redirect_uris "
                f"({spec}); got {_origin(uri)}"
            )
    return uri


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def _scopes(node: Node | None) -> frozenset[str]:
    if node is None:
        return frozenset(STANDARD_SCOPES)
    scopes = frozenset(e.as_choice(STANDARD_SCOPES) for e in node.elements())
    if "openid" not in scopes:
        raise node.error("scopes must include openid")
    return scopes


def _client_jwks(node: Node) -> Mapping[str, JoseKey]:
    inline = node.get("jwks")
    file_node = node.get("jwks_file")
    if inline is not None and file_node is not None:
        raise node.child("jwks_file").error("give jwks or jwks_file, not both")
    if inline is None and file_node is None:
        return MappingProxyType({})
    if inline is not None:
        source, data = inline, inline.mapping()
    else:
        assert file_node is not None
        path = file_node.as_path(Path(node.source).parent)
        source = file_node
        data = source.convert(lambda _: json.loads(path.read_text()))
    try:
        key_set = KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise source.error(f"not a JWK set: {exc}") from None
    keys: dict[str, JoseKey] = {}
    for key in key_set.keys:
        if not isinstance(key, RSAKey | ECKey) or not key.kid:
            raise source.error("every key must be RSA or EC and have a kid")
        if key.is_private:
            raise source.error(f"key {key.kid!r} holds private material; publish public keys")
        keys[key.kid] = key
    return MappingProxyType(keys)


def _eam(node: Node, config: IdpConfig) -> EamSettings:
    node.only_keys(
        "client_ids", "tenants", "hint_audience", "max_hint_age", "clock_skew", "linking",
        "policy", "acr_values", "clouds", "id_token_lifetime", "reuse_factor_for",
        "jwks_refresh_interval", "jwks_max_age",
    )  # fmt: skip
    policy = optional(node.get("policy"), lambda n: n.as_str())
    if policy is not None and policy not in config.policies.policies:
        raise node.child("policy").error(f"no policy named {policy!r} in idp.yaml")
    client_ids = node.child("client_ids").as_str_list(pattern=_CLIENT_ID)
    if not client_ids:
        raise node.child("client_ids").error("at least one EAM client id is required")
    tenants = frozenset(t.lower() for t in node.child("tenants").as_str_list(pattern=_GUID))
    if not tenants:
        raise node.child("tenants").error("at least one Entra tenant id is required")
    acr_values = optional(node.get("acr_values"), lambda n: n.as_str_list(), ())
    return EamSettings(
        client_ids=client_ids,
        tenants=tenants,
        hint_audience=node.child("hint_audience").as_str(max_len=256),
        max_hint_age=optional(
            node.get("max_hint_age"), lambda n: n.as_int(min_value=30, max_value=3600), 600
        ),
        clock_skew=optional(
            node.get("clock_skew"), lambda n: n.as_int(min_value=0, max_value=600), 300
        ),
        linking=optional(node.get("linking"), lambda n: n.as_choice(LINKING_MODES), "oid_tid"),
        policy=policy,
        acr_values=acr_values or ("possessionorinherence",),
        clouds=optional(node.get("clouds"), _clouds, ENTRA_CLOUDS),
        id_token_lifetime=optional(
            node.get("id_token_lifetime"), lambda n: n.as_int(min_value=60, max_value=600), 300
        ),
        reuse_factor_for=optional(
            node.get("reuse_factor_for"), lambda n: n.as_int(min_value=0, max_value=3600), 0
        ),
        jwks_refresh_interval=optional(
            node.get("jwks_refresh_interval"), lambda n: n.as_int(min_value=0, max_value=86400),
            300,
        ),
        jwks_max_age=optional(
            node.get("jwks_max_age"), lambda n: n.as_int(min_value=300, max_value=7 * 86400),
            86400,
        ),
        amr_values=offered_amr(config.policies.get(policy).factors),
    )  # fmt: skip


def _jwks_url(node: Node) -> str:
    url = node.as_str(pattern=r"https?://\S+")
    # Plain http only where nobody can sit in between: a simulated Entra on this machine.
    if url.startswith("http://") and urlsplit(url).hostname not in (
        "127.0.0.1",
        "::1",
        "localhost",
    ):
        raise node.error(
            "jwks_url must use https (http only on loopback: 127.0.0.1, ::1, localhost)"
        )
    return url


def _clouds(node: Node) -> tuple[EntraCloud, ...]:
    clouds = []
    for element in node.elements():
        element.only_keys("name", "issuer_prefix", "jwks_url", "redirect_uri")
        prefix = element.child("issuer_prefix").as_str(pattern=r"https://[^/]+/")
        clouds.append(
            EntraCloud(
                name=element.child("name").as_str(pattern=r"[a-z0-9_\-]{1,32}"),
                issuer_prefix=prefix,
                jwks_url=_jwks_url(element.child("jwks_url")),
                redirect_uri=element.child("redirect_uri").as_str(pattern=r"https://\S+"),
            )
        )
    if not clouds:
        raise node.error("at least one cloud is required")
    return tuple(clouds)

"""SAML configuration: the IdP's own settings and one :class:`ServiceProvider` per SP.

Each SP comes from one YAML file (``config/relying_parties/<name>.yaml``), optionally pointing
at the SP's metadata XML for entity id, endpoints and certificates. A profile preset
(:mod:`idp.saml.profiles`) fills defaults; the YAML overrides them. Parsed once at start with
:class:`~idp.config.reader.Node`, so every error names the file, the key path and the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from idp.config.reader import Node, load_yaml, optional, secret_from
from idp.config.schema import IdpConfig
from idp.errors import ConfigError, IdpError
from idp.saml import constants as c
from idp.saml.attributes import check_source
from idp.saml.profiles import PRESETS, PROFILES, AttributePreset
from idp.saml.sp_metadata import MetadataEndpoint, SpMetadata, parse_sp_metadata

ENCRYPTION_ALGORITHMS = ("aes256-gcm", "aes128-cbc")
NAME_ID_SOURCES = ("pairwise", "email", "username", "transient", "external_id")
_URL = r"https?://\S+"


@dataclass(frozen=True)
class Endpoint:
    binding: str
    url: str
    index: int | None = None
    is_default: bool = False
    response_url: str | None = None


@dataclass(frozen=True)
class AttributeRelease:
    """``source`` (ours, see :mod:`idp.saml.attributes`) released as ``name``/``name_format``."""

    source: str
    name: str
    name_format: str = c.ATTRNAME_BASIC
    required: bool = False


@dataclass(frozen=True)
class NameIdRule:
    format: str
    source: str  # one of NAME_ID_SOURCES
    external_id: str | None = None


@dataclass(frozen=True)
class ServiceProvider:
    name: str
    entity_id: str
    profile: str
    acs: tuple[Endpoint, ...]
    slo: tuple[Endpoint, ...]
    signing_certs: tuple[bytes, ...]
    want_authn_requests_signed: bool
    sign_response: bool
    sign_assertion: bool
    name_id: NameIdRule
    attributes: tuple[AttributeRelease, ...]
    encrypt_assertion: bool = False
    encryption_cert: bytes | None = None
    encryption_algorithm: str = "aes256-gcm"
    signature_algorithm: str = "sha256"
    digest_algorithm: str = "sha256"
    audience: str | None = None
    allow_idp_initiated: bool = False
    default_relay_state: str | None = None
    policy: str | None = None
    relay_state_max_bytes: int = 1024
    session_lifetime: dt.timedelta = dt.timedelta(hours=8)
    #: what employees see ("to continue to …"); the identifier ``name`` when not set
    display_name: str | None = None

    @property
    def title(self) -> str:
        return self.display_name or self.name

    @property
    def allow_sha1(self) -> bool:
        return "sha1" in (self.signature_algorithm, self.digest_algorithm)

    @property
    def audience_value(self) -> str:
        return self.audience or self.entity_id

    @property
    def default_acs(self) -> Endpoint:
        for endpoint in self.acs:
            if endpoint.is_default:
                return endpoint
        return min(self.acs, key=lambda e: (e.index is None, e.index or 0))


@dataclass(frozen=True)
class Contact:
    type: str
    email: str
    name: str | None = None


@dataclass(frozen=True)
class IdpSamlSettings:
    entity_id: str
    base_url: str
    pairwise_salt: str
    clock_skew: dt.timedelta = dt.timedelta(seconds=180)
    max_request_bytes: int = 100 * 1024
    assertion_lifetime: dt.timedelta = dt.timedelta(minutes=5)
    metadata_valid_for: dt.timedelta = dt.timedelta(days=7)
    want_authn_requests_signed: bool = False
    organisation_name: str | None = None
    organisation_url: str | None = None
    contacts: tuple[Contact, ...] = ()

    @property
    def sso_url(self) -> str:
        return f"{self.base_url}/saml/login"

    @property
    def slo_url(self) -> str:
        return f"{self.base_url}/saml/logout"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/saml/metadata"


@dataclass(frozen=True)
class SamlConfig:
    """The parsed ``saml:`` section and the SAML service providers, by entity id."""

    settings: IdpSamlSettings
    service_providers: Mapping[str, ServiceProvider]


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
    return SamlConfig(settings, sps)


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
    )
    base = base_url.rstrip("/")
    org = node.get("organisation")
    if org is not None:
        org.only_keys("name", "url")
    contact_nodes: list[Node] = optional(node.get("contacts"), Node.elements, [])
    contacts = tuple(_contact(n) for n in contact_nodes)
    return IdpSamlSettings(
        entity_id=optional(node.get("entity_id"), lambda n: n.as_str(pattern=_URL), base),
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


_SP_KEYS = (
    "protocol",
    "name",
    "display_name",
    "profile",
    "entity_id",
    "metadata",
    "acs",
    "slo",
    "signing_certs",
    "want_authn_requests_signed",
    "sign_response",
    "sign_assertion",
    "encryption",
    "signature_algorithm",
    "digest_algorithm",
    "audience",
    "name_id",
    "attributes",
    "allow_idp_initiated",
    "default_relay_state",
    "policy",
    "relay_state_max_bytes",
    "session_lifetime_minutes",
)


def load_service_provider(path: Path) -> ServiceProvider:
    return parse_service_provider(load_yaml(path))


def load_service_providers(
    directory: Path, *, policies: Collection[str] | None = None
) -> dict[str, ServiceProvider]:
    """Every ``*.yaml`` with ``protocol: saml`` in ``directory``, keyed by entity id.

    Files of other protocols (``protocol: oidc``, ...) are left to their parsers; a file
    without ``protocol`` is refused so that no relying party is silently ignored.
    """
    result: dict[str, ServiceProvider] = {}
    if not directory.is_dir():
        return result
    for path in sorted(directory.glob("*.yaml")):
        node = load_yaml(path)
        protocol = node.child("protocol").as_str()
        if protocol != "saml":
            continue
        sp = parse_service_provider(node)
        if policies is not None and sp.policy is not None and sp.policy not in policies:
            # A typo here would otherwise surface as a failed sign-in, not at start.
            raise node.child("policy").error(
                f"no policy named {sp.policy!r}; defined: {', '.join(sorted(policies))}"
            )
        if sp.entity_id in result:
            raise ConfigError(
                str(path),
                "entity_id",
                f"{sp.entity_id} is already used by {result[sp.entity_id].name}",
            )
        result[sp.entity_id] = sp
    return result


def parse_service_provider(node: Node) -> ServiceProvider:
    node.only_keys(*_SP_KEYS)
    optional(node.get("protocol"), lambda n: n.as_choice(("saml",)))
    base = Path(node.source).parent
    profile = optional(node.get("profile"), lambda n: n.as_choice(PROFILES), "generic")
    preset = PRESETS[profile]
    meta = optional(node.get("metadata"), lambda n: _metadata(n, base))
    entity_id = optional(node.get("entity_id"), Node.as_str, meta.entity_id if meta else None)
    if entity_id is None:
        raise node._at("entity_id").error("is required unless metadata gives it")
    acs = optional(node.get("acs"), _acs_list, _from_meta(meta.acs) if meta else ())
    if not acs:
        raise node._at("acs").error("at least one HTTP-POST AssertionConsumerService is required")
    no_certs: tuple[bytes, ...] = ()
    certs = optional(node.get("signing_certs"), lambda n: _cert_list(n, base), no_certs)
    certs = certs or (meta.signing_certs if meta else no_certs)
    want_signed = optional(
        node.get("want_authn_requests_signed"),
        Node.as_bool,
        meta.authn_requests_signed if meta else preset.want_authn_requests_signed,
    )
    if want_signed and not certs:
        raise node._at("signing_certs").error("signed requests are required but no cert given")
    sig = optional(
        node.get("signature_algorithm"),
        lambda n: n.as_choice(("sha256", "sha384", "sha512", "sha1")),
        "sha256",
    )
    digest = optional(
        node.get("digest_algorithm"),
        lambda n: n.as_choice(("sha256", "sha384", "sha512", "sha1")),
        "sha256",
    )
    enc_cert, enc_alg = _encryption(node.get("encryption"), base, meta)
    sign_response = optional(node.get("sign_response"), Node.as_bool, preset.sign_response)
    sign_assertion = optional(node.get("sign_assertion"), Node.as_bool, preset.sign_assertion)
    if not (sign_response or sign_assertion):
        # An unsigned bearer assertion can be forged by anyone who can reach the SP's ACS.
        raise node._at("sign_assertion").error(
            "the response or the assertion must be signed; both are switched off"
        )
    lifetime = optional(
        node.get("session_lifetime_minutes"),
        lambda n: n.as_int(min_value=1, max_value=7 * 24 * 60),
        480,
    )
    return ServiceProvider(
        name=node.child("name").as_str(pattern=r"[A-Za-z0-9_.-]+"),
        display_name=optional(node.get("display_name"), lambda n: n.as_str(max_len=100)),
        entity_id=entity_id,
        profile=profile,
        acs=acs,
        slo=optional(node.get("slo"), _slo_list, _from_meta(meta.slo) if meta else ()),
        signing_certs=certs,
        want_authn_requests_signed=want_signed,
        sign_response=sign_response,
        sign_assertion=sign_assertion,
        name_id=optional(
            node.get("name_id"), _name_id, NameIdRule(preset.name_id_format, preset.name_id_source)
        ),
        attributes=optional(
            node.get("attributes"), _attributes, tuple(_release(p) for p in preset.attributes)
        ),
        encrypt_assertion=enc_cert is not None,
        encryption_cert=enc_cert,
        encryption_algorithm=enc_alg,
        signature_algorithm=sig,
        digest_algorithm=digest,
        audience=optional(node.get("audience"), Node.as_str, preset.audience),
        allow_idp_initiated=optional(
            node.get("allow_idp_initiated"), Node.as_bool, preset.allow_idp_initiated
        ),
        default_relay_state=optional(node.get("default_relay_state"), Node.as_str),
        policy=optional(node.get("policy"), Node.as_str),
        relay_state_max_bytes=optional(
            node.get("relay_state_max_bytes"),
            lambda n: n.as_int(min_value=80, max_value=8192),
            1024,
        ),
        session_lifetime=dt.timedelta(minutes=lifetime),
    )


def _metadata(node: Node, base: Path) -> SpMetadata:
    path = node.as_path(base)
    try:
        return parse_sp_metadata(path.read_bytes())
    except OSError as exc:
        raise node.error(f"cannot read {path}: {exc.strerror}") from None
    except IdpError as exc:
        raise node.error(f"{path}: {exc.description}") from None


def _from_meta(endpoints: tuple[MetadataEndpoint, ...]) -> tuple[Endpoint, ...]:
    return tuple(
        Endpoint(e.binding, e.url, e.index, e.is_default, e.response_url) for e in endpoints
    )


def _acs_list(node: Node) -> tuple[Endpoint, ...]:
    result = []
    for i, item in enumerate(node.elements()):
        item.only_keys("url", "binding", "index", "default")
        binding = optional(item.get("binding"), lambda n: n.as_choice(("post",)), "post")
        result.append(
            Endpoint(
                binding=c.BINDINGS[binding],
                url=item.child("url").as_str(pattern=_URL),
                index=optional(
                    item.get("index"), lambda n: n.as_int(min_value=0, max_value=65535), i
                ),
                is_default=optional(item.get("default"), Node.as_bool, False),
            )
        )
    return tuple(result)


def _slo_list(node: Node) -> tuple[Endpoint, ...]:
    result = []
    for item in node.elements():
        item.only_keys("url", "binding", "response_url")
        result.append(
            Endpoint(
                binding=c.BINDINGS[item.child("binding").as_choice(("redirect", "post"))],
                url=item.child("url").as_str(pattern=_URL),
                response_url=optional(item.get("response_url"), lambda n: n.as_str(pattern=_URL)),
            )
        )
    return tuple(result)


def _cert_list(node: Node, base: Path) -> tuple[bytes, ...]:
    return tuple(_read_cert(n, base) for n in node.elements())


def _read_cert(node: Node, base: Path) -> bytes:
    path = node.as_path(base)
    try:
        pem = path.read_bytes()
        x509.load_pem_x509_certificate(pem)
    except OSError as exc:
        raise node.error(f"cannot read {path}: {exc.strerror}") from None
    except ValueError:
        raise node.error(f"{path} is not a PEM certificate") from None
    return pem


def _encryption(node: Node | None, base: Path, meta: SpMetadata | None) -> tuple[bytes | None, str]:
    if node is None:
        return None, "aes256-gcm"
    node.only_keys("cert", "algorithm")
    cert = optional(
        node.get("cert"), lambda n: _read_cert(n, base), meta.encryption_cert if meta else None
    )
    if cert is None:
        raise node._at("cert").error("encryption needs the SP's encryption certificate")
    algorithm = optional(
        node.get("algorithm"), lambda n: n.as_choice(ENCRYPTION_ALGORITHMS), "aes256-gcm"
    )
    return cert, algorithm


def _name_id(node: Node) -> NameIdRule:
    node.only_keys("format", "source", "external_id")
    fmt = node.child("format").as_str()
    fmt = c.NAMEID_FORMATS.get(fmt, fmt)
    if fmt not in c.NAMEID_FORMATS.values():
        raise node._at("format").error(f"expected one of {', '.join(c.NAMEID_FORMATS)}")
    source = node.child("source").as_choice(NAME_ID_SOURCES)
    external = optional(node.get("external_id"), Node.as_str)
    if source == "external_id" and external is None:
        raise node._at("external_id").error("is required when source is external_id")
    if (fmt == c.NAMEID_TRANSIENT) != (source == "transient"):
        raise node._at("source").error("the transient format goes with the transient source")
    return NameIdRule(fmt, source, external)


def _attributes(node: Node) -> tuple[AttributeRelease, ...]:
    result = []
    for item in node.elements():
        item.only_keys("source", "name", "name_format", "required")
        source_node = item.child("source")
        source = source_node.as_str()
        source_node.convert(check_source)
        fmt = optional(
            item.get("name_format"), lambda n: n.as_choice(tuple(c.ATTRNAME_FORMATS)), "basic"
        )
        result.append(
            AttributeRelease(
                source=source,
                name=item.child("name").as_str(),
                name_format=c.ATTRNAME_FORMATS[fmt],
                required=optional(item.get("required"), Node.as_bool, False),
            )
        )
    return tuple(result)


def _release(preset: AttributePreset) -> AttributeRelease:
    return AttributeRelease(preset.source, preset.name, preset.name_format, preset.required)

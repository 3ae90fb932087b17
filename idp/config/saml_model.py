"""The SAML configuration objects: the IdP's own settings and one :class:`ServiceProvider`
per SP (frozen; parsed by :mod:`idp.config.saml` and :mod:`idp.config.saml_sp`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from idp.saml import constants as c

ENCRYPTION_ALGORITHMS = ("aes256-gcm", "aes128-cbc")
NAME_ID_SOURCES = ("pairwise", "email", "username", "transient", "external_id")
URL_PATTERN = r"https?://\S+"


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
class MetadataFilter:
    """Which federation entities become SPs: every non-empty criterion must hold (any of its
    values matches). Empty everywhere selects every SP entity."""

    entity_ids: frozenset[str] = frozenset()
    registration_authorities: frozenset[str] = frozenset()
    entity_categories: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FederationDefaults:
    """What a per-SP YAML file would say, for every SP that comes from federation metadata."""

    profile: str = "generic"
    name_id: NameIdRule = NameIdRule(c.NAMEID_PERSISTENT, "pairwise")
    attributes: tuple[AttributeRelease, ...] = ()
    sign_response: bool = False
    sign_assertion: bool = True
    signature_algorithm: str = "sha256"
    digest_algorithm: str = "sha256"
    #: encrypt to the SP's metadata encryption certificate when it publishes one
    encrypt_assertions: bool = False
    encryption_algorithm: str = "aes256-gcm"
    #: refuse unsigned AuthnRequests even from SPs whose metadata does not ask for it
    want_authn_requests_signed: bool = False
    allow_idp_initiated: bool = False
    policy: str | None = None
    relay_state_max_bytes: int = 1024
    session_lifetime: dt.timedelta = dt.timedelta(hours=8)


@dataclass(frozen=True)
class AggregateSource:
    """A signed metadata aggregate (``EntitiesDescriptor``) from an https URL or a file."""

    name: str
    signing_certs: tuple[bytes, ...]
    url: str | None = None
    path: Path | None = None
    refresh: dt.timedelta = dt.timedelta(hours=1)
    timeout_seconds: float = 30.0
    max_bytes: int = 100 * 1024 * 1024
    require_valid_until: bool = True
    filter: MetadataFilter = field(default_factory=MetadataFilter)

    @property
    def location(self) -> str:
        return self.url if self.url is not None else str(self.path)


@dataclass(frozen=True)
class MdqSource:
    """A Metadata Query Protocol server (draft-young-md-query): one signed entity per GET."""

    base_url: str
    signing_certs: tuple[bytes, ...]
    max_cache: dt.timedelta = dt.timedelta(hours=1)
    negative_cache: dt.timedelta = dt.timedelta(minutes=1)
    timeout_seconds: float = 5.0
    max_bytes: int = 1024 * 1024
    max_entries: int = 10_000
    require_valid_until: bool = True
    filter: MetadataFilter = field(default_factory=MetadataFilter)


@dataclass(frozen=True)
class FederationConfig:
    defaults: FederationDefaults
    aggregates: tuple[AggregateSource, ...] = ()
    mdq: MdqSource | None = None


@dataclass(frozen=True)
class SamlConfig:
    """The parsed ``saml:`` section and the SAML service providers, by entity id."""

    settings: IdpSamlSettings
    service_providers: Mapping[str, ServiceProvider]
    #: SPs from federation metadata (aggregates, MDQ); the local ones above win
    federation: FederationConfig | None = None

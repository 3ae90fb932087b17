"""The SAML configuration objects: the IdP's own settings and one :class:`ServiceProvider`
per SP (frozen; parsed by :mod:`idp.config.saml` and :mod:`idp.config.saml_sp`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

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
class SamlConfig:
    """The parsed ``saml:`` section and the SAML service providers, by entity id."""

    settings: IdpSamlSettings
    service_providers: Mapping[str, ServiceProvider]

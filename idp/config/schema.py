"""The IdP's configuration as frozen, typed objects (parsed once, at start)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from idp.config.authenticator import AuthenticatorSettings
from idp.config.directory import DirectorySettings
from idp.config.observability import ObservabilitySettings
from idp.config.passwords import PasswordSettings
from idp.config.workstations import WorkstationSettings
from idp.policy import PolicySet
from idp.session_records import RecordVersion

UserVerification = Literal["required", "preferred", "discouraged"]
ResidentKey = Literal["required", "preferred"]
Attestation = Literal["none", "direct"]


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 8080


@dataclass(frozen=True)
class KeyFiles:
    key: Path
    cert: Path


@dataclass(frozen=True)
class SessionSettings:
    cookie_name: str = "hideez_idp_session"
    idle_timeout: int = 1800
    absolute_lifetime: int = 8 * 3600
    #: what new sessions are written as (``idp.session_records``); both are always read
    record_version: RecordVersion = 2


@dataclass(frozen=True)
class WebAuthnSettings:
    rp_id: str
    rp_name: str
    origins: tuple[str, ...]
    user_verification: UserVerification = "required"
    resident_key: ResidentKey = "required"
    attestation: Attestation = "none"
    allowed_aaguids: frozenset[str] | None = None
    challenge_ttl: int = 300


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int = 100 * 1024
    login_attempts_per_minute: int = 30


@dataclass(frozen=True)
class IdpConfig:
    source: Path
    base_url: str
    listen: Listen
    trusted_proxies: tuple[str, ...]
    database_url: str
    ephemeral_url: str
    signing_key: KeyFiles
    next_signing_key: KeyFiles | None
    pairwise_salt: str
    master_key: str | None
    session: SessionSettings
    webauthn: WebAuthnSettings
    policies: PolicySet
    limits: Limits
    relying_parties_dir: Path
    directory_cache_seconds: int = 5
    passwords: PasswordSettings = field(default_factory=PasswordSettings)
    #: directory sync sources (``idp.config.directory``); None: nothing is synchronised
    directory: DirectorySettings | None = None
    authenticator: AuthenticatorSettings = field(default_factory=AuthenticatorSettings)
    #: the device gateways' link, the logon CA, the alarm (parsed by idp.config.workstations)
    workstations: WorkstationSettings = field(default_factory=WorkstationSettings)
    #: the log format and the metrics endpoint (parsed by idp.config.observability)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    #: protocol sections, each parsed by its own module (``idp.config.saml`` …)
    protocols: dict[str, Any] = field(default_factory=dict)

    @property
    def secure_cookies(self) -> bool:
        return urlsplit(self.base_url).scheme == "https"

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

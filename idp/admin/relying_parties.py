"""The relying parties the configuration describes, read-only (they live in YAML files,
are parsed once at start, and change with a restart; see docs/configuration.md)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from idp.admin.access import Actor, Permission, requires
from idp.admin.models import Output
from idp.config.oidc import OidcSettings
from idp.config.saml import SamlConfig
from idp.errors import NotFound
from idp.runtime import Runtime
from idp.wsfed.model import WsFedSettings


class Protocol(StrEnum):
    SAML = "saml"
    OIDC = "oidc"
    WSFED = "wsfed"


class RelyingPartyOut(Output):
    id: str = Field(description="protocol:identifier (entity id, client id or realm)")
    protocol: Protocol
    name: str
    identifier: str
    endpoints: list[str] = Field(description="where answers go: ACS, redirect or reply URLs")
    policy: str | None
    #: secrets are never shown; this says only whether the client has one
    has_secret: bool


class RelyingPartyNotFound(NotFound):
    error = "relying_party_not_found"


class RelyingPartyCatalogue:
    def __init__(self, runtime: Runtime) -> None:
        self._all = tuple(_collect(runtime))

    @requires(Permission.CONFIG_READ)
    def all(self, actor: Actor, *, protocol: Protocol | None = None) -> list[RelyingPartyOut]:
        return [rp for rp in self._all if protocol is None or rp.protocol is protocol]

    @requires(Permission.CONFIG_READ)
    def get(self, actor: Actor, rp_id: str) -> RelyingPartyOut:
        for rp in self._all:
            if rp.id == rp_id:
                return rp
        raise RelyingPartyNotFound(f"no relying party {rp_id[:200]!r} is configured")


def _collect(runtime: Runtime) -> list[RelyingPartyOut]:
    found: list[RelyingPartyOut] = []
    protocols = runtime.config.protocols
    saml = protocols.get("saml")
    if isinstance(saml, SamlConfig):
        for sp in saml.service_providers.values():
            found.append(
                RelyingPartyOut(
                    id=f"saml:{sp.entity_id}",
                    protocol=Protocol.SAML,
                    name=sp.title,
                    identifier=sp.entity_id,
                    endpoints=[e.url for e in sp.acs],
                    policy=sp.policy,
                    has_secret=False,
                )
            )
    oidc = protocols.get("oidc")
    if isinstance(oidc, OidcSettings):
        for c in oidc.clients.clients.values():
            found.append(
                RelyingPartyOut(
                    id=f"oidc:{c.client_id}",
                    protocol=Protocol.OIDC,
                    name=c.name,
                    identifier=c.client_id,
                    endpoints=list(c.redirect_uris),
                    policy=c.policy,
                    has_secret=c.secret is not None,
                )
            )
    wsfed = protocols.get("wsfed")
    if isinstance(wsfed, WsFedSettings):
        for rp in wsfed.relying_parties:
            found.append(
                RelyingPartyOut(
                    id=f"wsfed:{rp.realm}",
                    protocol=Protocol.WSFED,
                    name=rp.name,
                    identifier=rp.realm,
                    endpoints=list(rp.reply_urls),
                    policy=rp.policy,
                    has_secret=False,
                )
            )
    return found

"""The WS-Federation settings as frozen, typed objects (parsed once, at start).

:mod:`idp.config.wsfed` builds these from the ``wsfed:`` section of ``idp.yaml``; the request,
token and metadata code reads them and nothing else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from urllib.parse import urlsplit, urlunsplit

from idp.wsfed import constants as c


class TokenType(StrEnum):
    SAML11 = "saml11"
    SAML20 = "saml20"

    @property
    def uri(self) -> str:
        return c.TOKEN_TYPE_SAML11 if self is TokenType.SAML11 else c.TOKEN_TYPE_SAML20


#: YAML name → (key family, signature hash) for the XML signer
SIGNATURE_ALGORITHMS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "rsa-sha256": ("rsa", "sha256"),
        "rsa-sha384": ("rsa", "sha384"),
        "rsa-sha512": ("rsa", "sha512"),
        "rsa-sha1": ("rsa", "sha1"),
        "ecdsa-sha256": ("ec", "sha256"),
    }
)
DIGEST_ALGORITHMS = ("sha256", "sha384", "sha512", "sha1")


@dataclass(frozen=True)
class ClaimRule:
    """Release the values of ``source`` (see :mod:`idp.wsfed.claims`) as ``claim_type``."""

    claim_type: str
    source: str
    required: bool = False

    @property
    def saml11_name(self) -> tuple[str, str]:
        """(AttributeNamespace, AttributeName): WIF splits the claim type at its last ``/``."""
        namespace, _, name = self.claim_type.rpartition("/")
        return namespace, name


@dataclass(frozen=True)
class NameIdentifierRule:
    source: str
    format: str = c.NAMEID_UNSPECIFIED


@dataclass(frozen=True)
class RelyingParty:
    """One WS-Fed relying party (an Exchange virtual directory, a WIF app, SharePoint …)."""

    name: str
    realm: str
    reply_urls: tuple[str, ...]
    token_type: TokenType = TokenType.SAML11
    claims: tuple[ClaimRule, ...] = ()
    name_identifier: NameIdentifierRule | None = None
    policy: str | None = None
    #: where ``wsignoutcleanup1.0`` is sent at sign-out (default: the first reply URL)
    signout_url: str | None = None
    signature_algorithm: str = "rsa-sha256"
    digest_algorithm: str = "sha256"
    #: None → the section's ``token_lifetime``
    token_lifetime: dt.timedelta | None = None
    #: SAML 1.1 AuthenticationMethod; None → derived from the policy's context class
    authentication_method: str | None = None
    #: what employees see on the sign-in page; ``name`` when not set
    display_name: str | None = None

    @property
    def sign_hash(self) -> str:
        return SIGNATURE_ALGORITHMS[self.signature_algorithm][1]

    @property
    def key_family(self) -> str:
        return SIGNATURE_ALGORITHMS[self.signature_algorithm][0]

    @property
    def cleanup_url(self) -> str:
        return self.signout_url or self.reply_urls[0]

    def registered_reply(self, wreply: str) -> str | None:
        """The registered reply URL ``wreply`` names (compared by :func:`url_key`), else None."""
        key = url_key(wreply)
        for url in self.reply_urls:
            if url_key(url) == key:
                return url
        return None


@dataclass(frozen=True)
class WsFedSettings:
    issuer: str
    base_url: str
    relying_parties: tuple[RelyingParty, ...]
    token_lifetime: dt.timedelta = dt.timedelta(hours=1)
    max_context_bytes: int = 2048
    metadata_valid_for: dt.timedelta = dt.timedelta(days=7)
    #: further URLs a ``wsignout1.0`` may return to (each RP's reply URLs always may)
    signout_reply_urls: tuple[str, ...] = ()
    #: the configuration file, for start-time errors that name it
    source: str = "idp.yaml"
    _by_realm: Mapping[str, RelyingParty] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {url_key(rp.realm): rp for rp in self.relying_parties}
        object.__setattr__(self, "_by_realm", MappingProxyType(index))

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/wsfed"

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/FederationMetadata/2007-06/FederationMetadata.xml"

    def relying_party(self, realm: str) -> RelyingParty | None:
        return self._by_realm.get(url_key(realm))

    def lifetime_for(self, rp: RelyingParty) -> dt.timedelta:
        return rp.token_lifetime or self.token_lifetime

    def signout_reply(self, wreply: str) -> str | None:
        """The registered URL ``wreply`` names among every RP's reply URLs and the extras."""
        key = url_key(wreply)
        for url in self.signout_reply_urls:
            if url_key(url) == key:
                return url
        for rp in self.relying_parties:
            found = rp.registered_reply(wreply)
            if found is not None:
                return found
        return None


def url_key(value: str) -> str:
    """How realms and reply URLs are compared.

    Scheme and host are case-insensitive (RFC 3986 §6.2.2.1) and a path that differs only by
    one trailing slash names the same application: Exchange is configured with
    ``https://mail.example.com/owa/`` and some admins register it without the slash. The query
    is compared as is; anything that is not an absolute http(s) URL (``urn:…`` realms) is
    compared exactly.
    """
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return value
    path = parts.path[:-1] if parts.path.endswith("/") else parts.path
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, parts.query, ""))

"""Everything OIDC needs on request paths, built once at start (``idp.protocols`` contract).

Keys are loaded here (or taken from the runtime's :class:`~idp.keys.KeySet`) and wrapped as
joserfc objects; no request path loads a key. Refresh-token families and remembered consent
go to the relational database (``runtime.db``), codes and access tokens to the short-lived
store. Entra's JWKS is fetched lazily over HTTPS by the
cache in :mod:`idp.oidc.eam` through the small fetcher defined here.
"""

from __future__ import annotations

import http.client
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from idp.config.oidc import OidcSettings
from idp.directory.model import Employee
from idp.keys import KeySet, load_signing_key
from idp.oidc.entra_jwks import EntraJwks
from idp.oidc.grants import GrantStore
from idp.oidc.keys import keys_from_signing_keys
from idp.oidc.provider import OidcProvider
from idp.oidc.store import SqlConsents, SqlRefreshFamilies
from idp.policy import PolicySet

if TYPE_CHECKING:
    from idp.config.schema import KeyFiles
    from idp.runtime import Runtime

JWKS_TIMEOUT = 5.0
MAX_JWKS_BYTES = 512 * 1024


@dataclass(frozen=True)
class OidcRuntime:
    provider: OidcProvider
    settings: OidcSettings
    policies: PolicySet
    entra_jwks: EntraJwks | None
    by_entra_id: Callable[[str, str], Employee | None]
    by_username: Callable[[str], Employee | None]
    consents: SqlConsents


def fetch_url(url: str) -> bytes:
    """HTTP(S) GET with a timeout and a size bound (Entra's JWKS)."""
    if not url.startswith(("https://", "http://")):
        raise OSError(f"refusing to fetch non-HTTP URL {url!r}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=JWKS_TIMEOUT) as response:  # noqa: S310
            body: bytes = response.read(MAX_JWKS_BYTES + 1)
    except http.client.HTTPException as exc:
        # A garbled answer (bad status line, broken chunking) is not an OSError; callers
        # treat OSError as "the key endpoint is unreachable".
        raise OSError(f"{url} sent a malformed HTTP response: {type(exc).__name__}") from None
    if len(body) > MAX_JWKS_BYTES:
        raise OSError(f"{url} returned more than {MAX_JWKS_BYTES} bytes")
    return body


def _key_set(current: KeyFiles, upcoming: KeyFiles | None) -> KeySet:
    return KeySet(
        current=load_signing_key(current.key, current.cert),
        next=None if upcoming is None else load_signing_key(upcoming.key, upcoming.cert),
    )


def build(runtime: Runtime, settings: OidcSettings) -> OidcRuntime:
    files = settings.keys
    rsa_keys = runtime.keys if files.rs256 is None else _key_set(files.rs256, files.rs256_next)
    ec_keys = None if files.es256 is None else _key_set(files.es256, files.es256_next)
    keys = keys_from_signing_keys(rsa_keys, ec_keys)
    lifetimes = settings.lifetimes
    policies = runtime.config.policies
    acr = [v for p in policies.policies.values() for v in p.claimable_contexts()]
    if settings.eam is not None:
        acr.extend(settings.eam.acr_values)
    provider = OidcProvider(
        settings=settings,
        keys=keys,
        grants=GrantStore(
            runtime.ephemeral,
            code_ttl=lifetimes.code,
            access_ttl=lifetimes.access_token,
            refresh_ttl=lifetimes.refresh_token,
            families=SqlRefreshFamilies(runtime.db),
        ),
        store=runtime.ephemeral,
        employees=runtime.directory.get,
        acr_values=tuple(dict.fromkeys(acr)),
    )
    employees = runtime.employees

    def by_entra_id(object_id: str, tenant_id: str) -> Employee | None:
        found = employees.get_by_entra_object_id(object_id)
        if found is None or (found.entra_tenant_id or "").lower() != tenant_id.lower():
            return None
        return found

    def by_username(name: str) -> Employee | None:
        return employees.get_by_username(name) or employees.get_by_email(name)

    jwks = None
    if settings.eam is not None:
        jwks = EntraJwks(fetch=fetch_url, refresh_interval=settings.eam.jwks_refresh_interval,
                         max_age=settings.eam.jwks_max_age)  # fmt: skip
    return OidcRuntime(provider, settings, policies, jwks, by_entra_id, by_username,
                       SqlConsents(runtime.db))  # fmt: skip

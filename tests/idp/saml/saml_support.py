"""Constants, a replay cache and the response builder call shared by the SAML tests."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from idp.saml import constants as c
from idp.saml.responses import SamlResponse, build_response

if TYPE_CHECKING:
    from idp.config.saml import IdpSamlSettings, ServiceProvider
    from idp.directory.model import Employee
    from idp.saml.requests import AuthnRequestInfo
    from idp.saml.signing import SamlSigner
    from idp.sessions import AuthContext

IDP_BASE = "https://idp.example.com"
SP_ENTITY = "https://sp.example.com/metadata"
SP_ACS = "https://sp.example.com/acs"
SP_SLO = "https://sp.example.com/sls"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


class MemoryReplayCache:
    """The replay-cache contract (``SET NX EX``) in memory; TTLs are not needed in tests."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[bytes, int]] = {}

    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool:
        if key in self.keys:
            return False
        self.keys[key] = (value, ttl)
        return True


def respond(
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    request: AuthnRequestInfo | None,
    employee: Employee,
    context: AuthContext,
    signer: SamlSigner,
    relay_state: str | None = None,
) -> SamlResponse:
    """A success Response as the SSO path builds it (REFEDS MFA, an 8-hour SP session)."""
    return build_response(
        settings=settings,
        sp=sp,
        request=request,
        subject=employee,
        context=context,
        authn_context_class_ref=c.REFEDS_MFA,
        session_index="sess-1",
        session_not_on_or_after=NOW + dt.timedelta(hours=8),
        signer=signer,
        now=dt.datetime.now(dt.UTC),
        relay_state=relay_state,
    )

"""End to end: an SP known only from a signed aggregate signs in, with OneLogin python3-saml
(strict) as the SP and the core functions driven as the SAML endpoints drive them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from idp.config.saml import IdpSamlSettings
from idp.config.saml_model import AggregateSource, AttributeRelease, FederationDefaults
from idp.directory.model import Employee
from idp.keys import SigningKey
from idp.saml import constants as c
from idp.saml.bindings import decode_redirect
from idp.saml.errors import SignatureRequired, UnknownServiceProvider
from idp.saml.federation_registry import AggregateFeed, ServiceProviderRegistry
from idp.saml.requests import parse_authn_request
from idp.saml.responses import build_response
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.conftest import KeyMaker
from tests.idp.saml import onelogin_sp as ol
from tests.idp.saml.federation_support import aggregate, metadata_server, sign, sp_entity
from tests.idp.saml.saml_support import MemoryReplayCache

FED_SP = "https://wiki.research.example.org/shibboleth"
FED_ACS = "https://wiki.research.example.org/Shibboleth.sso/SAML2/POST"
SIGNING_SP = "https://lab.research.example.org/sp"
SIGNING_ACS = "https://lab.research.example.org/acs"
DEFAULTS = FederationDefaults(
    attributes=(
        AttributeRelease("email", "urn:oid:0.9.2342.19200300.100.1.3", c.ATTRNAME_URI),
        AttributeRelease("full_name", "urn:oid:2.16.840.1.113730.3.1.241", c.ATTRNAME_URI),
    ),
    sign_response=True,
)


@pytest.fixture(scope="module")
def registry(test_keys: KeyMaker, sp_key: SigningKey) -> Iterator[ServiceProviderRegistry]:
    fed_key = test_keys("federation")
    valid = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    xml = sign(
        aggregate(
            [
                sp_entity(FED_SP, acs=FED_ACS, display_name="Research Wiki"),
                sp_entity(SIGNING_SP, acs=SIGNING_ACS, cert=sp_key, authn_requests_signed=True),
            ],
            valid_until=valid,
        ),
        fed_key,
    )
    with metadata_server() as server:
        server.set("/federation.xml", xml)
        feed = AggregateFeed(
            AggregateSource(
                name="research",
                url=f"{server.base_url}/federation.xml",
                signing_certs=(fed_key.cert_pem,),
            ),
            defaults=DEFAULTS,
            clock=lambda: dt.datetime.now(dt.UTC),
        )
        assert feed.refresh().ok
    yield ServiceProviderRegistry({}, aggregates=[feed])


def test_sp_only_in_the_aggregate_signs_in(
    registry: ServiceProviderRegistry,
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    signer: SamlSigner,
    employee: Employee,
    context: AuthContext,
) -> None:
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=FED_SP, acs=FED_ACS)
    query, request_id = ol.redirect_login(sp_settings, acs=FED_ACS)
    now = dt.datetime.now(dt.UTC)
    request = parse_authn_request(
        message=decode_redirect(query),
        settings=settings,
        service_providers=registry,
        replay_cache=MemoryReplayCache(),
        now=now,
    )
    assert request.acs.url == FED_ACS
    sp = registry[FED_SP]
    assert sp.title == "Research Wiki"
    result = build_response(
        settings=settings,
        sp=sp,
        request=request,
        subject=employee,
        context=context,
        authn_context_class_ref=c.REFEDS_MFA,
        session_index="sess-1",
        session_not_on_or_after=now + dt.timedelta(hours=8),
        signer=signer,
        now=now,
    )
    checked = ol.validate(sp_settings, result.xml, acs=FED_ACS, request_id=request_id)
    attributes = checked.get_attributes()
    assert attributes["urn:oid:0.9.2342.19200300.100.1.3"] == ["alice@example.com"]
    assert attributes["urn:oid:2.16.840.1.113730.3.1.241"] == ["Alice Liddell"]
    assert result.form.url == FED_ACS


def test_signing_certificate_from_the_aggregate_verifies_requests(
    registry: ServiceProviderRegistry,
    settings: IdpSamlSettings,
    idp_key: SigningKey,
    sp_key: SigningKey,
) -> None:
    signed = ol.settings(
        idp_cert=idp_key,
        sp_entity=SIGNING_SP,
        acs=SIGNING_ACS,
        sp_key=sp_key,
        authn_requests_signed=True,
    )
    query, _ = ol.redirect_login(signed, acs=SIGNING_ACS)
    info = parse_authn_request(
        message=decode_redirect(query),
        settings=settings,
        service_providers=registry,
        replay_cache=MemoryReplayCache(),
        now=dt.datetime.now(dt.UTC),
    )
    assert info.signed
    # The aggregate says AuthnRequestsSigned="true": an unsigned request is refused.
    unsigned = ol.settings(idp_cert=idp_key, sp_entity=SIGNING_SP, acs=SIGNING_ACS)
    query, _ = ol.redirect_login(unsigned, acs=SIGNING_ACS)
    with pytest.raises(SignatureRequired):
        parse_authn_request(
            message=decode_redirect(query),
            settings=settings,
            service_providers=registry,
            replay_cache=MemoryReplayCache(),
            now=dt.datetime.now(dt.UTC),
        )


def test_sp_in_neither_config_nor_aggregate_is_refused(
    registry: ServiceProviderRegistry, settings: IdpSamlSettings, idp_key: SigningKey
) -> None:
    stranger = "https://stranger.example.net/sp"
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=stranger, acs=f"{stranger}/acs")
    query, _ = ol.redirect_login(sp_settings, acs=f"{stranger}/acs")
    with pytest.raises(UnknownServiceProvider) as caught:
        parse_authn_request(
            message=decode_redirect(query),
            settings=settings,
            service_providers=registry,
            replay_cache=MemoryReplayCache(),
            now=dt.datetime.now(dt.UTC),
        )
    assert caught.value.status == 403

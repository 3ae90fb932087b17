"""Single Logout with python3-saml (strict) as the SP, both directions, signed Redirect."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response

from idp.config.saml import IdpSamlSettings, ServiceProvider
from idp.keys import SigningKey
from idp.saml import constants as c
from idp.saml.bindings import decode_redirect
from idp.saml.errors import MessageReplayed, SignatureRequired
from idp.saml.logout import build_logout_request, build_logout_response, parse_logout_request
from idp.saml.signing import SamlSigner
from tests.idp.saml import onelogin_sp as ol
from tests.idp.saml.saml_support import SP_ACS, SP_ENTITY, SP_SLO, MemoryReplayCache


def _sp_settings(idp_key: SigningKey, sp_key: SigningKey) -> object:
    return ol.settings(
        idp_cert=idp_key, sp_entity=SP_ENTITY, acs=SP_ACS, sp_key=sp_key, logout_signed=True
    )


def _get_data(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_sp_initiated_logout_round_trip(
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    idp_key: SigningKey,
    sp_key: SigningKey,
    signer: SamlSigner,
) -> None:
    sp_settings = _sp_settings(idp_key, sp_key)
    auth = OneLogin_Saml2_Auth(ol.request_data(SP_ACS), sp_settings)
    url = auth.logout(
        return_to="https://sp.example.com/bye",
        name_id="alice-id",
        session_index="s1",
        name_id_format=c.NAMEID_PERSISTENT,
    )
    cache = MemoryReplayCache()
    info = parse_logout_request(
        message=decode_redirect(urlsplit(url).query),
        settings=settings,
        service_providers={SP_ENTITY: sp},
        replay_cache=cache,
        now=dt.datetime.now(dt.UTC),
    )
    assert (info.name_id, info.session_indexes) == ("alice-id", ("s1",))
    assert info.relay_state == "https://sp.example.com/bye"
    with pytest.raises(MessageReplayed):
        parse_logout_request(
            message=decode_redirect(urlsplit(url).query),
            settings=settings,
            service_providers={SP_ENTITY: sp},
            replay_cache=cache,
            now=dt.datetime.now(dt.UTC),
        )
    out = build_logout_response(
        settings=settings, request=info, signer=signer, now=dt.datetime.now(dt.UTC)
    )
    assert out.redirect_url is not None and out.redirect_url.startswith(SP_SLO)
    get_data = _get_data(out.redirect_url)
    response = OneLogin_Saml2_Logout_Response(sp_settings, get_data["SAMLResponse"])
    request_data = ol.request_data(SP_SLO)
    request_data["get_data"] = get_data
    assert response.is_valid(request_data, info.id, raise_exceptions=True)


def test_unsigned_logout_request_is_refused(
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    idp_key: SigningKey,
    sp_key: SigningKey,
) -> None:
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=SP_ENTITY, acs=SP_ACS)
    url = OneLogin_Saml2_Auth(ol.request_data(SP_ACS), sp_settings).logout(name_id="a")
    with pytest.raises(SignatureRequired):
        parse_logout_request(
            message=decode_redirect(urlsplit(url).query),
            settings=settings,
            service_providers={SP_ENTITY: sp},
            replay_cache=MemoryReplayCache(),
            now=dt.datetime.now(dt.UTC),
        )


def test_idp_logout_request_to_another_sp_is_accepted_by_onelogin(
    settings: IdpSamlSettings,
    sp: ServiceProvider,
    idp_key: SigningKey,
    sp_key: SigningKey,
    signer: SamlSigner,
) -> None:
    sent = build_logout_request(
        settings=settings,
        sp=sp,
        name_id="alice-id",
        name_id_format=c.NAMEID_PERSISTENT,
        session_index="s1",
        signer=signer,
        now=dt.datetime.now(dt.UTC),
    )
    assert sent.message.redirect_url is not None
    get_data = _get_data(sent.message.redirect_url)
    request_data = ol.request_data(SP_SLO)
    request_data["get_data"] = get_data
    sp_settings = _sp_settings(idp_key, sp_key)
    request = OneLogin_Saml2_Logout_Request(sp_settings, get_data["SAMLRequest"])
    assert request.is_valid(request_data, raise_exceptions=True)
    assert OneLogin_Saml2_Logout_Request.get_id(request.get_xml()) == sent.request_id


def _signed_post_logout_request(
    sp_key: SigningKey, idp_key: SigningKey, *, not_on_or_after: dt.datetime
) -> dict[str, str]:
    import base64

    from lxml import etree
    from onelogin.saml2.constants import OneLogin_Saml2_Constants as K
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    sp_settings = _sp_settings(idp_key, sp_key)
    xml = OneLogin_Saml2_Logout_Request(sp_settings, name_id="alice-id",
                                        session_index="s1").get_xml()  # fmt: skip
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    root.set("NotOnOrAfter", not_on_or_after.strftime("%Y-%m-%dT%H:%M:%SZ"))
    signed = OneLogin_Saml2_Utils.add_sign(etree.tostring(root), sp_key.key_pem.decode(),
                                           sp_key.cert_pem.decode(), sign_algorithm=K.RSA_SHA256,
                                           digest_algorithm=K.SHA256)  # fmt: skip
    return {"SAMLRequest": base64.b64encode(signed).decode()}


def test_logout_request_past_its_not_on_or_after_is_refused(
    settings: IdpSamlSettings, sp: ServiceProvider, idp_key: SigningKey, sp_key: SigningKey
) -> None:
    """Core §3.7.1: NotOnOrAfter bounds the request, within the clock skew (180 s here)."""
    from idp.saml.bindings import decode_post
    from idp.saml.errors import MessageExpired

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    fresh = _signed_post_logout_request(
        sp_key, idp_key, not_on_or_after=now - dt.timedelta(seconds=30)
    )
    info = parse_logout_request(message=decode_post(fresh), settings=settings,
                                service_providers={SP_ENTITY: sp},
                                replay_cache=MemoryReplayCache(), now=now)  # fmt: skip
    assert info.name_id == "alice-id"  # 30 s late is within the skew
    stale = _signed_post_logout_request(
        sp_key, idp_key, not_on_or_after=now - dt.timedelta(seconds=200)
    )
    with pytest.raises(MessageExpired, match="expired at"):
        parse_logout_request(message=decode_post(stale), settings=settings,
                             service_providers={SP_ENTITY: sp},
                             replay_cache=MemoryReplayCache(), now=now)  # fmt: skip


def test_participant_keeps_the_issued_name_id_format() -> None:
    from idp.saml.logout import SessionParticipant

    transient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    p = SessionParticipant("https://sp", "_abc", "_idx", transient)
    assert SessionParticipant.decode(p.encode()) == p
    # Recorded before the format was kept: still readable, the SP's own format applies.
    old = SessionParticipant.decode('saml:["https://sp", "_abc", "_idx"]')
    assert old == SessionParticipant("https://sp", "_abc", "_idx", None)
    assert SessionParticipant.decode('saml:["only-one"]') is None
    assert SessionParticipant.decode("saml:{}") is None

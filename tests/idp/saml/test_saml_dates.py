"""Defect (issue 16 §3.4): a validly signed LogoutRequest with
``NotOnOrAfter="9999-12-31T23:59:59Z"`` answered 500 (OverflowError in date arithmetic).

Extreme or malformed instants in AuthnRequests and LogoutRequests are each a 400 with a
message naming the attribute, never an untyped exception.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as K
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from idp.config.saml import IdpSamlSettings, ServiceProvider
from idp.keys import SigningKey
from idp.saml.bindings import decode_post
from idp.saml.errors import MessageExpired, SamlError, XmlRejected
from idp.saml.inbound import parse_instant
from idp.saml.logout import parse_logout_request
from tests.idp.saml import onelogin_sp as ol
from tests.idp.saml.saml_support import SP_ACS, SP_ENTITY, MemoryReplayCache
from tests.idp.saml.test_saml_subject import authn_request, parse

EXTREMES = [
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-14:00",  # after year 9999 in UTC
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "0001-01-01T00:00:00Z",
]
MALFORMED = ["", "yesterday", "2026-13-01T00:00:00Z", "2026-12-01T00:00:00", "9" * 60]


def signed_logout_request(
    sp_key: SigningKey, idp_key: SigningKey, *, not_on_or_after: str | None = None,
    issue_instant: str | None = None,
) -> dict[str, str]:  # fmt: skip
    sp_settings = ol.settings(idp_cert=idp_key, sp_entity=SP_ENTITY, acs=SP_ACS, sp_key=sp_key,
                              logout_signed=True)  # fmt: skip
    xml = OneLogin_Saml2_Logout_Request(sp_settings, name_id="alice-id",
                                        session_index="s1").get_xml()  # fmt: skip
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    if not_on_or_after is not None:
        root.set("NotOnOrAfter", not_on_or_after)
    if issue_instant is not None:
        root.set("IssueInstant", issue_instant)
    signed = OneLogin_Saml2_Utils.add_sign(etree.tostring(root), sp_key.key_pem.decode(),
                                           sp_key.cert_pem.decode(), sign_algorithm=K.RSA_SHA256,
                                           digest_algorithm=K.SHA256)  # fmt: skip
    return {"SAMLRequest": base64.b64encode(signed).decode()}


def parse_logout(form: dict[str, str], settings: IdpSamlSettings, sp: ServiceProvider) -> None:
    parse_logout_request(message=decode_post(form), settings=settings,
                         service_providers={SP_ENTITY: sp}, replay_cache=MemoryReplayCache(),
                         now=dt.datetime.now(dt.UTC))  # fmt: skip


@pytest.mark.parametrize("value", EXTREMES)
def test_logout_request_with_an_extreme_not_on_or_after_is_a_clear_400(
    value: str, settings: IdpSamlSettings, sp: ServiceProvider, idp_key: SigningKey,
    sp_key: SigningKey,
) -> None:  # fmt: skip
    form = signed_logout_request(sp_key, idp_key, not_on_or_after=value)
    with pytest.raises((MessageExpired, XmlRejected), match="NotOnOrAfter") as caught:
        parse_logout(form, settings, sp)
    assert caught.value.status == 400


def test_not_on_or_after_more_than_a_day_ahead_is_refused(
    settings: IdpSamlSettings, sp: ServiceProvider, idp_key: SigningKey, sp_key: SigningKey
) -> None:
    now = dt.datetime.now(dt.UTC)
    ahead = (now + dt.timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with pytest.raises(MessageExpired, match="more than 24 h ahead"):
        parse_logout(signed_logout_request(sp_key, idp_key, not_on_or_after=ahead), settings, sp)
    minutes = (now + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    parse_logout(signed_logout_request(sp_key, idp_key, not_on_or_after=minutes), settings, sp)


@pytest.mark.parametrize("value", EXTREMES + MALFORMED[1:])
def test_logout_request_with_an_extreme_issue_instant_is_a_clear_400(
    value: str, settings: IdpSamlSettings, sp: ServiceProvider, idp_key: SigningKey,
    sp_key: SigningKey,
) -> None:  # fmt: skip
    form = signed_logout_request(sp_key, idp_key, issue_instant=value)
    with pytest.raises(SamlError, match="IssueInstant") as caught:
        parse_logout(form, settings, sp)
    assert caught.value.status == 400


@pytest.mark.parametrize("value", EXTREMES + MALFORMED[1:])
def test_authn_request_with_an_extreme_issue_instant_is_a_clear_400(
    value: str, settings: IdpSamlSettings, sp: ServiceProvider
) -> None:
    with pytest.raises((MessageExpired, XmlRejected), match="IssueInstant") as caught:
        parse(authn_request(issue_instant=value), settings, sp)
    assert caught.value.status == 400


@pytest.mark.parametrize("value", EXTREMES[:3])
def test_parsed_instants_are_utc_or_refused(value: str) -> None:
    try:
        moment = parse_instant(value, what="X")
    except XmlRejected as exc:
        assert "outside the calendar" in exc.description
        return
    assert moment.tzinfo is dt.UTC
    assert moment - dt.timedelta(days=1) < moment  # arithmetic on it is safe


@pytest.mark.parametrize("value", MALFORMED)
def test_malformed_instants_say_what_is_wrong(value: str) -> None:
    with pytest.raises(XmlRejected, match="X"):
        parse_instant(value, what="X")

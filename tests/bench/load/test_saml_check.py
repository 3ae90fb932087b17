"""The load generator's SP check of SAML Responses, on Responses the IdP's builder signs: a
good answer passes; a tampered, otherwise signed, unsigned, late or misdirected one, or the
answer to another request, is rejected naming what was expected."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from bench.load.saml_check import ResponseRejected, SpView, check_response
from idp.config.saml import Endpoint, IdpSamlSettings, NameIdRule, ServiceProvider
from idp.directory.model import Employee
from idp.factors.kinds import FactorKind, FactorUse
from idp.keys import KeySet, SigningKey
from idp.saml import constants as c
from idp.saml.requests import AuthnRequestInfo
from idp.saml.responses import build_response
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.conftest import KeyMaker

IDP, SP, ACS, REQUEST_ID = (
    "https://idp.example",
    "https://sp.example/md",
    "https://sp.example/acs",
    "_r1",
)


ALICE = Employee(id="e1", username="alice", email="a@example.com", first_name="A", last_name="L")


@pytest.fixture(scope="module")
def idp_key(test_keys: KeyMaker) -> SigningKey:
    return test_keys("idp")


def _sp(*, sign_response: bool, sign_assertion: bool) -> ServiceProvider:
    return ServiceProvider(name="sp", entity_id=SP, profile="generic",
                           acs=(Endpoint(c.BINDING_POST, ACS, 0, True),), slo=(),
                           signing_certs=(), want_authn_requests_signed=False,
                           sign_response=sign_response, sign_assertion=sign_assertion,
                           name_id=NameIdRule(c.NAMEID_PERSISTENT, "pairwise"),
                           attributes=())  # fmt: skip


def _response(key: SigningKey, *, now: dt.datetime | None = None, request_id: str = REQUEST_ID,
              sign_response: bool = True, sign_assertion: bool = True) -> bytes:  # fmt: skip
    sp = _sp(sign_response=sign_response, sign_assertion=sign_assertion)
    now = now or dt.datetime.now(dt.UTC)
    request = AuthnRequestInfo(id=request_id, sp=sp, acs=sp.acs[0], binding=c.BINDING_REDIRECT,
                               issue_instant=now, relay_state=None, force_authn=False,
                               is_passive=False, name_id_format=None, allow_create=True,
                               requested_authn_context=None, signed=False)  # fmt: skip
    use = FactorUse(FactorKind.PASSKEY, "cred-1", now, True, ("hwk", "user"))
    return build_response(
        settings=IdpSamlSettings(entity_id=IDP, base_url=IDP, pairwise_salt="s" * 32), sp=sp,
        request=request, subject=ALICE,
        context=AuthContext("sess-1", "e1", now, (use,)), authn_context_class_ref=c.REFEDS_MFA,
        session_index="s1", session_not_on_or_after=now + dt.timedelta(hours=1),
        signer=SamlSigner(KeySet(key), algorithms=(("sha256", "sha256"),)), now=now,
    ).xml  # fmt: skip


def _view(key: SigningKey, *, acs: str = ACS, entity_id: str = SP) -> SpView:
    body = "".join(line for line in key.cert_pem.decode().splitlines() if "-----" not in line)
    return SpView.of({"sp": {"entityId": entity_id, "assertionConsumerService": {"url": acs}},
                      "idp": {"entityId": IDP, "x509cert": body}})  # fmt: skip


def _posted(xml: bytes) -> str:
    return base64.b64encode(xml).decode()


def test_a_signed_answer_to_the_request_passes(idp_key: SigningKey) -> None:
    check_response(_view(idp_key), _posted(_response(idp_key)), REQUEST_ID)


def test_the_certificate_may_come_in_pem_form_as_python3_saml_leaves_it(
    idp_key: SigningKey,
) -> None:
    view = SpView.of({"sp": {"entityId": SP, "assertionConsumerService": {"url": ACS}},
                      "idp": {"entityId": IDP, "x509cert": idp_key.cert_pem.decode()}})  # fmt: skip
    assert view == _view(idp_key)


def test_a_tampered_answer_another_key_and_an_unsigned_response_are_rejected(
    idp_key: SigningKey, test_keys: KeyMaker
) -> None:
    xml = _response(idp_key)
    tampered = xml.replace(SP.encode(), b"https://sp.example/mX")
    assert tampered != xml
    with pytest.raises(ResponseRejected, match="does not verify"):
        check_response(_view(idp_key), _posted(tampered), REQUEST_ID)
    with pytest.raises(ResponseRejected, match="does not verify"):
        check_response(_view(test_keys("other")), _posted(xml), REQUEST_ID)
    for signed, expected in (((False, True), "present but not on the message element"),
                             ((True, False), "expected a signed Assertion"),
                             ((False, False), "expected a signed Response")):  # fmt: skip
        unsigned = _response(idp_key, sign_response=signed[0], sign_assertion=signed[1])
        with pytest.raises(ResponseRejected, match=expected):
            check_response(_view(idp_key), _posted(unsigned), REQUEST_ID)


def test_an_answer_to_another_request_place_or_audience_or_a_late_one_is_rejected(
    idp_key: SigningKey,
) -> None:
    good = _posted(_response(idp_key))
    with pytest.raises(ResponseRejected, match="expected InResponseTo '_other'"):
        check_response(_view(idp_key), good, "_other")
    with pytest.raises(ResponseRejected, match="expected Destination"):
        check_response(_view(idp_key, acs="https://sp.example/elsewhere"), good, REQUEST_ID)
    with pytest.raises(ResponseRejected, match="expected the audience"):
        check_response(_view(idp_key, entity_id="https://other.example"), good, REQUEST_ID)
    old = _posted(_response(idp_key, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)))
    with pytest.raises(ResponseRejected, match=r"expected .* within the assertion's Conditions"):
        check_response(_view(idp_key), old, REQUEST_ID)


def test_what_is_not_a_response_is_rejected(idp_key: SigningKey) -> None:
    with pytest.raises(ResponseRejected, match="expected Response"):
        check_response(_view(idp_key), _posted(b"<a/>"), REQUEST_ID)

"""Entra ID External Authentication Method against the simulated Entra (``entra_sim``)."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.entra_sim import (
    ENTRA_REDIRECT,
    OTHER_TENANT,
    TENANT,
    US_REDIRECT,
    EntraSim,
    oidc_idp,
    parse_autopost,
)
from tests.e2e.helpers import PasskeyClient, signed_in_session
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e
OID = str(uuid.uuid4())


@pytest.fixture(scope="module")
def idp(
    tmp_path_factory: pytest.TempPathFactory, storage: str
) -> Iterator[tuple[RunningServer, EntraSim]]:
    # The demo policy (user verification): Entra's amr "fido" needs a user-verified passkey,
    # which soft-webauthn cannot give, so these browsers use the crafted key with UV set.
    directory = tmp_path_factory.mktemp("eam")
    with oidc_idp(directory, storage=storage) as (server, sim):
        alice = server.employee("alice")
        server.runtime.employees.update(
            dataclasses.replace(alice, entra_object_id=OID, entra_tenant_id=TENANT)
        )
        yield server, sim


@pytest.fixture(scope="module")
def alice(idp: tuple[RunningServer, EntraSim]) -> PasskeyClient:
    return signed_in_session(idp[0], "alice")


def post(client: PasskeyClient, server: RunningServer, body: dict[str, str]):  # type: ignore[no-untyped-def]
    return client.http.post(server.url("/oidc/authorize"), data=body, allow_redirects=False,
                            timeout=10)  # fmt: skip


def expect_error(response, code: str, state: str = "st-1") -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    action, fields = parse_autopost(response.text)
    assert action == ENTRA_REDIRECT
    assert "id_token" not in fields, "nothing may be issued"
    assert fields["error"] == code, fields
    assert fields["state"] == state
    return fields["error_description"]


def test_eam_happy_path_checked_as_entra_would(
    idp: tuple[RunningServer, EntraSim], alice: PasskeyClient
) -> None:
    server, sim = idp
    request = sim.request(sim.hint(oid=OID))
    first = post(alice, server, request)
    # A fresh second factor is required even with a session: sign in with the passkey.
    assert first.status_code == 303 and "/login?ticket=" in first.headers["Location"]
    answer = alice.follow_login(first)
    action, fields = parse_autopost(answer.text)
    assert action == ENTRA_REDIRECT
    claims = sim.check_answer(server, fields, request=request, hint_sub="pairwise-" + OID[:8])
    assert claims["amr"] == ["fido"]
    assert claims["acr"] == "possessionorinherence"


def test_hint_from_another_tenant(
    idp: tuple[RunningServer, EntraSim], alice: PasskeyClient
) -> None:
    server, sim = idp
    text = expect_error(post(alice, server, sim.request(sim.hint(oid=OID, tid=OTHER_TENANT))),
                        "invalid_request")  # fmt: skip
    assert "tenant" in text


def test_hint_signed_by_unknown_key(idp: tuple[RunningServer, EntraSim], alice: PasskeyClient
                                    ) -> None:  # fmt: skip
    server, sim = idp
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    before = sim.served
    text = expect_error(post(alice, server, sim.request(sim.hint(oid=OID, key=rogue, kid="rogue"))),
                        "invalid_request")  # fmt: skip
    assert "unknown key" in text
    assert sim.served == before + 1, "an unknown kid must trigger one JWKS refresh"


def test_hint_with_our_kid_but_wrong_key(idp: tuple[RunningServer, EntraSim],
                                         alice: PasskeyClient) -> None:  # fmt: skip
    server, sim = idp
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    text = expect_error(post(alice, server, sim.request(sim.hint(oid=OID, key=rogue))),
                        "invalid_request")  # fmt: skip
    assert "signature" in text


def test_tampered_hint(idp: tuple[RunningServer, EntraSim], alice: PasskeyClient) -> None:
    server, sim = idp
    header, _payload, signature = sim.hint(oid=OID).split(".")
    other = sim.hint(oid=str(uuid.uuid4())).split(".")[1]
    text = expect_error(post(alice, server, sim.request(f"{header}.{other}.{signature}")),
                        "invalid_request")  # fmt: skip
    assert "signature" in text


def test_hint_older_than_bound(idp: tuple[RunningServer, EntraSim], alice: PasskeyClient) -> None:
    server, sim = idp
    text = expect_error(post(alice, server, sim.request(sim.hint(oid=OID, age=301))),
                        "invalid_request")  # fmt: skip
    assert "issued 30" in text and "300 s" in text


def test_hint_wrong_audience(idp: tuple[RunningServer, EntraSim], alice: PasskeyClient) -> None:
    server, sim = idp
    text = expect_error(post(alice, server, sim.request(sim.hint(oid=OID, aud="someone-else"))),
                        "invalid_request")  # fmt: skip
    assert "audience" in text


def test_hint_alg_none_and_hs256_with_public_key(
    idp: tuple[RunningServer, EntraSim], alice: PasskeyClient
) -> None:
    server, sim = idp
    none_token = jwt.encode(
        {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "sub": "x"},
        None,
        algorithm="none",
        headers={"kid": sim.kid},
    )
    assert "alg" in expect_error(post(alice, server, sim.request(none_token)), "invalid_request")
    public_pem = sim.jwks()["keys"][0]["n"].encode()  # the public modulus as an HMAC secret
    hs = sim.hint(oid=OID, key=public_pem, alg="HS256")
    assert "alg" in expect_error(post(alice, server, sim.request(hs)), "invalid_request")


def test_missing_nonce(idp: tuple[RunningServer, EntraSim], alice: PasskeyClient) -> None:
    server, sim = idp
    body = sim.request(sim.hint(oid=OID))
    del body["nonce"]
    assert "nonce" in expect_error(post(alice, server, body), "invalid_request")


def test_unlinked_user_is_access_denied(idp: tuple[RunningServer, EntraSim],
                                        alice: PasskeyClient) -> None:  # fmt: skip
    server, sim = idp
    response = post(alice, server, sim.request(sim.hint(oid=str(uuid.uuid4()))))
    assert "no employee is linked" in expect_error(response, "access_denied")


def test_unregistered_redirect_uri_not_posted(idp: tuple[RunningServer, EntraSim],
                                              alice: PasskeyClient) -> None:  # fmt: skip
    server, sim = idp
    body = sim.request(sim.hint(oid=OID))
    body["redirect_uri"] = "https://evil.example.com/federation/externalauthprovider"
    response = post(alice, server, body)
    assert response.status_code == 400 and "id_token" not in response.text


def test_other_person_signing_in_is_refused(idp: tuple[RunningServer, EntraSim]) -> None:
    server, sim = idp
    bob = signed_in_session(server, "bob")
    request = sim.request(sim.hint(oid=OID), state="st-bob")
    answer = bob.follow_login(post(bob, server, request))
    _action, fields = parse_autopost(answer.text)
    assert fields["error"] == "access_denied" and "id_token" not in fields


def test_unmeetable_acr(idp: tuple[RunningServer, EntraSim], alice: PasskeyClient) -> None:
    server, sim = idp
    request = sim.request(sim.hint(oid=OID), acr=("knowledgeonly",))
    assert "acr" in expect_error(post(alice, server, request), "invalid_request")


def test_malformed_claims_parameter_is_posted_back(
    idp: tuple[RunningServer, EntraSim], alice: PasskeyClient
) -> None:
    # "values" must be an array (OIDC Core §5.5.1); a number crashed the request (500) before.
    server, sim = idp
    body = sim.request(sim.hint(oid=OID))
    body["claims"] = '{"id_token": {"acr": {"essential": true, "values": 5}}}'
    assert "values" in expect_error(post(alice, server, body), "invalid_request")
    body["claims"] = "[" * 3000  # nested deeper than the interpreter's recursion limit
    assert "claims" in expect_error(post(alice, server, body), "invalid_request")


# -- found with the simulated Entra (issue 16 §1) ----------------------------------------------
def test_an_amr_no_factor_can_give_is_refused_before_the_factor_step(
    idp: tuple[RunningServer, EntraSim], alice: PasskeyClient
) -> None:
    server, sim = idp
    body = sim.request(sim.hint(oid=OID))
    body["claims"] = json.dumps({"id_token": {"amr": {"essential": True, "values": ["otp"]}}})
    # Answered at once (200, a form post), not sent to the sign-in page first (303).
    text = expect_error(post(alice, server, body), "invalid_request")
    assert "amr" in text and "otp" in text


def test_a_state_over_the_limit_is_answered_to_entra(
    idp: tuple[RunningServer, EntraSim], alice: PasskeyClient
) -> None:
    server, sim = idp
    response = post(alice, server, sim.request(sim.hint(oid=OID), state="s" * 3000))
    assert response.status_code == 200, response.text[:300]
    action, fields = parse_autopost(response.text)
    assert action == ENTRA_REDIRECT
    assert fields["error"] == "invalid_request" and "state" in fields["error_description"]
    assert "state" not in fields and "id_token" not in fields


def test_a_hint_is_never_answered_to_another_cloud(
    idp: tuple[RunningServer, EntraSim], alice: PasskeyClient
) -> None:
    server, sim = idp
    body = sim.request(sim.hint(oid=OID))  # issued by login.microsoftonline.com
    body["redirect_uri"] = US_REDIRECT
    response = post(alice, server, body)
    assert response.status_code == 400 and "belongs to the usgov cloud" in response.text
    assert parse_autopost(response.text)[0] is None, "nothing may be posted"
    us_hint = sim.hint(oid=OID, iss=f"https://login.microsoftonline.us/{TENANT}/v2.0")
    us_body = sim.request(us_hint)
    assert post(alice, server, us_body).status_code == 400  # .us hint, .com redirect
    us_body["redirect_uri"] = US_REDIRECT
    first = post(alice, server, us_body)
    assert first.status_code == 303, "the .us hint on its own cloud goes on to the factor step"


def test_posted_error_descriptions_carry_only_the_allowed_characters(
    idp: tuple[RunningServer, EntraSim], alice: PasskeyClient
) -> None:
    server, sim = idp
    hint = sim.hint(oid=OID, aud='som"e\\one-§lse')
    text = expect_error(post(alice, server, sim.request(hint)), "invalid_request")
    assert "audience" in text
    assert re.fullmatch(r"[\x20\x21\x23-\x5b\x5d-\x7e]*", text), text

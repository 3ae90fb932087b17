"""OIDC code flow end to end: requests-oauthlib + PyJWT as the relying party, against the OP.

The browser is the passkey client of ``tests.e2e.helpers`` (software authenticator over HTTP).
"""

from __future__ import annotations

import base64
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
import requests
from requests_oauthlib import OAuth2Session

from tests.e2e.entra_sim import CLIENT_SECRET
from tests.e2e.helpers import PasskeyClient, signed_in_session
from tests.e2e.oidc.conftest import MfaOp
from tests.e2e.oidc.peer import (
    REDIRECT,
    authorize,
    code_from,
    exchange,
    signed_code,
    verify_id_token,
)
from tests.e2e.server import RunningServer, second_instance

pytestmark = pytest.mark.e2e


# -- happy paths ------------------------------------------------------------------------------
def test_code_flow_with_pkce_via_requests_oauthlib(mfa_op: MfaOp) -> None:
    server, discovery, alice = mfa_op.server, mfa_op.discovery, mfa_op.alice
    rp = OAuth2Session("webapp", redirect_uri=REDIRECT, scope=["openid", "profile", "email"],
                       pkce="S256")  # fmt: skip
    url, state = rp.authorization_url(discovery["authorization_endpoint"], nonce="n-123")
    first = alice.http.get(url, allow_redirects=False, timeout=10)
    assert first.status_code == 302
    location = first.headers["Location"]
    assert parse_qs(urlsplit(location).query)["state"] == [state]
    assert parse_qs(urlsplit(location).query)["iss"] == [discovery["issuer"]]
    token = rp.fetch_token(discovery["token_endpoint"], authorization_response=location,
                           client_secret=CLIENT_SECRET)  # fmt: skip
    claims = verify_id_token(token["id_token"], discovery, "webapp")
    employee = server.employee("alice")
    assert claims["sub"] == employee.id
    assert claims["nonce"] == "n-123"
    assert claims["acr"] == "https://refeds.org/profile/mfa"
    assert "fido" in claims["amr"]
    assert claims["auth_time"] <= claims["iat"]
    assert claims["email"] == "alice@example.com"
    info = rp.get(discovery["userinfo_endpoint"]).json()
    assert info == {"sub": employee.id, "email": "alice@example.com", "email_verified": True,
                    "name": "Alice Andersen", "given_name": "Alice", "family_name": "Andersen",
                    "preferred_username": "alice"}  # fmt: skip


def test_userinfo_get_post_header_and_post_body(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    code, verifier = signed_code(alice, discovery)
    access = exchange(discovery, code, verifier).json()["access_token"]
    url = discovery["userinfo_endpoint"]
    by_get = requests.get(url, headers={"Authorization": f"Bearer {access}"}, timeout=5)
    by_post = requests.post(url, headers={"Authorization": f"Bearer {access}"}, timeout=5)
    by_body = requests.post(url, data={"access_token": access}, timeout=5)
    assert by_get.status_code == by_post.status_code == by_body.status_code == 200
    assert by_get.json() == by_post.json() == by_body.json()
    both = requests.post(url, data={"access_token": access}, timeout=5,
                         headers={"Authorization": f"Bearer {access}"})  # fmt: skip
    assert both.status_code == 400
    wrong = requests.get(url, headers={"Authorization": "Bearer " + "x" * 43}, timeout=5)
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")


def test_client_secret_post_and_es256_id_token(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    answer = code_from(
        authorize(
            alice,
            discovery,
            response_type="code",
            client_id="postapp",
            redirect_uri="https://rp.example.com/cb",
            scope="openid",
        )
    )
    response = requests.post(
        discovery["token_endpoint"],
        timeout=5,
        data={
            "grant_type": "authorization_code",
            "code": answer["code"],
            "client_id": "postapp",
            "client_secret": CLIENT_SECRET,
            "redirect_uri": "https://rp.example.com/cb",
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    token = response.json()["id_token"]
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    verify_id_token(token, discovery, "postapp")


def test_post_authorization_request(discovery: dict[str, Any], alice: PasskeyClient) -> None:
    response = alice.http.post(
        discovery["authorization_endpoint"],
        timeout=10,
        allow_redirects=False,
        data={
            "response_type": "code",
            "client_id": "webapp",
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": "p",
        },
    )
    assert code_from(response)["state"] == "p"


def test_refresh_rotation_and_reuse_revokes_family(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    code, verifier = signed_code(alice, discovery)
    first = exchange(discovery, code, verifier).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = requests.post(discovery["token_endpoint"], data=refresh, timeout=5,
                           auth=("webapp", CLIENT_SECRET))  # fmt: skip
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    reuse = requests.post(discovery["token_endpoint"], data=refresh, timeout=5,
                          auth=("webapp", CLIENT_SECRET))  # fmt: skip
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    assert len(reuse.json()["error_id"]) == 12  # the id the IdP's log names it by
    newest = requests.post(discovery["token_endpoint"], timeout=5, auth=("webapp", CLIENT_SECRET),
                           data={"grant_type": "refresh_token",
                                 "refresh_token": rotated["refresh_token"]})  # fmt: skip
    assert newest.status_code == 400, "the family must be revoked"
    info = requests.get(
        discovery["userinfo_endpoint"],
        timeout=5,
        headers={"Authorization": f"Bearer {rotated['access_token']}"},
    )
    assert info.status_code == 401


def test_refresh_token_survives_a_restart_of_the_short_lived_store(mfa_op: MfaOp) -> None:
    server, discovery, alice = mfa_op.server, mfa_op.discovery, mfa_op.alice
    code, verifier = signed_code(alice, discovery)
    first = exchange(discovery, code, verifier).json()
    # Another instance on the same config and database, with its own empty memory:// store:
    # what the IdP looks like after a restart (or after Redis lost everything).
    with second_instance(server) as port:
        token_endpoint = f"http://localhost:{port}/oidc/token"
        refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
        renewed = requests.post(token_endpoint, data=refresh, timeout=5,
                                auth=("webapp", CLIENT_SECRET))  # fmt: skip
        assert renewed.status_code == 200, renewed.text
        claims = verify_id_token(renewed.json()["id_token"], discovery, "webapp")
        assert claims["sub"] == server.employee("alice").id
        assert "fido" in claims["amr"], "acr/amr of the original sign-in are kept"
        # Reuse is still detected across instances: the family lives in the database.
        reuse = requests.post(token_endpoint, data=refresh, timeout=5,
                              auth=("webapp", CLIENT_SECRET))  # fmt: skip
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
    newest = requests.post(discovery["token_endpoint"], timeout=5, auth=("webapp", CLIENT_SECRET),
                           data={"grant_type": "refresh_token",
                                 "refresh_token": renewed.json()["refresh_token"]})  # fmt: skip
    assert newest.status_code == 400 and "revoked" in newest.json()["error_description"]


# -- hostile input ----------------------------------------------------------------------------
def test_code_reuse_fails_and_revokes_tokens(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    code, verifier = signed_code(alice, discovery)
    first = exchange(discovery, code, verifier)
    assert first.status_code == 200
    again = exchange(discovery, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    info = requests.get(
        discovery["userinfo_endpoint"],
        timeout=5,
        headers={"Authorization": f"Bearer {first.json()['access_token']}"},
    )
    assert info.status_code == 401


def test_pkce_verifier_mismatch(discovery: dict[str, Any], alice: PasskeyClient) -> None:
    code, _ = signed_code(alice, discovery)
    response = exchange(discovery, code, secrets.token_urlsafe(48))
    assert response.status_code == 400
    assert "code_verifier does not match" in response.json()["error_description"]
    assert "access_token" not in response.json()


def test_wrong_client_secret(discovery: dict[str, Any], alice: PasskeyClient) -> None:
    code, verifier = signed_code(alice, discovery)
    response = requests.post(
        discovery["token_endpoint"],
        timeout=5,
        auth=("webapp", "x" * 40),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_unregistered_redirect_uri_is_not_redirected(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    response = authorize(
        alice,
        discovery,
        response_type="code",
        client_id="webapp",
        redirect_uri="https://evil.example.com/cb",
        scope="openid",
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "evil.example.com/cb" in response.text  # the error page names it


def test_unknown_client_is_not_redirected(discovery: dict[str, Any], alice: PasskeyClient) -> None:
    response = authorize(
        alice,
        discovery,
        response_type="code",
        client_id="nobody",
        redirect_uri=REDIRECT,
        scope="openid",
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_prompt_none_without_session_is_login_required(
    server: RunningServer, discovery: dict[str, Any]
) -> None:
    stranger = PasskeyClient(server)
    answer = code_from(
        authorize(
            stranger,
            discovery,
            response_type="code",
            client_id="webapp",
            redirect_uri=REDIRECT,
            scope="openid",
            prompt="none",
            state="z",
        )
    )
    assert answer["error"] == "login_required" and answer["state"] == "z"


def test_prompt_login_sends_to_sign_in(discovery: dict[str, Any], alice: PasskeyClient) -> None:
    response = authorize(
        alice,
        discovery,
        response_type="code",
        client_id="webapp",
        redirect_uri=REDIRECT,
        scope="openid",
        prompt="login",
    )
    assert response.status_code == 303 and "/login?ticket=" in response.headers["Location"]


def test_public_client_must_use_pkce(discovery: dict[str, Any], alice: PasskeyClient) -> None:
    answer = code_from(
        authorize(
            alice,
            discovery,
            response_type="code",
            client_id="spa",
            redirect_uri="https://spa.example.com/cb",
            scope="openid",
        )
    )
    assert answer["error"] == "invalid_request" and "PKCE" in answer["error_description"]


def test_alg_none_id_token_hint_refused(discovery: dict[str, Any], alice: PasskeyClient) -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"x"}').rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(b'{"sub":"someone"}').rstrip(b"=").decode()
    answer = code_from(
        authorize(
            alice,
            discovery,
            response_type="code",
            client_id="webapp",
            redirect_uri=REDIRECT,
            scope="openid",
            id_token_hint=f"{header}.{body}.",
        )
    )
    assert answer["error"] == "invalid_request" and "alg" in answer["error_description"]


def test_oversized_parameter_refused(discovery: dict[str, Any], alice: PasskeyClient) -> None:
    answer = code_from(
        authorize(
            alice,
            discovery,
            response_type="code",
            client_id="webapp",
            redirect_uri=REDIRECT,
            scope="openid",
            nonce="n" * 5000,
        )
    )
    assert answer["error"] == "invalid_request" and "nonce" in answer["error_description"]


def test_consent_page_then_code(discovery: dict[str, Any], alice: PasskeyClient) -> None:
    page = authorize(
        alice,
        discovery,
        response_type="code",
        client_id="consenting",
        redirect_uri="https://rp.example.com/cb",
        scope="openid email",
    )
    assert page.status_code == 200 and "Allow" in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    key = page.text.split('name="k" value="')[1].split('"')[0]
    done = alice.http.post(page.url.split("/oidc/")[0] + "/oidc/consent", timeout=5,
                           data={"k": key, "csrf": csrf, "decision": "allow"},
                           allow_redirects=False)  # fmt: skip
    assert done.status_code == 303
    final = alice.http.get(page.url.split("/oidc/")[0] + done.headers["Location"],
                           allow_redirects=False, timeout=5)  # fmt: skip
    assert "code" in code_from(final)
    # Remembered (in the database): the same scopes are not asked for again, more scopes are.
    asking = {"response_type": "code", "client_id": "consenting",
              "redirect_uri": "https://rp.example.com/cb"}  # fmt: skip
    assert "code" in code_from(authorize(alice, discovery, scope="email openid", **asking))
    more = authorize(alice, discovery, scope="openid email phone", **asking)
    assert more.status_code == 200 and "Allow" in more.text


def test_logout_with_hint_redirects_and_ends_session(
    server: RunningServer, discovery: dict[str, Any]
) -> None:
    bob = signed_in_session(server, "bob")
    code, verifier = signed_code(bob, discovery)
    id_token = exchange(discovery, code, verifier).json()["id_token"]
    query = urlencode(
        {
            "id_token_hint": id_token,
            "state": "bye-1",
            "post_logout_redirect_uri": "https://rp.example.com/bye",
        }
    )
    response = bob.http.get(f"{discovery['end_session_endpoint']}?{query}",
                            allow_redirects=False, timeout=5)  # fmt: skip
    assert response.status_code == 302
    assert response.headers["Location"] == "https://rp.example.com/bye?state=bye-1"
    after = authorize(
        bob,
        discovery,
        response_type="code",
        client_id="webapp",
        redirect_uri=REDIRECT,
        scope="openid",
        prompt="none",
    )
    assert code_from(after)["error"] == "login_required"


def test_logout_to_unregistered_uri_refused(discovery: dict[str, Any]) -> None:
    response = requests.get(
        discovery["end_session_endpoint"],
        timeout=5,
        allow_redirects=False,
        params={"client_id": "webapp", "post_logout_redirect_uri": "https://evil.example.com/"},
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_refresh_with_an_ungranted_scope_does_not_spend_the_token(
    discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    # RFC 6749 §6: the request is refused, and nothing changes — the client still holds a
    # good refresh token. (Spending it first made the retry look like reuse and revoke all.)
    code, verifier = signed_code(alice, discovery)
    first = exchange(discovery, code, verifier).json()
    ask_more = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                "scope": "openid phone"}  # fmt: skip
    refused = requests.post(discovery["token_endpoint"], data=ask_more, timeout=5,
                            auth=("webapp", CLIENT_SECRET))  # fmt: skip
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
    assert "refresh_token" not in refused.json()
    retry = requests.post(discovery["token_endpoint"], timeout=5, auth=("webapp", CLIENT_SECRET),
                          data={"grant_type": "refresh_token",
                                "refresh_token": first["refresh_token"]})  # fmt: skip
    assert retry.status_code == 200, retry.text
    info = requests.get(discovery["userinfo_endpoint"], timeout=5,
                        headers={"Authorization": f"Bearer {first['access_token']}"})  # fmt: skip
    assert info.status_code == 200, "nothing of the grant may be revoked"


def test_consent_given_by_one_user_does_not_carry_to_another(
    server: RunningServer, discovery: dict[str, Any], alice: PasskeyClient
) -> None:
    # Alice allows the client, but does not follow the redirect; she sends the resume link to
    # Bob instead. Bob never allowed the client: he must be asked, not handed a code.
    base = server.base_url
    page = authorize(alice, discovery, response_type="code", client_id="consenting",
                     redirect_uri="https://rp.example.com/cb", scope="openid phone",
                     prompt="consent")  # fmt: skip
    assert page.status_code == 200 and "Allow" in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    key = page.text.split('name="k" value="')[1].split('"')[0]
    done = alice.http.post(base + "/oidc/consent", timeout=5, allow_redirects=False,
                           data={"k": key, "csrf": csrf, "decision": "allow"})  # fmt: skip
    assert done.status_code == 303
    bob = signed_in_session(server, "bob")
    hijacked = bob.http.get(base + done.headers["Location"], allow_redirects=False, timeout=5)
    assert "Location" not in hijacked.headers or "code=" not in hijacked.headers["Location"]
    # The parked request belongs to Alice's browser: Bob's is turned away before any consent.
    assert hijacked.status_code == 400 and "another browser" in hijacked.text
    # Alice's own resume still completes with her consent.
    mine = alice.http.get(base + done.headers["Location"], allow_redirects=False, timeout=5)
    assert "code" in code_from(mine)

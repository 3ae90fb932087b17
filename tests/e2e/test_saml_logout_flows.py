"""SAML single logout against the running IdP with the python3-saml demo SP: Redirect and
POST bindings, replay, and the session of another principal on a shared browser."""

from __future__ import annotations

from idp.saml.logout import SessionParticipant
from tests.e2e.helpers import PasskeyClient, submit_autopost
from tests.e2e.saml_peer import signed_logout_request, sp_login
from tests.e2e.server import RunningServer


def test_single_logout_from_the_sp(sso_server: RunningServer) -> None:
    client = PasskeyClient(sso_server)
    client.enrol("alice")
    submit_autopost(client.http, sp_login(client, sso_server))
    start = client.http.get(sso_server.sp_url + "/logout", allow_redirects=False, timeout=10)
    assert start.headers["Location"].startswith(sso_server.url("/saml/logout?SAMLRequest="))
    answer = client.http.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text
    back = client.http.get(answer.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    assert "Not signed in" in client.http.get(sso_server.sp_url + "/", timeout=10).text
    account = client.http.get(sso_server.url("/"), allow_redirects=False, timeout=10)
    assert account.status_code == 303  # the IdP session ended too
    assert account.headers["Location"] == "/login"


def test_single_logout_over_the_post_binding(sso_server: RunningServer) -> None:
    client = PasskeyClient(sso_server)
    client.enrol("alice")
    submit_autopost(client.http, sp_login(client, sso_server))
    assert "alice@example.com" in client.http.get(sso_server.sp_url + "/", timeout=10).text
    participants = sso_server.runtime.sessions.participants(
        client.http.cookies.get("hideez_idp_session") or ""
    )
    recorded = SessionParticipant.decode(participants[0])
    assert recorded is not None and recorded.name_id == "alice@example.com"
    signed = signed_logout_request(
        sso_server, name_id="alice@example.com", session_index=recorded.session_index
    )
    answer = client.http.post(
        sso_server.url("/saml/logout"),
        allow_redirects=False,
        timeout=10,
        data={"SAMLRequest": signed, "RelayState": "bye"},
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["Location"]
    assert location.startswith(sso_server.sp_url + "/sls?SAMLResponse=")
    assert "RelayState=bye" in location
    assert (
        client.http.get(sso_server.url("/"), allow_redirects=False, timeout=10).status_code == 303
    )  # IdP session gone
    replay = client.http.post(
        sso_server.url("/saml/logout"),
        timeout=10,
        data={"SAMLRequest": signed},
    )
    assert replay.status_code in (400, 403)


def test_logout_request_for_another_principal_leaves_this_session(
    sso_server: RunningServer,
) -> None:
    """On a shared browser: an SP logging out bob must not end alice's IdP session."""
    client = PasskeyClient(sso_server)
    client.enrol("alice")
    submit_autopost(client.http, sp_login(client, sso_server))
    answer = client.http.post(
        sso_server.url("/saml/logout"),
        data={"SAMLRequest": signed_logout_request(sso_server, name_id="bob@example.com")},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303
    assert "/sls?SAMLResponse=" in answer.headers["Location"]
    assert (
        client.http.get(sso_server.url("/"), allow_redirects=False, timeout=10).status_code == 200
    )
    mine = client.http.post(
        sso_server.url("/saml/logout"),
        data={"SAMLRequest": signed_logout_request(sso_server, name_id="alice@example.com")},
        allow_redirects=False,
        timeout=10,
    )
    assert mine.status_code == 303
    assert (
        client.http.get(sso_server.url("/"), allow_redirects=False, timeout=10).status_code == 303
    )

"""An SP's cross-site HTTP-POST arrives without our SameSite=Lax session cookie: the IdP
checks the message, then re-posts it once from its own origin so the session is seen."""

from __future__ import annotations

import base64

import requests

from tests.e2e.helpers import PasskeyClient, autopost_fields, submit_autopost
from tests.e2e.saml_peer import (
    signed_logout_request,
    signed_post_request,
    sp_login,
    sp_settings,
    status_of,
)
from tests.e2e.server import RunningServer
from tests.idp.saml.onelogin_sp import post_login

_CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}
_SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def test_cross_site_post_request_hops_to_pick_up_the_session(sso_server: RunningServer) -> None:
    """A browser leaves the SameSite=Lax session cookie off the SP's cross-site POST; the IdP
    re-posts the request from its own origin once, so a signed-in employee keeps SSO."""
    fields, request_id = signed_post_request(sso_server)
    client = PasskeyClient(sso_server)
    client.enrol("alice")
    # What the browser sends cross-site: no cookies at all.
    hop = requests.post(
        sso_server.url("/saml/login"),
        data=fields,
        headers=_CROSS_SITE,
        allow_redirects=False,
        timeout=10,
    )
    assert hop.status_code == 200, hop.text
    action, hop_fields = autopost_fields(hop.text)
    assert action == sso_server.url("/saml/login")
    assert hop_fields == fields  # the same message and RelayState, nothing added
    # Same-origin now: the cookie comes along and the session answers without a sign-in.
    answer = client.http.post(
        action, data=hop_fields, headers=_SAME_ORIGIN, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 200, (answer.status_code, answer.headers.get("Location"))
    assert status_of(answer.text).endswith("status:Success")
    assert (
        f'InResponseTo="{request_id}"'
        in base64.b64decode(autopost_fields(answer.text)[1]["SAMLResponse"]).decode()
    )


def test_cross_site_hop_refuses_bad_requests_at_once(sso_server: RunningServer) -> None:
    unsigned, _ = post_login(sp_settings(sso_server), sp_key=None)
    r = requests.post(sso_server.url("/saml/login"), data=unsigned, headers=_CROSS_SITE, timeout=10)
    assert r.status_code in (400, 403) and "sign" in r.text.lower()


def test_cross_site_post_logout_ends_the_session(sso_server: RunningServer) -> None:
    """SP-initiated SLO over HTTP-POST from another site: without the hop the IdP would answer
    Success while the session it could not see lives on."""
    client = PasskeyClient(sso_server)
    client.enrol("alice")
    submit_autopost(client.http, sp_login(client, sso_server))
    signed = signed_logout_request(sso_server, name_id="alice@example.com")
    fields = {"SAMLRequest": signed, "RelayState": "bye"}
    hop = requests.post(
        sso_server.url("/saml/logout"),
        data=fields,
        headers=_CROSS_SITE,
        allow_redirects=False,
        timeout=10,
    )
    assert hop.status_code == 200, hop.text
    action, hop_fields = autopost_fields(hop.text)
    assert action == sso_server.url("/saml/logout") and hop_fields == fields
    account = client.http.get(sso_server.url("/"), allow_redirects=False, timeout=10)
    assert account.status_code == 200  # nothing ended before the hop
    done = client.http.post(
        action, data=hop_fields, headers=_SAME_ORIGIN, allow_redirects=False, timeout=10
    )
    assert done.status_code == 303, done.text
    assert done.headers["Location"].startswith(sso_server.sp_url + "/sls?SAMLResponse=")
    account = client.http.get(sso_server.url("/"), allow_redirects=False, timeout=10)
    assert account.status_code == 303  # the IdP session ended

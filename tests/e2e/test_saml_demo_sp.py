"""SP-initiated and IdP-initiated SAML SSO and single logout against the running IdP, with the
OneLogin python3-saml demo SP (strict, signed requests, wantAssertionsSigned,
wantMessagesSigned, rejectDeprecatedAlgorithm) as the peer, over real HTTP."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests

from idp.audit import AuditKind
from tests.e2e.helpers import PasskeyClient, autopost_fields, submit_autopost
from tests.e2e.server import RunningServer


def _sp_login(client: PasskeyClient, server: RunningServer) -> requests.Response:
    start = client.http.get(server.sp_url + "/login", allow_redirects=False, timeout=10)
    assert start.status_code == 302
    assert start.headers["Location"].startswith(server.url("/saml/login?SAMLRequest="))
    assert "Signature=" in start.headers["Location"]
    return client.http.get(start.headers["Location"], allow_redirects=False, timeout=10)


def test_sp_initiated_redirect_sso_after_passkey_sign_in(
    idp_server: RunningServer, tmp_path: Path
) -> None:
    client = PasskeyClient(idp_server)
    client.enrol("alice")
    answer = _sp_login(client, idp_server)
    assert answer.status_code == 200, answer.text
    action, fields = autopost_fields(answer.text)
    assert action == idp_server.sp_url + "/acs"
    assert answer.headers["Cache-Control"] == "no-store"
    _verify_with_xmlsec1(fields["SAMLResponse"], idp_server, tmp_path)
    landed = client.http.post(action, data=fields, allow_redirects=False, timeout=10)
    assert landed.status_code == 302, landed.text
    page = client.http.get(idp_server.sp_url + "/", timeout=10).text
    assert "Signed in as <strong>alice@example.com</strong>" in page


def test_sign_in_page_then_resume_when_there_is_no_session(idp_server: RunningServer) -> None:
    client = PasskeyClient(idp_server)
    client.enrol("bob")
    fresh = PasskeyClient(idp_server)  # a new browser with bob's passkey, no session
    fresh.key = client.key
    answer = _sp_login(fresh, idp_server)
    assert answer.status_code == 303
    page = fresh.http.get(idp_server.url(answer.headers["Location"]), timeout=10).text
    assert "to continue to <strong>Demo SP</strong>" in page  # the SP's display_name
    resumed = fresh.follow_login(answer)
    assert resumed.status_code == 200, resumed.text
    landed = submit_autopost(fresh.http, resumed)
    assert landed.status_code == 302, landed.text
    assert "bob@example.com" in fresh.http.get(idp_server.sp_url + "/", timeout=10).text
    events = idp_server.runtime.audit.list(
        kind=AuditKind.LOGIN_SUCCESS, employee_id=idp_server.employee("bob").id
    ).items
    assert {e.relying_party for e in events} >= {"demo-sp"}


def test_idp_initiated_sso(idp_server: RunningServer) -> None:
    client = PasskeyClient(idp_server)
    client.enrol("alice")
    sp_entity = quote(idp_server.sp_url + "/metadata", safe="")
    answer = client.http.get(
        idp_server.url(f"/saml/login?sp={sp_entity}"), allow_redirects=False, timeout=10
    )
    assert answer.status_code == 200, answer.text
    action, fields = autopost_fields(answer.text)
    assert fields["RelayState"] == idp_server.sp_url + "/"
    landed = client.http.post(action, data=fields, allow_redirects=False, timeout=10)
    assert landed.status_code == 302, landed.text


def test_single_logout_from_the_sp(idp_server: RunningServer) -> None:
    client = PasskeyClient(idp_server)
    client.enrol("alice")
    submit_autopost(client.http, _sp_login(client, idp_server))
    start = client.http.get(idp_server.sp_url + "/logout", allow_redirects=False, timeout=10)
    assert start.headers["Location"].startswith(idp_server.url("/saml/logout?SAMLRequest="))
    answer = client.http.get(start.headers["Location"], allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text
    back = client.http.get(answer.headers["Location"], allow_redirects=False, timeout=10)
    assert back.status_code == 302, back.text
    assert "Not signed in" in client.http.get(idp_server.sp_url + "/", timeout=10).text
    account = client.http.get(idp_server.url("/"), allow_redirects=False, timeout=10)
    assert account.status_code == 303  # the IdP session ended too
    assert account.headers["Location"] == "/login"


@pytest.mark.parametrize(
    ("query", "status", "text"),
    [
        ("SAMLRequest=%%%", 400, "base64"),
        ("", 400, "expected a SAMLRequest"),
        ("sp=https%3A%2F%2Funknown.example", 400, "no service provider"),
    ],
)
def test_bad_requests_get_a_clear_error_page(
    idp_server: RunningServer, query: str, status: int, text: str
) -> None:
    r = requests.get(idp_server.url(f"/saml/login?{query}"), timeout=10)
    assert r.status_code in (status, 403), r.text
    assert text in r.text
    assert 'id="error-id"' in r.text
    assert "Traceback" not in r.text


def _verify_with_xmlsec1(b64: str, server: RunningServer, tmp_path: Path) -> None:
    """The xmlsec1 program checks the Response signature, then the Assertion's on its own."""
    import base64

    from lxml import etree

    response = etree.fromstring(base64.b64decode(b64))
    assertion = response.find("{urn:oasis:names:tc:SAML:2.0:assertion}Assertion")
    assert assertion is not None
    documents = {
        "response.xml": etree.tostring(response),
        "assertion.xml": etree.tostring(assertion),
    }
    cert = server.directory / "keys/idp-signing.crt"
    for name, data in documents.items():
        path = tmp_path / name
        path.write_bytes(data)
        out = subprocess.run(
            [
                "xmlsec1",
                "--verify",
                "--enabled-reference-uris",
                "same-doc",
                "--pubkey-cert-pem",
                str(cert),
                "--enabled-key-data",
                "rsa,key-name",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:protocol:Response",
                "--id-attr:ID",
                "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
                str(path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0 and "OK" in out.stderr + out.stdout, (name, out.stderr)


def test_sp_initiated_post_binding_and_replay(idp_server: RunningServer) -> None:
    """An enveloped-signed HTTP-POST AuthnRequest from python3-saml; the answer validates in
    python3-saml strict mode with InResponseTo = the request id; the same request again is a
    replay and gets a clear 4xx."""
    import json as jsonlib

    from onelogin.saml2.response import OneLogin_Saml2_Response
    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    from idp.keys import load_signing_key
    from tests.idp.saml.onelogin_sp import post_login

    sp_dir = idp_server.directory.resolve() / "sp"
    raw = jsonlib.loads((sp_dir / "settings.json").read_text())
    raw["idp"]["singleSignOnService"]["binding"] = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    settings = OneLogin_Saml2_Settings(raw)
    fields, request_id = post_login(
        settings, sp_key=load_signing_key(sp_dir / "sp.key", sp_dir / "sp.crt")
    )
    client = PasskeyClient(idp_server)
    client.enrol("alice")
    answer = client.http.post(
        idp_server.url("/saml/login"), data=fields, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 200, answer.text
    action, form = autopost_fields(answer.text)
    assert form["RelayState"] == "rs"
    acs = urlsplit(action)
    response = OneLogin_Saml2_Response(settings, form["SAMLResponse"])
    data = {
        "https": "off",
        "http_host": acs.hostname,
        "server_port": acs.port,
        "script_name": acs.path,
        "get_data": {},
        "post_data": form,
    }
    assert response.is_valid(data, request_id, raise_exceptions=True)
    assert response.get_nameid() == "alice@example.com"
    replay = client.http.post(
        idp_server.url("/saml/login"), data=fields, allow_redirects=False, timeout=10
    )
    assert replay.status_code in (400, 403), replay.text
    assert "already" in replay.text or "replay" in replay.text.lower()


def test_unsigned_request_refused_when_the_sp_signs(idp_server: RunningServer) -> None:
    import json as jsonlib

    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    from tests.idp.saml.onelogin_sp import post_login

    raw = jsonlib.loads((idp_server.directory.resolve() / "sp/settings.json").read_text())
    fields, _ = post_login(OneLogin_Saml2_Settings(raw), sp_key=None)
    r = requests.post(idp_server.url("/saml/login"), data=fields, timeout=10)
    assert r.status_code in (400, 403)
    assert "sign" in r.text.lower()
    assert 'id="error-id"' in r.text


def _login_url(server: RunningServer, **kwargs: object) -> str:
    import json as jsonlib

    from onelogin.saml2.auth import OneLogin_Saml2_Auth

    raw = jsonlib.loads((server.directory.resolve() / "sp/settings.json").read_text())
    requested = kwargs.pop("requested", None)
    if requested is not None:
        raw["security"]["requestedAuthnContext"] = requested
        raw["security"]["requestedAuthnContextComparison"] = "exact"
    req = {
        "https": "off",
        "http_host": "localhost",
        "server_port": server.sp_port,
        "script_name": "/login",
        "get_data": {},
        "post_data": {},
    }
    url: str = OneLogin_Saml2_Auth(req, old_settings=raw).login(return_to="/", **kwargs)
    return url


def _status_of(html: str) -> str:
    import base64

    from lxml import etree

    _, fields = autopost_fields(html)
    root = etree.fromstring(base64.b64decode(fields["SAMLResponse"]))
    ns = {"p": "urn:oasis:names:tc:SAML:2.0:protocol"}
    codes = root.xpath(
        "//p:Status/p:StatusCode/@Value | //p:StatusCode/p:StatusCode/@Value", namespaces=ns
    )
    return " ".join(str(c) for c in codes)


def test_is_passive_without_a_session_answers_no_passive(idp_server: RunningServer) -> None:
    r = requests.get(_login_url(idp_server, is_passive=True), allow_redirects=False, timeout=10)
    assert r.status_code == 200, r.text
    assert _status_of(r.text).endswith("status:NoPassive")


def test_force_authn_sends_a_signed_in_user_to_the_sign_in_page(idp_server: RunningServer) -> None:
    client = PasskeyClient(idp_server)
    client.enrol("alice")
    r = client.http.get(_login_url(idp_server, force_authn=True), allow_redirects=False, timeout=10)
    assert r.status_code == 303 and "/login?ticket=" in r.headers["Location"]
    resumed = client.follow_login(r)  # a fresh ceremony satisfies it
    assert resumed.status_code == 200
    assert _status_of(resumed.text).endswith("status:Success")


def test_requested_authn_context_maps_through_the_policy(idp_server: RunningServer) -> None:
    client = PasskeyClient(idp_server)
    client.enrol("alice")
    ok = client.http.get(
        _login_url(idp_server, requested=["https://refeds.org/profile/mfa"]),
        allow_redirects=False,
        timeout=10,
    )
    assert _status_of(ok.text).endswith("status:Success")
    assert (
        "https://refeds.org/profile/mfa"
        in __import__("base64").b64decode(autopost_fields(ok.text)[1]["SAMLResponse"]).decode()
    )
    no = client.http.get(
        _login_url(idp_server, requested=["urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard"]),
        allow_redirects=False,
        timeout=10,
    )
    assert _status_of(no.text).endswith("status:NoAuthnContext")


def test_single_logout_over_the_post_binding(idp_server: RunningServer) -> None:
    import base64
    import json as jsonlib

    from onelogin.saml2.constants import OneLogin_Saml2_Constants as K
    from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
    from onelogin.saml2.settings import OneLogin_Saml2_Settings
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    client = PasskeyClient(idp_server)
    client.enrol("alice")
    submit_autopost(client.http, _sp_login(client, idp_server))
    sp_dir = idp_server.directory.resolve() / "sp"
    raw = jsonlib.loads((sp_dir / "settings.json").read_text())
    settings = OneLogin_Saml2_Settings(raw)
    page = client.http.get(idp_server.sp_url + "/", timeout=10).text
    assert "alice@example.com" in page
    participants = idp_server.runtime.sessions.participants(
        client.http.cookies.get("hideez_idp_session") or ""
    )
    from idp.saml.logout import SessionParticipant

    recorded = SessionParticipant.decode(participants[0])
    assert recorded is not None and recorded.name_id == "alice@example.com"
    session_index = recorded.session_index
    request = OneLogin_Saml2_Logout_Request(
        settings,
        name_id="alice@example.com",
        session_index=session_index,
        name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    )
    signed = OneLogin_Saml2_Utils.add_sign(
        request.get_xml(),
        (sp_dir / "sp.key").read_text(),
        (sp_dir / "sp.crt").read_text(),
        sign_algorithm=K.RSA_SHA256,
        digest_algorithm=K.SHA256,
    )
    answer = client.http.post(
        idp_server.url("/saml/logout"),
        allow_redirects=False,
        timeout=10,
        data={"SAMLRequest": base64.b64encode(signed).decode(), "RelayState": "bye"},
    )
    assert answer.status_code == 303, answer.text
    location = answer.headers["Location"]
    assert location.startswith(idp_server.sp_url + "/sls?SAMLResponse=")
    assert "RelayState=bye" in location
    assert (
        client.http.get(idp_server.url("/"), allow_redirects=False, timeout=10).status_code == 303
    )  # IdP session gone
    replay = client.http.post(
        idp_server.url("/saml/logout"),
        timeout=10,
        data={"SAMLRequest": base64.b64encode(signed).decode()},
    )
    assert replay.status_code in (400, 403)


def test_metadata_publishes_the_next_key_during_rollover(
    make_idp_server: Any, tmp_path: Path
) -> None:
    from lxml import etree

    from idp.keys import generate_self_signed

    nxt = generate_self_signed(
        tmp_path / "next.key", tmp_path / "next.crt", common_name="next signing key"
    )
    signing = "  signing: {key: keys/idp-signing.key, cert: keys/idp-signing.crt}\n"
    following = f"  next: {{key: {tmp_path}/next.key, cert: {tmp_path}/next.crt}}\n"
    server = make_idp_server(with_sp=False, replace={signing: signing + following})
    r = requests.get(server.url("/saml/metadata"), timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/samlmetadata+xml")
    root = etree.fromstring(r.content)
    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    md = "{urn:oasis:names:tc:SAML:2.0:metadata}"
    certs = [
        c.text.replace("\n", "")
        for c in root.iter(f"{ds}X509Certificate")
        if c.getparent().getparent().getparent().tag == f"{md}KeyDescriptor"
    ]
    current = server.runtime.keys.current.cert_der_b64
    assert current in certs and nxt.cert_der_b64 in certs
    path = tmp_path / "metadata.xml"
    path.write_bytes(r.content)
    out = subprocess.run(
        [
            "xmlsec1",
            "--verify",
            "--enabled-reference-uris",
            "same-doc",
            "--pubkey-cert-pem",
            str(server.directory / "keys/idp-signing.crt"),
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    wrong_key = subprocess.run(  # signed with the current key, not the published next one
        [
            "xmlsec1",
            "--verify",
            "--enabled-reference-uris",
            "same-doc",
            "--pubkey-cert-pem",
            str(tmp_path / "next.crt"),
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong_key.returncode != 0


_CROSS_SITE = {"Sec-Fetch-Site": "cross-site"}
_SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def _signed_post_request(server: RunningServer) -> tuple[dict[str, str], str]:
    import json as jsonlib

    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    from idp.keys import load_signing_key
    from tests.idp.saml.onelogin_sp import post_login

    sp_dir = server.directory.resolve() / "sp"
    raw = jsonlib.loads((sp_dir / "settings.json").read_text())
    raw["idp"]["singleSignOnService"]["binding"] = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    return post_login(
        OneLogin_Saml2_Settings(raw),
        sp_key=load_signing_key(sp_dir / "sp.key", sp_dir / "sp.crt"),
    )


def test_cross_site_post_request_hops_to_pick_up_the_session(idp_server: RunningServer) -> None:
    """A browser leaves the SameSite=Lax session cookie off the SP's cross-site POST; the IdP
    re-posts the request from its own origin once, so a signed-in employee keeps SSO."""
    fields, request_id = _signed_post_request(idp_server)
    client = PasskeyClient(idp_server)
    client.enrol("alice")
    # What the browser sends cross-site: no cookies at all.
    hop = requests.post(
        idp_server.url("/saml/login"),
        data=fields,
        headers=_CROSS_SITE,
        allow_redirects=False,
        timeout=10,
    )
    assert hop.status_code == 200, hop.text
    action, hop_fields = autopost_fields(hop.text)
    assert action == idp_server.url("/saml/login")
    assert hop_fields == fields  # the same message and RelayState, nothing added
    # Same-origin now: the cookie comes along and the session answers without a sign-in.
    answer = client.http.post(
        action, data=hop_fields, headers=_SAME_ORIGIN, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 200, (answer.status_code, answer.headers.get("Location"))
    assert _status_of(answer.text).endswith("status:Success")
    assert (
        f'InResponseTo="{request_id}"'
        in __import__("base64").b64decode(autopost_fields(answer.text)[1]["SAMLResponse"]).decode()
    )


def test_cross_site_hop_refuses_bad_requests_at_once(idp_server: RunningServer) -> None:
    import json as jsonlib

    from onelogin.saml2.settings import OneLogin_Saml2_Settings

    from tests.idp.saml.onelogin_sp import post_login

    raw = jsonlib.loads((idp_server.directory.resolve() / "sp/settings.json").read_text())
    unsigned, _ = post_login(OneLogin_Saml2_Settings(raw), sp_key=None)
    r = requests.post(idp_server.url("/saml/login"), data=unsigned, headers=_CROSS_SITE, timeout=10)
    assert r.status_code in (400, 403) and "sign" in r.text.lower()


def test_cross_site_post_logout_ends_the_session(idp_server: RunningServer) -> None:
    """SP-initiated SLO over HTTP-POST from another site: without the hop the IdP would answer
    Success while the session it could not see lives on."""
    import base64
    import json as jsonlib

    from onelogin.saml2.constants import OneLogin_Saml2_Constants as K
    from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
    from onelogin.saml2.settings import OneLogin_Saml2_Settings
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    client = PasskeyClient(idp_server)
    client.enrol("alice")
    submit_autopost(client.http, _sp_login(client, idp_server))
    sp_dir = idp_server.directory.resolve() / "sp"
    request = OneLogin_Saml2_Logout_Request(
        OneLogin_Saml2_Settings(jsonlib.loads((sp_dir / "settings.json").read_text())),
        name_id="alice@example.com",
        name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    )
    signed = OneLogin_Saml2_Utils.add_sign(
        request.get_xml(),
        (sp_dir / "sp.key").read_text(),
        (sp_dir / "sp.crt").read_text(),
        sign_algorithm=K.RSA_SHA256,
        digest_algorithm=K.SHA256,
    )
    fields = {"SAMLRequest": base64.b64encode(signed).decode(), "RelayState": "bye"}
    hop = requests.post(
        idp_server.url("/saml/logout"),
        data=fields,
        headers=_CROSS_SITE,
        allow_redirects=False,
        timeout=10,
    )
    assert hop.status_code == 200, hop.text
    action, hop_fields = autopost_fields(hop.text)
    assert action == idp_server.url("/saml/logout") and hop_fields == fields
    account = client.http.get(idp_server.url("/"), allow_redirects=False, timeout=10)
    assert account.status_code == 200  # nothing ended before the hop
    done = client.http.post(
        action, data=hop_fields, headers=_SAME_ORIGIN, allow_redirects=False, timeout=10
    )
    assert done.status_code == 303, done.text
    assert done.headers["Location"].startswith(idp_server.sp_url + "/sls?SAMLResponse=")
    account = client.http.get(idp_server.url("/"), allow_redirects=False, timeout=10)
    assert account.status_code == 303  # the IdP session ended


def test_session_not_on_or_after_follows_the_sp_session_lifetime(make_idp_server: Any) -> None:
    """`session_lifetime_minutes` (default 480) sets SessionNotOnOrAfter, capped by the IdP
    session's own absolute lifetime (core §2.7.2)."""
    import base64

    from lxml import etree

    server = make_idp_server(extra_config="session:\n  absolute_lifetime: 36000\n")
    client = PasskeyClient(server)
    client.enrol("alice")
    answer = _sp_login(client, server)
    root = etree.fromstring(base64.b64decode(autopost_fields(answer.text)[1]["SAMLResponse"]))
    statement = root.find(".//{urn:oasis:names:tc:SAML:2.0:assertion}AuthnStatement")
    assert statement is not None

    def instant(name: str) -> dt.datetime:
        return dt.datetime.fromisoformat(statement.get(name, "").replace("Z", "+00:00"))

    lifetime = instant("SessionNotOnOrAfter") - instant("AuthnInstant")
    assert lifetime == dt.timedelta(minutes=480)  # the SP's 8 h, not the session's 10 h


def _signed_logout_request(server: RunningServer, *, name_id: str) -> str:
    import base64
    import json as jsonlib

    from onelogin.saml2.constants import OneLogin_Saml2_Constants as K
    from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
    from onelogin.saml2.settings import OneLogin_Saml2_Settings
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    sp_dir = server.directory.resolve() / "sp"
    settings = OneLogin_Saml2_Settings(jsonlib.loads((sp_dir / "settings.json").read_text()))
    request = OneLogin_Saml2_Logout_Request(
        settings,
        name_id=name_id,
        name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    )
    signed = OneLogin_Saml2_Utils.add_sign(
        request.get_xml(),
        (sp_dir / "sp.key").read_text(),
        (sp_dir / "sp.crt").read_text(),
        sign_algorithm=K.RSA_SHA256,
        digest_algorithm=K.SHA256,
    )
    return base64.b64encode(signed).decode()


def test_logout_request_for_another_principal_leaves_this_session(
    idp_server: RunningServer,
) -> None:
    """On a shared browser: an SP logging out bob must not end alice's IdP session."""
    client = PasskeyClient(idp_server)
    client.enrol("alice")
    submit_autopost(client.http, _sp_login(client, idp_server))
    answer = client.http.post(
        idp_server.url("/saml/logout"),
        data={"SAMLRequest": _signed_logout_request(idp_server, name_id="bob@example.com")},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 303
    assert "/sls?SAMLResponse=" in answer.headers["Location"]
    assert (
        client.http.get(idp_server.url("/"), allow_redirects=False, timeout=10).status_code == 200
    )
    mine = client.http.post(
        idp_server.url("/saml/logout"),
        data={"SAMLRequest": _signed_logout_request(idp_server, name_id="alice@example.com")},
        allow_redirects=False,
        timeout=10,
    )
    assert mine.status_code == 303
    assert (
        client.http.get(idp_server.url("/"), allow_redirects=False, timeout=10).status_code == 303
    )

"""SP-initiated and IdP-initiated SAML SSO and single logout against the running IdP, with the
OneLogin python3-saml demo SP (strict, signed requests, wantAssertionsSigned,
wantMessagesSigned, rejectDeprecatedAlgorithm) as the peer, over real HTTP."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import quote

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

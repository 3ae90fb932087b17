"""WS-Federation end to end: a real IdP server, a software passkey, Exchange-shaped requests.

The relying party here is played by the test (Exchange cannot run here): it sends what OWA
sends (``wa=wsignin1.0&wtrealm=https://mail.example.com/owa/&wctx=rm=0&id=passive&ru=…``) and
checks the posted ``wresult`` with the independent verifier (signxml) and the ``xmlsec1``
program, with our certificate only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from lxml import html

from idp.errors import ConfigError
from idp.wsfed import constants as c
from tests.e2e.helpers import PasskeyClient, signed_in_session
from tests.e2e.server import RunningServer, run_idp
from tests.idp.wsfed.verifier import verify_wresult, xmlsec1_verify

pytestmark = pytest.mark.e2e

OWA = "https://mail.example.com/owa/"
ECP = "https://mail.example.com/ecp/"
OWA_CTX = "rm=0&id=passive&ru=%2fowa%2f"
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"

WSFED_YAML = """
wsfed:
  token_lifetime_seconds: 3600
  relying_parties:
    - name: owa
      profile: exchange
      realm: https://mail.example.com/owa
      reply_urls: [https://mail.example.com/owa/]
    - name: ecp
      profile: exchange
      realm: https://mail.example.com/ecp/
      reply_urls: [https://mail.example.com/ecp/]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, storage: str) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("wsfed")
    with run_idp(
        directory, storage=storage, uv_required=False, extra_config=WSFED_YAML, with_sp=False
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def alice(server: RunningServer) -> PasskeyClient:
    employees = server.runtime.employees
    username = employees.list(limit=1).items[0].username
    employee = server.employee(username)
    employees.update(
        dataclasses.replace(
            employee, ad_object_sid=SID, external_ids={"upn": f"{username}@corp.example.com"}
        )
    )
    return signed_in_session(server, username)


def wsfed_url(server: RunningServer, **params: str) -> str:
    return server.url("/wsfed?" + urlencode(params))


def form_of(response: requests.Response) -> tuple[str, dict[str, str]]:
    page = html.fromstring(response.text)
    form = page.get_element_by_id("autopost")
    fields = {i.get("name"): i.get("value") for i in form.findall(".//input")}
    return form.get("action"), fields


def sign_in(client: PasskeyClient, **params: str) -> requests.Response:
    response = client.http.get(
        wsfed_url(client.server, wa="wsignin1.0", **params), allow_redirects=False, timeout=10
    )
    if response.status_code == 303:
        response = client.follow_login(response)
    return response


def check_token(server: RunningServer, wresult: str, *, realm: str) -> dict[str, list[str]]:
    key = server.runtime.keys.current
    token = verify_wresult(
        wresult,
        cert_pem=key.cert_pem,
        realm=realm,
        issuer=server.base_url,
        now=server.runtime.now(),
    )
    cert_path = Path(server.directory) / "keys/idp-signing.crt"
    xmlsec1_verify(wresult, cert_path=cert_path, saml11=token.version == "1.1")
    assert token.version == "1.1"
    return token.claims


def test_owa_sign_in_gets_a_signed_saml11_token(
    server: RunningServer, alice: PasskeyClient
) -> None:
    response = sign_in(alice, wtrealm=OWA, wctx=OWA_CTX)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    action, fields = form_of(response)
    assert action == OWA
    assert fields["wa"] == "wsignin1.0"
    assert fields["wctx"] == OWA_CTX
    claims = check_token(server, fields["wresult"], realm=OWA)
    assert claims[c.CLAIM_PRIMARYSID] == [SID]
    assert claims[c.CLAIM_UPN][0].endswith("@corp.example.com")


def test_ecp_realm_sent_without_trailing_slash(server: RunningServer, alice: PasskeyClient) -> None:
    realm = ECP.rstrip("/")
    action, fields = form_of(sign_in(alice, wtrealm=realm, wreply=realm))
    assert action == ECP
    check_token(server, fields["wresult"], realm=realm)


def test_unauthenticated_browser_signs_in_and_resumes(server: RunningServer) -> None:
    client = PasskeyClient(server)
    client.enrol(server.runtime.employees.list(limit=1).items[0].username)
    client.http = requests.Session()  # a browser that holds the passkey, not a session
    first = client.http.get(
        wsfed_url(server, wa="wsignin1.0", wtrealm=OWA, wctx=OWA_CTX),
        allow_redirects=False,
        timeout=10,
    )
    assert first.status_code == 303 and "/login?ticket=" in first.headers["Location"]
    answer = client.follow_login(first)
    assert answer.status_code == 200, answer.text
    _, fields = form_of(answer)
    assert fields["wctx"] == OWA_CTX
    check_token(server, fields["wresult"], realm=OWA)


def test_wfresh_zero_forces_a_new_sign_in(server: RunningServer, alice: PasskeyClient) -> None:
    response = alice.http.get(
        wsfed_url(server, wa="wsignin1.0", wtrealm=OWA, wfresh="0"),
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 303
    assert "/login?ticket=" in response.headers["Location"]
    answer = alice.follow_login(response)
    assert answer.status_code == 200, answer.text


HOSTILE = [
    ({"wtrealm": OWA}, 400, "wa parameter is missing"),
    ({"wa": "wattr1.0", "wtrealm": OWA}, 400, "unsupported wa"),
    ({"wa": "wsignin1.0", "wtrealm": "https://evil.example.net/"}, 400, "no relying party"),
    (
        {"wa": "wsignin1.0", "wtrealm": OWA, "wreply": "https://evil.example.net/"},
        400,
        "is not registered for the realm",
    ),
    ({"wa": "wsignin1.0", "wtrealm": OWA, "wctx": "x" * 2049}, 413, "at most 2048 bytes"),
    ({"wa": "wsignout1.0", "wreply": "https://evil.example.net/"}, 400, "not a registered reply"),
]


@pytest.mark.parametrize(("params", "status", "message"), HOSTILE)
def test_hostile_requests_get_an_error_page_never_a_redirect(
    server: RunningServer, params: dict[str, str], status: int, message: str
) -> None:
    response = requests.get(wsfed_url(server, **params), allow_redirects=False, timeout=10)
    assert response.status_code == status
    assert "Location" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    assert (
        message
        in html.fromstring(response.text).get_element_by_id("error-description").text_content()
    )


def test_script_in_wctx_is_escaped_never_executed(
    server: RunningServer, alice: PasskeyClient
) -> None:
    payload = '"><script>alert(document.cookie)</script><input value="'
    response = sign_in(alice, wtrealm=OWA, wctx=payload)
    assert response.status_code == 200
    assert "<script>alert" not in response.text
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    _, fields = form_of(response)
    assert fields["wctx"] == payload  # echoed verbatim, as data
    page = html.fromstring(response.text)
    assert [s.get("src") for s in page.iter("script")] == ["/static/autopost.js"]


def test_metadata_is_signed(server: RunningServer) -> None:
    from signxml import XMLVerifier

    response = requests.get(
        server.url("/FederationMetadata/2007-06/FederationMetadata.xml"), timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    cert = server.runtime.keys.current.cert_pem.decode()
    signed = XMLVerifier().verify(response.content, x509_cert=cert, id_attribute="ID").signed_xml
    assert signed.get("entityID") == server.base_url
    assert b"PassiveRequestorEndpoint" in response.content
    assert server.url("/wsfed").encode() in response.content


def test_sign_out_cleans_up_each_relying_party(server: RunningServer) -> None:
    client = signed_in_session(server, server.runtime.employees.list(limit=1).items[0].username)
    for realm in (OWA, ECP):
        assert sign_in(client, wtrealm=realm).status_code == 200
    ask = client.http.get(
        wsfed_url(server, wa="wsignout1.0", wreply=OWA), allow_redirects=False, timeout=10
    )
    # A cross-site link alone does not end the session (issue 16 §3.6): the user confirms.
    assert ask.status_code == 200 and 'value="yes"' in ask.text
    assert not html.fromstring(ask.text).xpath("//img")
    form = html.fromstring(ask.text).forms[0]
    fields = dict(form.fields)
    assert fields["wa"] == "wsignout1.0" and fields["wreply"] == OWA
    response = client.http.post(
        server.url("/wsfed"), data={**fields, "confirm": "yes"}, allow_redirects=False, timeout=10
    )
    assert response.status_code == 200
    page = html.fromstring(response.text)
    images = sorted(i.get("src") for i in page.iter("img"))
    assert images == [f"{ECP}?wa=wsignoutcleanup1.0", f"{OWA}?wa=wsignoutcleanup1.0"]
    assert "img-src 'self' https://mail.example.com;" in response.headers["Content-Security-Policy"]
    assert response.headers["Refresh"] == f"3; url={OWA}"
    # The session is over: the next sign-in goes to the sign-in page.
    again = client.http.get(
        wsfed_url(server, wa="wsignin1.0", wtrealm=OWA), allow_redirects=False, timeout=10
    )
    assert again.status_code == 303 and "/login" in again.headers["Location"]


def test_a_realm_whose_signing_is_misconfigured_fails_at_start(
    tmp_path: Path, storage: str
) -> None:
    bad = WSFED_YAML.replace(
        "profile: exchange\n      realm: https://mail.example.com/ecp/",
        "profile: exchange\n      signature_algorithm: ecdsa-sha256\n"
        "      realm: https://mail.example.com/ecp/",
    )
    assert bad != WSFED_YAML
    with (
        pytest.raises(ConfigError, match=r"relying_parties\[ecp\].*needs an EC key"),
        run_idp(tmp_path, storage=storage, extra_config=bad, with_sp=False),
    ):
        pass


def test_sign_in_by_post(server: RunningServer, alice: PasskeyClient) -> None:
    response = alice.http.post(
        server.url("/wsfed"),
        data={"wa": "wsignin1.0", "wtrealm": OWA, "wctx": OWA_CTX},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    _, fields = form_of(response)
    check_token(server, fields["wresult"], realm=OWA)


def test_a_parameter_in_both_query_and_form_is_refused(server: RunningServer) -> None:
    response = requests.post(
        wsfed_url(server, wa="wsignin1.0", wtrealm=OWA, wreply=OWA),
        data={"wreply": "https://evil.example.net/"},
        allow_redirects=False,
        timeout=10,
    )
    assert response.status_code == 400
    assert "wreply must appear once" in response.text
    assert "Location" not in response.headers


def test_unknown_resume_handle(server: RunningServer) -> None:
    response = requests.get(server.url("/wsfed/resume?k=not-a-handle"), timeout=10)
    assert response.status_code == 400
    assert "expired or was already answered" in response.text
    assert response.headers["Cache-Control"] == "no-store"

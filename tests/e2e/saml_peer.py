"""The python3-saml demo SP as a test peer: its settings, and the messages it would send."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

import requests
from lxml import etree
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as K
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from idp.keys import load_signing_key
from tests.e2e.helpers import PasskeyClient, autopost_fields
from tests.e2e.server import RunningServer
from tests.idp.saml.onelogin_sp import post_login

EMAIL_FORMAT = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
POST_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"


def sp_dir(server: RunningServer) -> Path:
    return server.directory.resolve() / "sp"


def raw_settings(server: RunningServer) -> dict[str, Any]:
    settings: dict[str, Any] = json.loads((sp_dir(server) / "settings.json").read_text())
    return settings


def sp_settings(server: RunningServer, *, post_binding: bool = False) -> OneLogin_Saml2_Settings:
    raw = raw_settings(server)
    if post_binding:
        raw["idp"]["singleSignOnService"]["binding"] = POST_BINDING
    return OneLogin_Saml2_Settings(raw)


def sp_login(client: PasskeyClient, server: RunningServer) -> requests.Response:
    """The SP's /login (a signed Redirect AuthnRequest), followed to the IdP's answer."""
    start = client.http.get(server.sp_url + "/login", allow_redirects=False, timeout=10)
    assert start.status_code == 302
    assert start.headers["Location"].startswith(server.url("/saml/login?SAMLRequest="))
    assert "Signature=" in start.headers["Location"]
    return client.http.get(start.headers["Location"], allow_redirects=False, timeout=10)


def login_url(server: RunningServer, *, requested: list[str] | None = None,
              **kwargs: Any) -> str:  # fmt: skip
    """A signed Redirect AuthnRequest URL (``force_authn=``, ``is_passive=`` …)."""
    raw = raw_settings(server)
    if requested is not None:
        raw["security"]["requestedAuthnContext"] = requested
        raw["security"]["requestedAuthnContextComparison"] = "exact"
    req = {"https": "off", "http_host": "localhost", "server_port": server.sp_port,
           "script_name": "/login", "get_data": {}, "post_data": {}}  # fmt: skip
    url: str = OneLogin_Saml2_Auth(req, old_settings=raw).login(return_to="/", **kwargs)
    return url


def signed_post_request(server: RunningServer) -> tuple[dict[str, str], str]:
    """Form fields of an enveloped-signed HTTP-POST AuthnRequest, and its id."""
    key = load_signing_key(sp_dir(server) / "sp.key", sp_dir(server) / "sp.crt")
    return post_login(sp_settings(server, post_binding=True), sp_key=key)


def signed_logout_request(
    server: RunningServer,
    *,
    name_id: str,
    session_index: str | None = None,
    not_on_or_after: str | None = None,
) -> str:
    """A base64 enveloped-signed LogoutRequest (HTTP-POST binding) from the SP."""
    request = OneLogin_Saml2_Logout_Request(sp_settings(server), name_id=name_id,
                                            session_index=session_index,
                                            name_id_format=EMAIL_FORMAT)  # fmt: skip
    xml = request.get_xml()
    if not_on_or_after is not None:
        root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
        root.set("NotOnOrAfter", not_on_or_after)
        xml = etree.tostring(root)
    signed = OneLogin_Saml2_Utils.add_sign(
        xml,
        (sp_dir(server) / "sp.key").read_text(),
        (sp_dir(server) / "sp.crt").read_text(),
        sign_algorithm=K.RSA_SHA256,
        digest_algorithm=K.SHA256,
    )
    return base64.b64encode(signed).decode()


def response_xml(html: str) -> etree._Element:
    """The SAMLResponse of an auto-post page, parsed."""
    return etree.fromstring(base64.b64decode(autopost_fields(html)[1]["SAMLResponse"]))


def status_of(html: str) -> str:
    ns = {"p": "urn:oasis:names:tc:SAML:2.0:protocol"}
    codes = response_xml(html).xpath(
        "//p:Status/p:StatusCode/@Value | //p:StatusCode/p:StatusCode/@Value", namespaces=ns
    )
    return " ".join(str(c) for c in codes)  # type: ignore[union-attr]


def xmlsec1_verify(path: Path, cert: Path, *id_attrs: str) -> subprocess.CompletedProcess[str]:
    """The xmlsec1 program's verdict on a signed document (our code plays no part)."""
    args = [a for id_attr in id_attrs for a in ("--id-attr:ID", id_attr)]
    return subprocess.run(
        ["xmlsec1", "--verify", "--enabled-reference-uris", "same-doc", "--pubkey-cert-pem",
         str(cert), "--enabled-key-data", "rsa,key-name", *args, str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

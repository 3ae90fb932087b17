"""OneLogin python3-saml (strict) as the SP: settings, requests it makes, responses it checks."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request
from onelogin.saml2.constants import OneLogin_Saml2_Constants as K
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from idp.keys import SigningKey

IDP_BASE = "https://idp.example.com"


def settings(
    *,
    idp_cert: SigningKey,
    sp_entity: str,
    acs: str,
    sp_key: SigningKey | None = None,
    want_assertions_signed: bool = True,
    want_messages_signed: bool = True,
    want_name_id_format: str | None = None,
    want_attribute_statement: bool = True,
    want_assertions_encrypted: bool = False,
    authn_requests_signed: bool = False,
    logout_signed: bool = False,
) -> OneLogin_Saml2_Settings:
    sp: dict[str, Any] = {
        "entityId": sp_entity,
        "assertionConsumerService": {"url": acs, "binding": K.BINDING_HTTP_POST},
        "singleLogoutService": {
            "url": "https://sp.example.com/sls",
            "binding": K.BINDING_HTTP_REDIRECT,
        },
        "NameIDFormat": want_name_id_format or K.NAMEID_UNSPECIFIED,
    }
    if sp_key is not None:
        sp["x509cert"] = sp_key.cert_der_b64
        sp["privateKey"] = sp_key.key_pem.decode()
    data = {
        "strict": True,
        "debug": False,
        "sp": sp,
        "idp": {
            "entityId": IDP_BASE,
            "singleSignOnService": {
                "url": f"{IDP_BASE}/saml/login",
                "binding": K.BINDING_HTTP_REDIRECT,
            },
            "singleLogoutService": {
                "url": f"{IDP_BASE}/saml/logout",
                "binding": K.BINDING_HTTP_REDIRECT,
            },
            "x509cert": idp_cert.cert_der_b64,
        },
        "security": {
            "wantAssertionsSigned": want_assertions_signed,
            "wantMessagesSigned": want_messages_signed,
            "wantAttributeStatement": want_attribute_statement,
            "wantAssertionsEncrypted": want_assertions_encrypted,
            "wantNameId": True,
            "rejectDeprecatedAlgorithm": True,
            "authnRequestsSigned": authn_requests_signed,
            "logoutRequestSigned": logout_signed,
            "logoutResponseSigned": logout_signed,
            "signatureAlgorithm": K.RSA_SHA256,
            "digestAlgorithm": K.SHA256,
        },
    }
    return OneLogin_Saml2_Settings(data, sp_validation_only=False)


def request_data(url: str, post: dict[str, str] | None = None) -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "https": "on" if parts.scheme == "https" else "off",
        "http_host": parts.hostname,
        "server_port": parts.port or (443 if parts.scheme == "https" else 80),
        "script_name": parts.path,
        "get_data": {},
        "post_data": post or {},
    }


def validate(
    sp_settings: OneLogin_Saml2_Settings, xml: bytes, *, acs: str, request_id: str | None
) -> OneLogin_Saml2_Response:
    """Run python3-saml's strict checks; raise with its reason when they fail."""
    response = OneLogin_Saml2_Response(sp_settings, base64.b64encode(xml).decode())
    response.is_valid(request_data(acs), request_id, raise_exceptions=True)
    return response


def redirect_login(
    sp_settings: OneLogin_Saml2_Settings,
    *,
    acs: str,
    relay_state: str = "https://sp.example.com/after",
) -> tuple[str, str]:
    """(raw query string, request id) of the HTTP-Redirect AuthnRequest the SP sends."""
    auth = OneLogin_Saml2_Auth(request_data(acs), sp_settings)
    url = auth.login(return_to=relay_state)
    return urlsplit(url).query, auth.get_last_request_id()


def post_login(
    sp_settings: OneLogin_Saml2_Settings, *, sp_key: SigningKey | None
) -> tuple[dict[str, str], str]:
    """Form fields of an HTTP-POST AuthnRequest (enveloped-signed if ``sp_key``)."""
    request = OneLogin_Saml2_Authn_Request(sp_settings)
    xml = request.get_xml()
    if sp_key is not None:
        xml = OneLogin_Saml2_Utils.add_sign(
            xml,
            sp_key.key_pem.decode(),
            sp_key.cert_pem.decode(),
            sign_algorithm=K.RSA_SHA256,
            digest_algorithm=K.SHA256,
        )
    if isinstance(xml, str):
        xml = xml.encode()
    return {"SAMLRequest": base64.b64encode(xml).decode(), "RelayState": "rs"}, request.get_id()

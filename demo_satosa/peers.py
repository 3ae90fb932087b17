"""The peers of the SATOSA demo and tests: a pysaml2 upstream IdP and the demo SP's settings.

The upstream IdP:

It is pysaml2's own ``Server`` answering each AuthnRequest (HTTP-Redirect) with a signed
Response (HTTP-POST) for ``user``, as if that user had just typed their password: the demo
and the tests choose the user and the AuthnContextClassRef it asserts. It signs in process
(idp.saml.pysaml2_backend) so that it costs the benchmark little.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from onelogin.saml2.settings import OneLogin_Saml2_Settings
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from idp.keys import generate_self_signed, load_signing_key
from idp.saml.pysaml2_backend import install

FRONTEND = "Saml2IDP"
BACKEND = "Saml2"
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
REFEDS_MFA = "https://refeds.org/profile/mfa"

USERS = {
    "alice": {"mail": ["alice@example.com"], "displayName": ["Alice Andersen"]},
    "bob": {"mail": ["bob@example.com"], "displayName": ["Bob Brown"]},
    "carol": {"mail": ["carol@example.com"], "displayName": ["Carol Clark"]},
    "stranger": {"mail": ["stranger@elsewhere.org"], "displayName": ["Not An Employee"]},
}


def keys(directory: Path, name: str) -> tuple[str, str]:
    """``<name>.key`` / ``<name>.crt`` in ``directory``, made once."""
    key, cert = directory / f"{name}.key", directory / f"{name}.crt"
    if not key.exists():
        generate_self_signed(key, cert, common_name=name)
    return str(key), str(cert)


@dataclass
class Upstream:
    """A pysaml2 IdP: answers every AuthnRequest for ``user`` with ``class_ref``."""

    url: str
    key: tuple[str, str]
    user: str = "alice"
    class_ref: str = PPT
    #: the AuthnInstant it asserts (an upstream SSO session keeps its first one); None = now
    authn_instant: int | None = None
    server: Server | None = None

    def config(self, backend_metadata: str | None) -> dict[str, Any]:
        return {
            "entityid": f"{self.url}/idp.xml",
            "key_file": self.key[0],
            "cert_file": self.key[1],
            "metadata": {"inline": [backend_metadata]} if backend_metadata else {},
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [(f"{self.url}/sso", BINDING_HTTP_REDIRECT)]
                    },
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "signing_algorithm": SIG_RSA_SHA256,
                    "digest_algorithm": DIGEST_SHA256,
                }
            },
        }

    def metadata(self) -> str:
        text = create_metadata_string(None, config=IdPConfig().load(self.config(None)))
        return text.decode() if isinstance(text, bytes) else text

    def start(self, backend_metadata: str) -> None:
        self.server = Server(config=IdPConfig().load(self.config(backend_metadata)))
        install(self.server, load_signing_key(Path(self.key[0]), Path(self.key[1])))

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        assert self.server is not None
        query = parse_qs(environ.get("QUERY_STRING", ""))
        request = self.server.parse_authn_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT)
        args = self.server.response_args(request.message, [BINDING_HTTP_POST])
        response = self.server.create_authn_response(
            identity=USERS[self.user],
            userid=self.user,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=f"upstream-{self.user}"),
            authn={
                "class_ref": self.class_ref,
                "authn_instant": self.authn_instant or int(time.time()),
            },
            sign_assertion=True,
            sign_response=True,
            sign_alg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            **args,
        )
        form = self.server.apply_binding(
            BINDING_HTTP_POST,
            str(response),
            args["destination"],
            query.get("RelayState", [""])[0],
            response=True,
        )
        start_response("200 OK", [("Content-Type", "text/html")])
        return [form["data"].encode()]


def sp_settings(
    *, sp_url: str, base: str, directory: Path, backend: str = BACKEND
) -> dict[str, Any]:
    """python3-saml settings of the demo SP, signing in through SATOSA's SAML frontend."""
    key, cert = keys(directory, "sp")
    front_cert = Path(keys(directory, "frontend")[1]).read_text()
    sp_cert = Path(cert).read_text()

    def body(pem: str) -> str:
        return "".join(line for line in pem.splitlines() if "-----" not in line)

    return {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": f"{sp_url}/metadata",
            "assertionConsumerService": {"url": f"{sp_url}/acs", "binding": BINDING_HTTP_POST},
            "singleLogoutService": {"url": f"{sp_url}/sls", "binding": BINDING_HTTP_REDIRECT},
            "NameIDFormat": NAMEID_FORMAT_PERSISTENT,
            "x509cert": body(sp_cert),
            "privateKey": body(Path(key).read_text()),
        },
        "idp": {
            "entityId": f"{base}/{FRONTEND}/proxy.xml",
            "singleSignOnService": {
                "url": f"{base}/{backend}/sso/redirect",
                "binding": BINDING_HTTP_REDIRECT,
            },
            "x509cert": body(front_cert),
        },
        "security": {
            "authnRequestsSigned": False,
            "wantAssertionsSigned": True,
            "wantMessagesSigned": True,
            "wantNameId": True,
            "requestedAuthnContext": False,
            "signatureAlgorithm": "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "digestAlgorithm": "http://www.w3.org/2001/04/xmlenc#sha256",
            "rejectDeprecatedAlgorithm": True,
        },
    }


def sp_metadata(settings: dict[str, Any]) -> str:
    text = OneLogin_Saml2_Settings(settings, sp_validation_only=True).get_sp_metadata()
    return text.decode() if isinstance(text, bytes) else text

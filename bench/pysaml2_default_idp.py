"""Baseline for bench/saml_sso.py: the same SSO answer from pysaml2's defaults.

A minimal Flask IdP endpoint on pysaml2's ``Server`` with its default crypto backend (the
``xmlsec1`` program, as SATOSA and pysaml2 ship): parse the Redirect AuthnRequest, check a live
session cookie, build and sign (assertion + response, RSA-SHA256/SHA-256) the Response, and
answer the auto-post form. Run by bench/saml_sso.py; not part of the product.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, abort, request
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server

REFEDS_MFA = "https://refeds.org/profile/mfa"


def create_app(base_url: str, key: Path, cert: Path, sp_metadata: Path, session: str) -> Flask:
    conf = IdPConfig()
    conf.load(
        {
            "entityid": base_url,
            "key_file": str(key),
            "cert_file": str(cert),
            "metadata": {"local": [str(sp_metadata)]},
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [
                            (f"{base_url}/saml/login", BINDING_HTTP_REDIRECT)
                        ]
                    },
                    "policy": {"default": {"lifetime": {"minutes": 5}}},
                }
            },
        }
    )
    server = Server(config=conf)
    app = Flask(__name__)

    @app.get("/saml/login")
    def login() -> Response:
        if request.cookies.get("hideez_idp_session") != session:
            abort(401)
        parsed = server.parse_authn_request(request.args["SAMLRequest"], BINDING_HTTP_REDIRECT)
        req = parsed.message
        resp = server.create_authn_response(
            {"email": ["alice@example.com"], "name": ["Alice Andersen"]},
            req.id,
            req.assertion_consumer_service_url,
            req.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text="alice@example.com"),
            authn={"class_ref": REFEDS_MFA},
            sign_response=True,
            sign_assertion=True,
            sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
        )
        http = server.apply_binding(
            BINDING_HTTP_POST,
            str(resp),
            req.assertion_consumer_service_url,
            request.args.get("RelayState", ""),
            response=True,
        )
        return Response(http["data"], mimetype="text/html")

    return app


def from_env() -> Flask:
    """Factory for gunicorn: settings from BENCH_* environment variables."""
    import os

    env = os.environ
    return create_app(env["BENCH_BASE_URL"], Path(env["BENCH_KEY"]), Path(env["BENCH_CERT"]),
                      Path(env["BENCH_SP_METADATA"]), env["BENCH_SESSION"])  # fmt: skip

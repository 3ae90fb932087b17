"""Baseline for bench/paths.py: the same SAML answers from pysaml2's defaults.

A minimal Flask IdP on pysaml2's ``Server`` with its default crypto backend (the ``xmlsec1``
program, as SATOSA and pysaml2 ship):

- SSO (Redirect or POST): parse the AuthnRequest, check a live session cookie, build and sign
  (assertion + response, RSA-SHA256/SHA-256) the Response, answer the auto-post form;
- SLO (Redirect): parse the LogoutRequest, answer a LogoutResponse by redirect, its query
  signed RSA-SHA256 (pysaml2 signs Redirect-binding messages in process).

Neither checks the request's signature (pysaml2 does not by default), so the peer does less
than we do. Run by bench/paths.py; not part of the product.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, abort, redirect, request
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
from saml2.server import Server

REFEDS_MFA = "https://refeds.org/profile/mfa"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"


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
                            (f"{base_url}/saml/login", BINDING_HTTP_REDIRECT),
                            (f"{base_url}/saml/login", BINDING_HTTP_POST),
                        ],
                        "single_logout_service": [
                            (f"{base_url}/saml/logout", BINDING_HTTP_REDIRECT)
                        ],
                    },
                    "policy": {"default": {"lifetime": {"minutes": 5}}},
                }
            },
        }
    )
    server = Server(config=conf)
    app = Flask(__name__)

    def answer(saml_request: str, binding: str, relay_state: str) -> Response:
        if request.cookies.get("hideez_idp_session") != session:
            abort(401)
        req = server.parse_authn_request(saml_request, binding).message
        resp = server.create_authn_response(
            {"email": ["alice@example.com"], "name": ["Alice Andersen"]},
            req.id,
            req.assertion_consumer_service_url,
            req.issuer.text,
            name_id=NameID(format=NAMEID_FORMAT_EMAILADDRESS, text="alice@example.com"),
            authn={"class_ref": REFEDS_MFA},
            sign_response=True,
            sign_assertion=True,
            sign_alg=RSA_SHA256,
            digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
        )
        http = server.apply_binding(
            BINDING_HTTP_POST,
            str(resp),
            req.assertion_consumer_service_url,
            relay_state,
            response=True,
        )
        return Response(http["data"], mimetype="text/html")

    @app.get("/saml/login")
    def login() -> Response:
        args = request.args
        return answer(args["SAMLRequest"], BINDING_HTTP_REDIRECT, args.get("RelayState", ""))

    @app.post("/saml/login")
    def login_post() -> Response:
        form = request.form
        return answer(form["SAMLRequest"], BINDING_HTTP_POST, form.get("RelayState", ""))

    @app.get("/saml/logout")
    def logout() -> Response:
        req = server.parse_logout_request(request.args["SAMLRequest"], BINDING_HTTP_REDIRECT)
        resp = server.create_logout_response(req.message, [BINDING_HTTP_REDIRECT])
        http = server.apply_binding(
            BINDING_HTTP_REDIRECT,
            str(resp),
            resp.destination,
            request.args.get("RelayState", ""),
            response=True,
            sign=True,
            sigalg=RSA_SHA256,
        )
        location = dict(http["headers"])["Location"]
        return redirect(location, code=303)  # type: ignore[return-value]

    return app


def from_env() -> Flask:
    """Factory for gunicorn: settings from BENCH_* environment variables."""
    import os

    env = os.environ
    return create_app(env["BENCH_BASE_URL"], Path(env["BENCH_KEY"]), Path(env["BENCH_CERT"]),
                      Path(env["BENCH_SP_METADATA"]), env["BENCH_SESSION"])  # fmt: skip

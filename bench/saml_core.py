"""SAML core throughput: complete SP-initiated SSO (parse AuthnRequest → build → sign).

Prints responses/s for
  1. our path: idp.saml (lxml C14N + cryptography signing in process, keys loaded once),
  2. pysaml2 with our in-process CryptoBackend (idp.saml.pysaml2_backend),
  3. pysaml2's default path (xmlsec1 subprocess),
and the ratio of 1 to 3. Both assertion and response are signed (RSA-2048, SHA-256) in all.

Run: .venv/bin/python bench/saml_core.py [seconds-per-path]
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server

from idp.config.saml import (
    AttributeRelease,
    Endpoint,
    IdpSamlSettings,
    NameIdRule,
    ServiceProvider,
)
from idp.directory.model import Employee
from idp.factors.kinds import FactorKind, FactorUse
from idp.keys import KeySet, generate_self_signed
from idp.saml import constants as c
from idp.saml.bindings import decode_redirect
from idp.saml.pysaml2_backend import install
from idp.saml.requests import parse_authn_request
from idp.saml.responses import build_response
from idp.saml.signing import SamlSigner
from idp.sessions import AuthContext
from tests.idp.saml import onelogin_sp as ol

IDP = "https://idp.example.com"
SP = "https://sp.example.com/metadata"
ACS = "https://sp.example.com/acs"


class NoReplay:
    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool:
        return True


def rate(fn: Callable[[], object], seconds: float) -> float:
    fn()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        count += 1
    return count / elapsed


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    work = Path(tempfile.mkdtemp())
    key = generate_self_signed(work / "idp.key", work / "idp.crt", common_name="idp")
    sp_settings = ol.settings(idp_cert=key, sp_entity=SP, acs=ACS)
    query, _ = ol.redirect_login(sp_settings, acs=ACS)
    (work / "sp.xml").write_text(str(sp_settings.get_sp_metadata()))

    settings = IdpSamlSettings(entity_id=IDP, base_url=IDP, pairwise_salt="s" * 32)
    sp = ServiceProvider(
        name="bench",
        entity_id=SP,
        profile="generic",
        acs=(Endpoint(c.BINDING_POST, ACS, 0, True),),
        slo=(),
        signing_certs=(),
        want_authn_requests_signed=False,
        sign_response=True,
        sign_assertion=True,
        name_id=NameIdRule(c.NAMEID_PERSISTENT, "pairwise"),
        attributes=(AttributeRelease("email", "email"), AttributeRelease("full_name", "name")),
    )
    signer = SamlSigner(KeySet(key))
    employee = Employee("e1", "alice", "alice@example.com", "Alice", "Liddell")
    now = dt.datetime.now(dt.UTC)
    context = AuthContext(
        "s1", "e1", now, (FactorUse(FactorKind.PASSKEY, "c", now, True, ("hwk",)),)
    )

    def ours() -> object:
        request = parse_authn_request(
            message=decode_redirect(query),
            settings=settings,
            service_providers={SP: sp},
            replay_cache=NoReplay(),
            now=dt.datetime.now(dt.UTC),
        )
        return build_response(
            settings=settings,
            sp=sp,
            request=request,
            subject=employee,
            context=context,
            authn_context_class_ref=c.REFEDS_MFA,
            session_index="s1",
            session_not_on_or_after=now + dt.timedelta(hours=8),
            signer=signer,
            now=dt.datetime.now(dt.UTC),
        )

    def pysaml2_path(server: Server) -> Callable[[], object]:
        saml_request = dict(p.split("=", 1) for p in query.split("&"))["SAMLRequest"]
        from urllib.parse import unquote_plus

        encoded = unquote_plus(saml_request)

        def run() -> object:
            parsed = server.parse_authn_request(encoded, BINDING_HTTP_REDIRECT)
            req = parsed.message
            return server.create_authn_response(
                {"email": ["alice@example.com"], "name": ["Alice Liddell"]},
                req.id,
                ACS,
                SP,
                name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="e1"),
                authn={"class_ref": c.REFEDS_MFA},
                sign_response=True,
                sign_assertion=True,
                sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
            )

        return run

    def server() -> Server:
        conf = IdPConfig()
        conf.load(
            {
                "entityid": IDP,
                "key_file": str(work / "idp.key"),
                "cert_file": str(work / "idp.crt"),
                "metadata": {"local": [str(work / "sp.xml")]},
                "service": {
                    "idp": {
                        "endpoints": {
                            "single_sign_on_service": [
                                (f"{IDP}/saml/login", BINDING_HTTP_REDIRECT),
                                (f"{IDP}/saml/login", BINDING_HTTP_POST),
                            ]
                        },
                        "policy": {"default": {"lifetime": {"minutes": 5}}},
                    }
                },
            }
        )
        return Server(config=conf)

    default_server = server()
    fast_server = server()
    install(fast_server, key)
    ours_rate = rate(ours, seconds)
    fast_rate = rate(pysaml2_path(fast_server), seconds)
    default_rate = rate(pysaml2_path(default_server), seconds)
    print(f"idp.saml (lxml + in-process signing):    {ours_rate:8.1f} responses/s")
    print(f"pysaml2 + in-process CryptoBackend:       {fast_rate:8.1f} responses/s")
    print(f"pysaml2 default (xmlsec1 subprocess):     {default_rate:8.1f} responses/s")
    print(f"ratio ours / pysaml2 default:             {ours_rate / default_rate:8.1f}x")


if __name__ == "__main__":
    main()

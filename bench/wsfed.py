"""WS-Federation throughput: signed SAML 1.1 sign-in responses per second, one core.

Prints sign-in responses/s for
  1. the core path with a live session: parse the wsignin1.0 parameters, read the session from
     the short-lived store, evaluate the policy, build and sign the SAML 1.1 token and the RSTR
     (idp.wsfed; lxml + in-process signing, key loaded once);
  2. the whole HTTP path through the Flask app (test client, one thread) with a live session
     cookie: GET /wsfed → the auto-posted form (session read, token, participant record, audit
     row in SQLite);
  3. the baseline from the same run: pysaml2's default path (``Server`` with
     ``CryptoBackendXmlSec1``, which runs the xmlsec1 program), one signed SAML 2.0 assertion
     per response, as bench/paths.py measures it;
and the ratios of 1 and 2 to 3. Every path signs once, RSA-2048 with SHA-256.

Run: .venv/bin/python bench/wsfed.py [seconds-per-path]
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from saml2.config import IdPConfig
from saml2.saml import NAMEID_FORMAT_UNSPECIFIED, NameID
from saml2.server import Server
from saml2.sigver import CryptoBackendXmlSec1

from idp.directory.model import Employee
from idp.factors.kinds import FactorKind, FactorUse
from idp.keys import KeySet, generate_self_signed
from idp.policy import Policy, Requirement, Satisfied, evaluate
from idp.sessions import SessionStore
from idp.store.ephemeral.memory import MemoryStore
from idp.wsfed import constants as c
from idp.wsfed.model import ClaimRule, RelyingParty, TokenType, WsFedSettings
from idp.wsfed.requests import SignInRequest, parse_request
from idp.wsfed.runtime import build_wsfed
from idp.wsfed.tokens import build_signin_response

OWA = "https://mail.example.com/owa/"
SID = "S-1-5-21-3623811015-3361044348-30300820-1013"
EXCHANGE_CLAIMS = (
    ClaimRule(c.CLAIM_UPN, "upn", required=True),
    ClaimRule(c.CLAIM_PRIMARYSID, "primarysid", required=True),
    ClaimRule(c.CLAIM_NAME, "name"),
    ClaimRule(c.CLAIM_EMAIL, "email"),
)
SP_METADATA = """<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{sp}">
  <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="{acs}" index="0"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"""


def rate(fn: Callable[[], object], seconds: float) -> float:
    fn()
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        fn()
        count += 1
    return count / elapsed


def employee() -> Employee:
    return Employee(
        id="e1",
        username="alice",
        email="alice@example.com",
        first_name="Alice",
        last_name="Liddell",
        ad_object_sid=SID,
        external_ids={"upn": "alice@corp.example.com"},
    )


def core_path(work: Path) -> Callable[[], object]:
    key = generate_self_signed(work / "core.key", work / "core.crt", common_name="idp")
    rp = RelyingParty(
        name="owa",
        realm=OWA,
        reply_urls=(OWA,),
        token_type=TokenType.SAML11,
        claims=EXCHANGE_CLAIMS,
    )
    settings = WsFedSettings(
        issuer="https://idp.example.com", base_url="https://idp.example.com", relying_parties=(rp,)
    )
    wsfed = build_wsfed(settings=settings, keys=KeySet(key), now=dt.datetime.now(dt.UTC))
    sessions = SessionStore(MemoryStore(), idle_timeout=1800, absolute_lifetime=28800)
    now = dt.datetime.now(dt.UTC)
    live = sessions.create(
        employee_id="e1", now=now, factor=FactorUse(FactorKind.PASSKEY, "cred", now, True, ("hwk",))
    )
    policy = Policy(name="default", factors=frozenset({FactorKind.PASSKEY}))
    subject = employee()
    params = {"wa": ["wsignin1.0"], "wtrealm": [OWA], "wctx": ["rm=0&id=passive&ru=%2fowa%2f"]}

    def run() -> object:
        moment = dt.datetime.now(dt.UTC)
        request = parse_request(params, settings=settings, now=moment)
        assert isinstance(request, SignInRequest)
        context = sessions.get(live.session_id, now=moment)
        decision = evaluate(
            requirement=Requirement(relying_party="owa", policy=policy), context=context, now=moment
        )
        assert isinstance(decision, Satisfied)
        return build_signin_response(
            request=request,
            employee=subject,
            context=decision.context,
            authn_context_class_ref=decision.authn_context_class_ref,
            issuer=settings.issuer,
            lifetime=settings.token_lifetime,
            signer=wsfed.signer_for(rp),
            now=moment,
        )

    return run


HTTP_YAML = """\
base_url: http://localhost:8080
database_url: sqlite:///{dir}/idp.sqlite3
ephemeral_url: memory://
keys:
  signing: {{key: http.key, cert: http.crt}}
pairwise_salt: {{file: salt}}
policies:
  default: {{factors: [passkey]}}
relying_parties_dir: rps
wsfed:
  relying_parties:
    - name: owa
      profile: exchange
      realm: {owa}
      reply_urls: [{owa}]
"""


def http_path(work: Path) -> Callable[[], object] | str:
    """The Flask app with a live session cookie; a reason string if the app cannot start."""
    try:
        from flask_idp.app import create_app
        from idp.config.loader import load_config
        from idp.runtime import build_runtime

        generate_self_signed(work / "http.key", work / "http.crt", common_name="idp")
        (work / "salt").write_text("bench-pairwise-salt-0123456789")
        (work / "rps").mkdir()
        path = work / "idp.yaml"
        path.write_text(HTTP_YAML.format(dir=work, owa=OWA))
        runtime = build_runtime(load_config(path))
        now = runtime.now()
        runtime.employees.add(employee(), now=now)
        live = runtime.sessions.create(
            employee_id="e1",
            now=now,
            factor=FactorUse(FactorKind.PASSKEY, "cred", now, True, ("hwk",)),
        )
        client = create_app(runtime).test_client()
        client.set_cookie(runtime.config.session.cookie_name, live.session_id)
    except Exception as exc:  # the shell is optional for the core figure
        return f"{type(exc).__name__}: {exc}"
    url = "/wsfed?" + urlencode({"wa": "wsignin1.0", "wtrealm": OWA, "wctx": "rm=0&id=passive"})

    def run() -> object:
        response = client.get(url)
        assert response.status_code == 200 and b"wresult" in response.data, response.status
        return response

    return run


def pysaml2_default(work: Path) -> Callable[[], object]:
    generate_self_signed(work / "p2.key", work / "p2.crt", common_name="idp")
    (work / "sp.xml").write_text(SP_METADATA.format(sp=OWA, acs=OWA))
    conf = IdPConfig()
    conf.load(
        {
            "entityid": "https://idp.example.com",
            "key_file": str(work / "p2.key"),
            "cert_file": str(work / "p2.crt"),
            "metadata": {"local": [str(work / "sp.xml")]},
            "service": {
                "idp": {
                    "endpoints": {
                        "single_sign_on_service": [
                            (
                                "https://idp.example.com/saml/login",
                                "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                            )
                        ]
                    },
                    "policy": {"default": {"lifetime": {"minutes": 60}}},
                }
            },
        }
    )
    server = Server(config=conf)
    assert isinstance(server.sec.crypto, CryptoBackendXmlSec1), type(server.sec.crypto)

    def run() -> object:
        return server.create_authn_response(
            {"upn": ["alice@corp.example.com"], "primarysid": [SID]},
            "_req1",
            OWA,
            OWA,
            name_id=NameID(format=NAMEID_FORMAT_UNSPECIFIED, text="alice@corp.example.com"),
            authn={"class_ref": "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"},
            sign_response=False,
            sign_assertion=True,
            sign_alg="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            digest_alg="http://www.w3.org/2001/04/xmlenc#sha256",
        )

    return run


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    work = Path(tempfile.mkdtemp(prefix="bench-wsfed-"))
    core = rate(core_path(work), seconds)
    http = http_path(work)
    http_rate = rate(http, seconds) if callable(http) else None
    baseline = rate(pysaml2_default(work), seconds)
    print(f"idp.wsfed core, live session (SAML 1.1):  {core:8.1f} sign-in responses/s")
    if http_rate is not None:
        print(f"Flask /wsfed, live session (SAML 1.1):    {http_rate:8.1f} sign-in responses/s")
    else:
        print(f"Flask /wsfed: skipped ({http})")
    print(f"pysaml2 default (xmlsec1 subprocess):     {baseline:8.1f} responses/s")
    print(f"ratio core / pysaml2 default:             {core / baseline:8.1f}x")
    if http_rate is not None:
        print(f"ratio Flask / pysaml2 default:            {http_rate / baseline:8.1f}x")


if __name__ == "__main__":
    main()

"""Every sign-in path through HTTP on one worker core, in one table: the figure, the peer's
figure from the same run with the ratio, and the share of this machine's limit.

The IdP runs as `flask_idp.wsgi` under gunicorn, one sync worker pinned to CPU 0, on SQLite and
Redis; the load comes from processes pinned to CPU 1 (stdlib http.client, keep-alive). Paths:

- SAML SP-initiated SSO, HTTP-Redirect and HTTP-POST: a fresh AuthnRequest signed by the
  python3-saml demo SP each time, a live session; the answer is the auto-post form with a
  signed Response carrying a signed Assertion (RSA-2048, SHA-256).
- SAML SLO: an SP-initiated signed LogoutRequest (Redirect) for a session that signed in to
  that SP; the answer is the signed LogoutResponse redirect.
- OIDC token endpoint: code → id_token (RS256) with client_secret_basic and PKCE, once without
  and once with a refresh token (stored in the database); codes come from /oidc/authorize
  beforehand.
- Entra EAM: the whole External Authentication Method round: Entra's POST with a fresh signed
  id_token_hint → login ticket → passkey options + verify → the id_token form for Entra.
- WS-Fed: wsignin1.0 for Exchange OWA with a live session → the signed SAML 1.1 token form.
- passkey sign-in: options + verify + session + audit.

Peers, in the same run: pysaml2's defaults for SAML SSO and SLO (bench/pysaml2_default_idp.py,
the `xmlsec1` program for XML signatures, as SATOSA ships it; same gunicorn set-up); authlib's
default `generate_id_token` with a `JsonWebKey` for OIDC (in process, without HTTP — generous
to the peer); pysaml2's default SAML 1.1-less equivalent for WS-Fed (one signed SAML 2.0
assertion, in process; see bench/wsfed.py). EAM and passkeys have no peer.

Run: .venv/bin/python bench/paths.py [seconds per path]
"""

from __future__ import annotations

import base64
import hashlib
import json
import multiprocessing as mp
import os
import re
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from lxml import etree  # noqa: E402
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request  # noqa: E402
from onelogin.saml2.utils import OneLogin_Saml2_Utils  # noqa: E402

from bench import http_load, limits, oidc_tokens, wsfed  # noqa: E402
from bench.http_load import Request  # noqa: E402
from bench.servers import (  # noqa: E402
    CLIENT_CPU,
    SERVER_CPU,
    FastClient,
    Server,
    authn_requests,
    csrf_of,
    enrol,
    fast_passkey_sign_in,
    free_port,
    python3_saml_sp,
    stop,
    trivial_server,
)
from flask_idp.demo import prepare, seed  # noqa: E402
from idp.config.loader import load_config  # noqa: E402
from idp.factors.kinds import FactorKind, FactorUse  # noqa: E402
from idp.runtime import Runtime, build_runtime  # noqa: E402
from tests.e2e.entra_sim import (  # noqa: E402
    EAM_CLIENT_ID,
    ENTRA_REDIRECT,
    HINT_AUDIENCE,
    TENANT,
    EntraSim,
    serve_jwks,
)
from tests.idp.factors.passkey_fakes import CraftedKey  # noqa: E402

CB = "https://rp.example.com/cb"
SECRET = "bench-client-secret-" + secrets.token_urlsafe(12)
OWA = "https://mail.example.com/owa/"
OID = str(uuid.uuid4())
CLIENTS_YAML = f"""\
clients:
  - client_id: plain
    secret: {{file: client-secret}}
    redirect_uris: [{CB}]
    token_endpoint_auth_method: client_secret_basic
    refresh_tokens: false
  - client_id: refreshing
    secret: {{file: client-secret}}
    redirect_uris: [{CB}]
    token_endpoint_auth_method: client_secret_basic
"""
EXTRA_YAML = """
limits: {{login_attempts_per_minute: 100000000}}
oidc:
  clients_file: clients.yaml
  lifetimes: {{code: 600}}  # the codes are made before the timed part
  eam:
    client_ids: [{eam_client}]
    tenants: [{tenant}]
    hint_audience: {audience}
    max_hint_age: 300
    clouds:
      - name: global
        issuer_prefix: https://login.microsoftonline.com/
        jwks_url: {jwks_url}
        redirect_uri: {entra_redirect}
wsfed:
  relying_parties:
    - name: owa
      profile: exchange
      realm: https://mail.example.com/owa
      reply_urls: [{owa}]
"""


@dataclass(frozen=True)
class Row:
    path: str
    rate: float
    limit: float
    peer: str = ""
    peer_rate: float | None = None

    def line(self) -> str:
        share = f"{100 * self.rate / self.limit:5.0f}%  ({self.limit:7,.0f}/s)"
        if self.peer_rate is None:
            return f"{self.path:<34} {self.rate:9.1f}/s  {'—':<34} {'':>8}  {share}"
        ratio = f"{self.rate / self.peer_rate:7.1f}x"
        peer = f"{self.peer} {self.peer_rate:.1f}/s"
        return f"{self.path:<34} {self.rate:9.1f}/s  {peer:<34} {ratio}  {share}"


@dataclass
class Idp:
    """The IdP under test and what this process prepared for it."""

    base_url: str
    port: int
    runtime: Runtime
    work: Path
    sp_settings: dict[str, Any]
    cookie: str = ""
    key: CraftedKey | None = None

    def header(self, cookie: str | None = None) -> dict[str, str]:
        return {"Cookie": cookie if cookie is not None else self.cookie}


def configure(work: Path, port: int, sp_port: int, jwks_url: str) -> Path:
    config_path = prepare(work, port=port, sp_port=sp_port)
    prefix = f"bench-{secrets.token_hex(4)}:"
    text = config_path.read_text().replace(
        "ephemeral_url: memory://", f"ephemeral_url: 'redis://127.0.0.1:6379/0?prefix={prefix}'"
    )
    text += EXTRA_YAML.format(
        eam_client=EAM_CLIENT_ID, tenant=TENANT, audience=HINT_AUDIENCE, jwks_url=jwks_url,
        entra_redirect=ENTRA_REDIRECT, owa=OWA,
    )  # fmt: skip
    config_path.write_text(text)
    (work / "client-secret").write_text(SECRET)
    (work / "clients.yaml").write_text(CLIENTS_YAML)
    return config_path


# -- SAML ---------------------------------------------------------------------------------
def post_authn_requests(sp_settings: dict[str, Any], count: int, cookie: str) -> list[Request]:
    """Fresh AuthnRequests for the HTTP-POST binding, signed inside the XML by python3-saml."""
    auth = python3_saml_sp(sp_settings)
    settings = auth.get_settings()
    sp = settings.get_sp_data()
    out = []
    for _ in range(count):
        xml = OneLogin_Saml2_Authn_Request(settings).get_xml()
        signed = OneLogin_Saml2_Utils.add_sign(
            xml, sp["privateKey"], sp["x509cert"],
            sign_algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            digest_algorithm="http://www.w3.org/2001/04/xmlenc#sha256",
        )  # fmt: skip
        body = urlencode({"SAMLRequest": base64.b64encode(signed).decode(), "RelayState": "/"})
        out.append(Request("POST", "/saml/login", body.encode(), {
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}))  # fmt: skip
    return out


_SAML_RESPONSE = re.compile(r'name="SAMLResponse" value="([^"]+)"')
_NS = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}


def logout_requests(idp: Idp, count: int) -> list[Request]:
    """``count`` sessions, each signed in to the demo SP (one SSO answer each), and for each
    the SP's signed LogoutRequest naming the NameID and SessionIndex it received."""
    http = requests.Session()
    auth = python3_saml_sp(idp.sp_settings)
    out = []
    for path in authn_requests(idp.sp_settings, count):
        cookie = new_session(idp)
        answer = http.get(idp.base_url + path, headers={"Cookie": cookie}, timeout=10)
        response = etree.fromstring(
            base64.b64decode(_SAML_RESPONSE.search(answer.text).group(1))  # type: ignore[union-attr]
        )
        name_id = response.find(".//saml:Subject/saml:NameID", _NS)
        index = response.find(".//saml:AuthnStatement", _NS).get("SessionIndex")  # type: ignore[union-attr]
        url = auth.logout(return_to="/", name_id=name_id.text, session_index=index,
                          name_id_format=name_id.get("Format"))  # type: ignore[union-attr]  # fmt: skip
        out.append(Request("GET", url[url.index("/saml/logout") :], None, {"Cookie": cookie}))
    return out


def sp_logout_requests(sp_settings: dict[str, Any], count: int) -> list[str]:
    """Signed LogoutRequests for sessions the peer never checks (it keeps none)."""
    auth = python3_saml_sp(sp_settings)
    urls = [auth.logout(return_to="/", name_id="alice@example.com",
                        session_index=secrets.token_hex(8)) for _ in range(count)]  # fmt: skip
    return [u[u.index("/saml/logout") :] for u in urls]


def new_session(idp: Idp) -> str:
    """A signed-in session made directly in the shared store, as a passkey sign-in makes it."""
    runtime = idp.runtime
    employee = runtime.employees.get_by_username("alice")
    assert employee is not None
    now = runtime.now()
    use = FactorUse(kind=FactorKind.PASSKEY, credential_id="bench", at=now,
                    user_verified=True, amr=("hwk", "user", "pin", "mfa"))  # fmt: skip
    context = runtime.sessions.create(employee_id=employee.id, now=now, factor=use)
    return f"{runtime.config.session.cookie_name}={context.session_id}"


# -- OIDC ---------------------------------------------------------------------------------
def token_requests(idp: Idp, client_id: str, count: int) -> list[Request]:
    """``count`` codes from /oidc/authorize (live session), each with its token request."""
    http = requests.Session()
    basic = base64.b64encode(f"{client_id}:{SECRET}".encode()).decode()
    out = []
    for _ in range(count):
        verifier = secrets.token_urlsafe(40)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {"response_type": "code", "client_id": client_id, "redirect_uri": CB,
                 "scope": "openid email", "state": "s", "nonce": secrets.token_urlsafe(8),
                 "code_challenge": challenge.rstrip(b"=").decode(),
                 "code_challenge_method": "S256"}  # fmt: skip
        answer = http.get(idp.base_url + "/oidc/authorize?" + urlencode(query),
                          headers=idp.header(), allow_redirects=False, timeout=10)  # fmt: skip
        code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
        body = urlencode({"grant_type": "authorization_code", "code": code,
                          "redirect_uri": CB, "code_verifier": verifier})  # fmt: skip
        out.append(Request("POST", "/oidc/token", body.encode(), {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded"}))  # fmt: skip
    return out


# -- EAM and passkeys (each round is several dependent requests: one client loop each) ------
def _eam_worker(
    idp_url: str, cookies: dict[str, str], key: CraftedKey, csrf: str, sim: EntraSim,
    seconds: float, out: mp.Queue,  # type: ignore[type-arg]
) -> None:  # fmt: skip
    client = FastClient(idp_url, cookies, csrf)  # pinned as forked: to the load CPU(s)
    form = "application/x-www-form-urlencoded"
    count, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < seconds:
        body = urlencode(sim.request(sim.hint(oid=OID))).encode()
        status, headers, _ = client.send("POST", "/oidc/authorize", body, form)
        assert status == 303, status
        ticket = headers["Location"].split("ticket=", 1)[1]
        done = fast_passkey_sign_in(client, idp_url, key, ticket)
        status, _, page = client.send("GET", done["redirect"], None, "")
        assert status == 200 and b'name="id_token"' in page, page[:300]
        count += 1
    out.put(count / (time.perf_counter() - begin))


def _passkey_worker(
    idp_url: str, cookies: dict[str, str], key: CraftedKey, csrf: str, _sim: EntraSim,
    seconds: float, out: mp.Queue,  # type: ignore[type-arg]
) -> None:  # fmt: skip
    client = FastClient(idp_url, cookies, csrf)  # pinned as forked: to the load CPU(s)
    count, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < seconds:
        fast_passkey_sign_in(client, idp_url, key)
        count += 1
    out.put(count / (time.perf_counter() - begin))


def client_loops(
    idp: Idp, worker: Callable[..., None], sim: EntraSim, seconds: float, workers: int = 3
) -> float:
    """Rounds per second of ``worker`` in ``workers`` processes, each with its own passkey
    (sign counts must only grow per key)."""
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = []
    for _ in range(workers):
        http, key = enrol(idp.base_url, idp.runtime)
        csrf = csrf_of(http.get(idp.base_url + "/login", timeout=10).text)
        procs.append(mp.Process(target=worker, args=(
            idp.base_url, http.cookies.get_dict(), key, csrf, sim, seconds, queue)))  # fmt: skip
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def load(idp: Idp, items: list[str] | list[Request], seconds: float, expect: int = 200) -> float:
    return http_load.run("127.0.0.1", idp.port, items, headers=idp.header(), workers=3,
                         cpus=os.sched_getaffinity(0), seconds=seconds, expect=expect)  # fmt: skip


def measure_ours(idp: Idp, sim: EntraSim, seconds: float, costs: limits.Costs) -> list[Row]:
    n = int(600 * seconds)  # more than one core serves in `seconds`
    rows = [
        Row("SAML SSO, HTTP-Redirect", load(idp, authn_requests(idp.sp_settings, n), seconds),
            costs.limit(requests=1, rsa_sign=2, rsa_verify=1)),
        Row("SAML SSO, HTTP-POST",
            load(idp, post_authn_requests(idp.sp_settings, n, idp.cookie), seconds),
            costs.limit(requests=1, rsa_sign=2, rsa_verify=1)),
        Row("SAML SLO, Redirect", load(idp, logout_requests(idp, n // 2), seconds, expect=303),
            costs.limit(requests=1, rsa_sign=1, rsa_verify=1)),
        Row("OIDC code → id_token", load(idp, token_requests(idp, "plain", n), seconds),
            costs.limit(requests=1, rsa_sign=1)),
        Row("OIDC code → id_token + refresh",
            load(idp, token_requests(idp, "refreshing", n), seconds),
            costs.limit(requests=1, rsa_sign=1)),
        Row("Entra EAM round (4 requests)", client_loops(idp, _eam_worker, sim, seconds),
            costs.limit(requests=4, rsa_verify=1, es256_verify=1, rsa_sign=1)),
        Row("WS-Fed wsignin1.0 (SAML 1.1)", load(idp, [wsfed_path()] * n, seconds),
            costs.limit(requests=1, rsa_sign=1)),
        Row("passkey sign-in (2 requests)", client_loops(idp, _passkey_worker, sim, seconds),
            costs.limit(requests=2, es256_verify=1)),
    ]  # fmt: skip
    return rows


def wsfed_path() -> str:
    return "/wsfed?" + urlencode({"wa": "wsignin1.0", "wtrealm": "https://mail.example.com/owa",
                                  "wreply": OWA, "wctx": "rm=0&id=bench"})  # fmt: skip


def measure_peers(idp: Idp, seconds: float) -> dict[str, tuple[str, float]]:
    """The peers' figures, same run: pysaml2 defaults through the same gunicorn set-up."""
    session = secrets.token_urlsafe(16)
    port = free_port()
    work = idp.work
    env = {"BENCH_BASE_URL": idp.base_url, "BENCH_KEY": str(work / "keys/idp-signing.key"),
           "BENCH_CERT": str(work / "keys/idp-signing.crt"),
           "BENCH_SP_METADATA": str(work / "relying_parties/demo-sp-metadata.xml"),
           "BENCH_SESSION": session}  # fmt: skip
    cookie = f"hideez_idp_session={session}"
    peer = replace(idp, port=port, cookie=cookie)
    with Server(port, "bench.pysaml2_default_idp:from_env()", **env):
        n = int(60 * seconds)
        redirect = load(peer, authn_requests(idp.sp_settings, n), seconds)
        post = load(peer, post_authn_requests(idp.sp_settings, n, cookie), seconds)
        slo = load(peer, sp_logout_requests(idp.sp_settings, n), seconds, expect=303)
    pem = (work / "keys/idp-signing.key").read_bytes()
    authlib = oidc_tokens.authlib_default(pem, "RS256", seconds)
    return {
        "SAML SSO, HTTP-Redirect": ("pysaml2 default", redirect),
        "SAML SSO, HTTP-POST": ("pysaml2 default", post),
        "SAML SLO, Redirect": ("pysaml2 default", slo),
        "OIDC code → id_token": ("authlib default*", authlib),
        "OIDC code → id_token + refresh": ("authlib default*", authlib),
        "WS-Fed wsignin1.0 (SAML 1.1)": (
            "pysaml2 default*", wsfed.rate(wsfed.pysaml2_default(work), seconds)),
    }  # fmt: skip


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    os.sched_setaffinity(0, CLIENT_CPU)
    work = Path(tempfile.mkdtemp(prefix="bench-paths-"))
    port, sp_port = free_port(), free_port()
    sim = EntraSim()
    with serve_jwks(sim) as jwks_url:
        config_path = configure(work, port, sp_port, jwks_url)
        runtime = build_runtime(load_config(config_path))
        seed(runtime)
        alice = runtime.employees.get_by_username("alice")
        assert alice is not None
        runtime.employees.update(replace(alice, entra_object_id=OID, entra_tenant_id=TENANT))
        idp = Idp(f"http://localhost:{port}", port, runtime, work,
                  json.loads((work / "sp/settings.json").read_text()))  # fmt: skip
        with Server(port, "flask_idp.wsgi:create()", HIDEEZ_IDP_CONFIG=str(config_path)):
            http, idp.key = enrol(idp.base_url, runtime)
            idp.cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.get_dict().items())
            costs = limits.measure(
                key_path=work / "keys/idp-signing.key", start_server=trivial_server,
                stop_server=stop, port=free_port(), server_cpus=SERVER_CPU,
                client_cpus=CLIENT_CPU, seconds=seconds,
            )  # fmt: skip
            rows = measure_ours(idp, sim, seconds, costs)
        peers = measure_peers(idp, seconds)
    rows = [replace(r, peer=peers[r.path][0], peer_rate=peers[r.path][1]) if r.path in peers
            else r for r in rows]  # fmt: skip
    print(f"this machine: trivial Flask request {1 / costs.request:,.0f}/s, RSA-2048 sign "
          f"{1 / costs.operations['rsa_sign']:,.0f}/s, RSA verify "
          f"{1 / costs.operations['rsa_verify']:,.0f}/s, ES256 verify "
          f"{1 / costs.operations['es256_verify']:,.0f}/s (server CPU)")  # fmt: skip
    print(f"{'path (through HTTP, one worker core)':<34} {'figure':>11}  {'peer, same run':<34} "
          f"{'ratio':>8}  of limit (limit)")  # fmt: skip
    for row in rows:
        print(row.line())
    print("* in process, without HTTP (generous to the peer)")


if __name__ == "__main__":
    main()

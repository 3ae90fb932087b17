"""SAML → SAML logins per second through SATOSA with the MFA micro-service, one core.

The set-up of tests/e2e/satosa (SATOSA's own app, its SAML frontend and backend, our MFA
micro-service, a pysaml2 upstream IdP; PostgreSQL + Redis). A passkey assertion made here
(the project's CraftedKey, user-verified) signs the browser in once through the MFA pages;
after that its session satisfies the MFA step, as it does for a user signing in to a second
SP. Each login is then a fresh AuthnRequest from the SP (python3-saml) answered by SATOSA in
three requests — SSO (→ upstream), the upstream's signed Response at the ACS (verified; MFA
step passed by the session → resume), resume (the signed Response + Assertion for the SP).

Three SATOSA apps on the same configuration, in the same run:
  1. the plugin pack: its SAML frontend/backend (satosa_plugins.saml: in-process
     python-xmlsec, keys loaded once) on its entry point (satosa_plugins.wsgi: SATOSA's app
     with the state cookie compressed at a cheap preset); also its modules on the stock app;
  2. SATOSA's default pysaml2 set-up (satosa.frontends.saml2 / satosa.backends.saml2: the
     xmlsec1 program for every signature and every verification).
The figure is logins per second of time spent inside SATOSA (the SP and the upstream IdP are
the test's peers; their time is not counted). The limit counts SATOSA's three requests at the
cost of one trivial SATOSA request (a static file: routing, state cookie in and out) plus the
two RSA signatures it must make and the two it must verify.
Run: .venv/bin/python bench/satosa_mfa.py [seconds]
"""

from __future__ import annotations

import copy
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from onelogin.saml2.auth import OneLogin_Saml2_Auth  # noqa: E402

from bench import limits  # noqa: E402
from tests.e2e.satosa.client import SatosaClient, class_ref  # noqa: E402
from tests.e2e.satosa.proxy import PPT, REFEDS_MFA, Proxy, form_of, make_satosa, run_proxy  # noqa: E402
from tests.e2e.server import POSTGRES_REDIS  # noqa: E402

CPU = {0}


class Browser:
    """Calls a WSGI app in process, keeping cookies as a browser on one host would."""

    def __init__(self, cookies: dict[str, str]) -> None:
        self.cookies = dict(cookies)
        self.spent = 0.0

    def call(self, app: Any, method: str, url: str, form: dict[str, str] | None = None) -> Any:
        parts = urlsplit(url)
        body = urlencode(form).encode() if form else b""
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": str(parts.port or 80),
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": parts.netloc,
            "HTTP_COOKIE": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        seen: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> None:
            seen["status"], seen["headers"] = status, headers

        begin = time.perf_counter()
        chunks = b"".join(app(environ, start_response))
        self.spent += time.perf_counter() - begin
        for name, value in seen["headers"]:
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                if "max-age=0" in rest.lower().replace(" ", ""):
                    self.cookies.pop(key, None)  # deleted (SATOSA ends its state this way)
                else:
                    self.cookies[key] = rest.split(";", 1)[0]
        headers = {k.lower(): v for k, v in seen["headers"]}
        return int(seen["status"].split()[0]), headers, chunks.decode()


def login(proxy: Proxy, app: Any, browser: Browser) -> str:
    """One SP-initiated login; SATOSA's answer page for the SP."""
    sp_request = {"https": "off", "http_host": "localhost", "server_port": 0,
                  "script_name": "/login", "get_data": {}, "post_data": {}}  # fmt: skip
    sso = OneLogin_Saml2_Auth(sp_request, old_settings=proxy.sp).login(return_to="/")
    peer = Browser({})
    status, headers, _ = browser.call(app, "GET", sso)
    assert status == 303, status
    _, _, upstream_page = peer.call(proxy.upstream, "GET", headers["location"])
    action, fields = form_of(upstream_page)
    status, headers, page = browser.call(app, "POST", action, fields)
    assert status == 303 and "/hideez/mfa/resume" in headers["location"], (status, page[:300])
    status, _, answer = browser.call(app, "GET", proxy.url(headers["location"]))
    assert status == 200, answer[:300]
    return answer


def run(proxy: Proxy, app: Any, cookies: dict[str, str], seconds: float) -> float:
    os.sched_setaffinity(0, CPU)
    browser = Browser(cookies)
    login(proxy, app, browser)  # warm up (metadata, first key use)
    browser.spent, count = 0.0, 0
    begin = time.perf_counter()
    while time.perf_counter() - begin < seconds:
        login(proxy, app, browser)
        count += 1
    return count / browser.spent


def trivial(app: Any, proxy: Proxy, cookies: dict[str, str]) -> float:
    browser = Browser(cookies)
    for _ in range(200):
        browser.call(app, "GET", proxy.url("/hideez/static/style.css"))
    return browser.spent / 200


def main(seconds: float) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        run_proxy(Path(tmp), storage=POSTGRES_REDIS) as proxy,
    ):
        proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT
        # The upstream answers from one sign-in (SSO there), before our factor.
        proxy.upstream.authn_instant = int(time.time()) - 5
        client = SatosaClient(proxy)
        client.enrol("alice")
        answer = client.sign_in()  # the passkey assertion, through the MFA pages
        assert class_ref(answer) == REFEDS_MFA
        cookies = {c.name: c.value for c in client.http.cookies if c.value}
        plugin_app = make_satosa(proxy.config)
        default_config = copy.deepcopy(proxy.config)
        default_config["FRONTEND_MODULES"][0]["module"] = "satosa.frontends.saml2.SAMLFrontend"
        default_config["BACKEND_MODULES"][0]["module"] = "satosa.backends.saml2.SAMLBackend"
        default_app = make_satosa(default_config, stock=True)
        # what the in-process signing alone changes: the pack's modules on SATOSA's stock app
        signing_only_app = make_satosa(proxy.config, stock=True)
        for app in (plugin_app, default_app, signing_only_app):
            assert class_ref(login(proxy, app, Browser(cookies))) == REFEDS_MFA
        plugin = run(proxy, plugin_app, cookies, seconds)
        default = run(proxy, default_app, cookies, seconds)
        signing_only = run(proxy, signing_only_app, cookies, seconds)
        request = trivial(plugin_app, proxy, cookies)
        stock_request = trivial(default_app, proxy, cookies)
        key = Path(proxy.config["FRONTEND_MODULES"][0]["config"]["idp_config"]["key_file"])
        ops = {n: limits.time_per_call(op, cpus=CPU) for n, op in
               limits.crypto_operations(key.read_bytes()).items()}  # fmt: skip
        limit = limits.Costs(request=request, operations=ops).limit(
            requests=3, rsa_sign=2, rsa_verify=2
        )
    print("SAML→SAML logins through SATOSA with the MFA micro-service (session-satisfied)")
    share = limits.of_limit(plugin, limit)
    print(f"plugin pack (in-process signing, cheap state): {plugin:8.1f} logins/s  {share}")
    print(f"  its modules on SATOSA's stock app:           {signing_only:8.1f} logins/s")
    print(f"SATOSA default (xmlsec1 program):              {default:8.1f} logins/s")
    print(f"ratio plugin pack / SATOSA default:            {plugin / default:8.1f}x  (goal ≥ 5x)")
    print(f"ratio in-process signing alone:                {signing_only / default:8.1f}x")
    print(
        f"one trivial request: pack {1000 * request:.1f} ms, "
        f"stock SATOSA {1000 * stock_request:.1f} ms"
        " (routing + state cookie; 3 per login)"
    )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 5.0)

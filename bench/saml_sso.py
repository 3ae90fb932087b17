"""Complete SP-initiated SAML SSO answers per second through the HTTP endpoint, one core.

Both servers run as one gunicorn sync worker pinned to CPU 0 (one worker per core, as
docs/operations.md advises); the load comes from other processes pinned to CPU 1. Each
request is a fresh AuthnRequest signed by the python3-saml demo SP (HTTP-Redirect), sent
with a live IdP session cookie; each answer is the auto-post form with a signed Response
carrying a signed Assertion (RSA-2048, SHA-256).

  1. hideez-idp (`flask_idp.wsgi`, in-process signing, keys loaded once), which also
     verifies the request signature, checks the replay cache and evaluates the policy;
  2. the same answer from pysaml2's defaults (bench/pysaml2_default_idp.py: pysaml2 Server with
     the xmlsec1 program), which skips the request signature check.

Then passkey sign-ins per second (options + verify + session) through /passkey/login/*.
Run: .venv/bin/python bench/saml_sso.py [seconds]
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
from onelogin.saml2.auth import OneLogin_Saml2_Auth  # noqa: E402

from bench import http_load, limits  # noqa: E402
from flask_idp.commands import enrolment_link  # noqa: E402
from flask_idp.demo import prepare, seed  # noqa: E402
from idp.config.loader import load_config  # noqa: E402
from idp.runtime import build_runtime  # noqa: E402
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u  # noqa: E402

SERVER_CPU, CLIENT_CPU = {0}, {1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


def gunicorn(port: int, app: str, **env: str) -> list[str]:
    """Both servers run the same way: gunicorn, one sync worker (the production advice)."""
    settings = [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]
    return [str(Path(sys.executable).with_name("gunicorn")), "-w", "1", "-b",
            f"127.0.0.1:{port}", "--chdir", str(ROOT), *settings, app]  # fmt: skip


def start(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd,
        preexec_fn=lambda: os.sched_setaffinity(0, SERVER_CPU),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def authn_requests(sp_settings: dict[str, Any], count: int) -> list[str]:
    """``count`` fresh signed Redirect AuthnRequests from the python3-saml SP (path + query)."""
    acs = urlsplit(sp_settings["sp"]["assertionConsumerService"]["url"])
    req = {
        "https": "off",
        "http_host": acs.hostname,
        "server_port": acs.port,
        "script_name": "/login",
        "get_data": {},
        "post_data": {},
    }
    auth = OneLogin_Saml2_Auth(req, old_settings=sp_settings)
    urls = [auth.login(return_to="/") for _ in range(count)]
    return [u[u.index("/saml/login") :] for u in urls]


class _Server:
    def __init__(self, base_url: str, runtime: Any) -> None:
        self.base_url, self.runtime = base_url, runtime

    def url(self, path: str) -> str:
        return self.base_url + path


def enrol(base_url: str, runtime: Any) -> tuple[requests.Session, CraftedKey]:
    """Register a passkey over HTTP with a software authenticator; returns the signed-in
    browser stand-in and its key."""
    http = requests.Session()
    link = enrolment_link(runtime, "alice")
    token = link.rsplit("/", 1)[1]
    page = http.get(link, timeout=10).text
    csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    headers = {"X-CSRF-Token": csrf}
    options = http.post(
        base_url + "/passkey/register/options", json={"token": token}, headers=headers, timeout=10
    ).json()
    employee = runtime.employees.get_by_username("alice")
    key = CraftedKey(user_handle=employee.id.encode(), rp_id="localhost")
    credential = key.register(
        unb64u(options["publicKey"]["challenge"]), flags=UP | UV, origin=base_url
    )
    done = http.post(
        base_url + "/passkey/register/verify",
        headers=headers,
        timeout=10,
        json={"token": token, "handle": options["handle"], "credential": json.loads(credential)},
    )
    assert done.status_code == 200, done.text
    return http, key


def _passkey_worker(
    base_url: str,
    cookies: dict[str, str],
    key: CraftedKey,
    csrf: str,
    seconds: float,
    out: mp.Queue,
) -> None:  # type: ignore[type-arg]
    os.sched_setaffinity(0, CLIENT_CPU)
    http = requests.Session()
    http.cookies.update(cookies)
    headers = {"X-CSRF-Token": csrf}
    count, begin = 0, time.perf_counter()
    while time.perf_counter() - begin < seconds:
        options = http.post(
            base_url + "/passkey/login/options", json={}, headers=headers, timeout=10
        ).json()
        assertion = key.assert_(
            unb64u(options["publicKey"]["challenge"]), flags=UP | UV, origin=base_url
        )
        r = http.post(
            base_url + "/passkey/login/verify",
            headers=headers,
            timeout=10,
            json={"handle": options["handle"], "credential": json.loads(assertion)},
        )
        assert r.status_code == 200, r.text
        count += 1
    out.put(count / (time.perf_counter() - begin))


def passkey_rate(base_url: str, runtime: Any, seconds: float, workers: int = 3) -> float:
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = []
    for _ in range(workers):  # one key per worker: sign counts must only grow per key
        http, key = enrol(base_url, runtime)
        page = http.get(base_url + "/login", timeout=10).text
        csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        procs.append(
            mp.Process(
                target=_passkey_worker,
                args=(base_url, http.cookies.get_dict(), key, csrf, seconds, queue),
            )
        )
    for p in procs:
        p.start()
    rates = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(rates)


def _trivial_server(port: int) -> subprocess.Popen[bytes]:
    server = start(gunicorn(port, "bench.trivial_app:create()"))
    wait_for(port)
    return server


def _stop(server: object) -> None:
    assert isinstance(server, subprocess.Popen)
    server.terminate()
    server.wait()


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    os.sched_setaffinity(0, CLIENT_CPU)
    work = Path(tempfile.mkdtemp(prefix="bench-saml-"))
    port, sp_port = free_port(), free_port()
    config_path = prepare(work, port=port, sp_port=sp_port)
    with config_path.open("a") as f:
        f.write("limits: {login_attempts_per_minute: 100000000}\n")
    runtime = build_runtime(load_config(config_path))
    seed(runtime)
    base_url = f"http://localhost:{port}"
    sp_settings = json.loads((work / "sp/settings.json").read_text())

    ours = start(gunicorn(port, "flask_idp.wsgi:create()", HIDEEZ_IDP_CONFIG=str(config_path)))
    try:
        wait_for(port)
        http, _ = enrol(base_url, runtime)
        cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.get_dict().items())
        paths = authn_requests(sp_settings, int(900 * seconds))
        ours_rate = http_load.run(
            "127.0.0.1",
            port,
            paths,
            headers={"Cookie": cookie},
            workers=3,
            cpus=CLIENT_CPU,
            seconds=seconds,
        )
        passkeys = passkey_rate(base_url, runtime, seconds)
    finally:
        ours.terminate()
        ours.wait()

    session = secrets.token_urlsafe(16)
    base_port = free_port()
    baseline = start(
        gunicorn(
            base_port,
            "bench.pysaml2_default_idp:from_env()",
            BENCH_BASE_URL=base_url,
            BENCH_KEY=str(work / "keys/idp-signing.key"),
            BENCH_CERT=str(work / "keys/idp-signing.crt"),
            BENCH_SP_METADATA=str(work / "relying_parties/demo-sp-metadata.xml"),
            BENCH_SESSION=session,
        )
    )
    try:
        wait_for(base_port)
        paths = authn_requests(sp_settings, int(60 * seconds))
        base_rate = http_load.run(
            "127.0.0.1",
            base_port,
            paths,
            headers={"Cookie": f"hideez_idp_session={session}"},
            workers=3,
            cpus=CLIENT_CPU,
            seconds=seconds,
        )
    finally:
        baseline.terminate()
        baseline.wait()

    trivial_port = free_port()
    costs = limits.measure(
        key_path=work / "keys/idp-signing.key",
        start_server=_trivial_server,
        stop_server=_stop,
        port=trivial_port,
        server_cpus=SERVER_CPU,
        client_cpus=CLIENT_CPU,
        seconds=seconds,
    )
    # One request; the Response and the Assertion signed, the request's signature verified.
    saml_limit = costs.limit(requests=1, rsa_sign=2, rsa_verify=1)
    # Two requests (options, verify); one WebAuthn (ES256) signature verified.
    passkey_limit = costs.limit(requests=2, es256_verify=1)
    print(
        f"this machine: trivial Flask request {1 / costs.request:7.0f}/s, RSA-2048 sign "
        f"{1 / costs.operations['rsa_sign']:6.0f}/s, ES256 verify "
        f"{1 / costs.operations['es256_verify']:6.0f}/s (server CPU)"
    )
    print("SP-initiated SSO through HTTP, server on one core (signed Response + Assertion):")
    print(
        f"  hideez-idp (in-process signing)       {ours_rate:8.1f} responses/s   "
        f"{limits.of_limit(ours_rate, saml_limit)}"
    )
    print(f"  pysaml2 default (xmlsec1 program)     {base_rate:8.1f} responses/s")
    print(f"  ratio                                 {ours_rate / base_rate:8.1f}x  (goal >= 20x)")
    print(
        f"passkey sign-ins (options+verify+session) {passkeys:8.1f} /s   "
        f"{limits.of_limit(passkeys, passkey_limit)}"
    )


if __name__ == "__main__":
    main()

"""Servers and browser stand-ins the HTTP benchmarks share.

Every server runs the same way: gunicorn with sync workers pinned to the server CPU(s) (one
worker per core, as docs/operations.md advises); the load comes from processes pinned to the
other CPU. The IdP runs from a demo-style directory (bench/paths.py adds OIDC, EAM and WS-Fed
to it) on Redis, so that this process can prepare state — sessions — the server then uses.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from onelogin.saml2.auth import OneLogin_Saml2_Auth

from flask_idp.commands import enrolment_link
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u

ROOT = Path(__file__).resolve().parent.parent
SERVER_CPU, CLIENT_CPU = {0}, {1}
CSRF_MARK = 'name="csrf-token" content="'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(port: int) -> None:
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} did not start")


def gunicorn(port: int, app: str, *, workers: int = 1, **env: str) -> list[str]:
    settings = [arg for name, value in env.items() for arg in ("--env", f"{name}={value}")]
    return [str(Path(sys.executable).with_name("gunicorn")), "-w", str(workers), "-b",
            f"127.0.0.1:{port}", "--chdir", str(ROOT), *settings, app]  # fmt: skip


class Server:
    """A gunicorn server pinned to ``cpus``; a context manager that waits for its port."""

    def __init__(self, port: int, app: str, *, cpus: set[int] = SERVER_CPU, **kw: Any) -> None:
        self.port, self._cmd, self._cpus = port, gunicorn(port, app, **kw), cpus
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        cpus = self._cpus
        self._proc = subprocess.Popen(
            self._cmd,
            preexec_fn=lambda: os.sched_setaffinity(0, cpus),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.port)
        # The master listens before its worker has built the app (keys, migrations, argon2
        # costs): the first answer, whatever its status, says the worker is ready.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._proc is not None
        self._proc.terminate()
        self._proc.wait()


def trivial_server(port: int) -> Server:
    return Server(port, "bench.trivial_app:create()").__enter__()


def stop(server: object) -> None:
    assert isinstance(server, Server)
    server.__exit__()


def python3_saml_sp(sp_settings: dict[str, Any]) -> OneLogin_Saml2_Auth:
    acs = urlsplit(sp_settings["sp"]["assertionConsumerService"]["url"])
    req = {"https": "off", "http_host": acs.hostname, "server_port": acs.port,
           "script_name": "/login", "get_data": {}, "post_data": {}}  # fmt: skip
    return OneLogin_Saml2_Auth(req, old_settings=sp_settings)


def authn_requests(sp_settings: dict[str, Any], count: int) -> list[str]:
    """``count`` fresh signed Redirect AuthnRequests from the python3-saml SP (path + query)."""
    auth = python3_saml_sp(sp_settings)
    urls = [auth.login(return_to="/") for _ in range(count)]
    return [u[u.index("/saml/login") :] for u in urls]


def csrf_of(page: str) -> str:
    return page.split(CSRF_MARK, 1)[1].split('"', 1)[0]


def enrol(
    base_url: str, runtime: Any, username: str = "alice"
) -> tuple[requests.Session, CraftedKey]:
    """Register a passkey over HTTP with a software authenticator (UV set); returns the
    signed-in browser stand-in and its key."""
    http = requests.Session()
    link = enrolment_link(runtime, username)
    token = link.rsplit("/", 1)[1]
    headers = {"X-CSRF-Token": csrf_of(http.get(link, timeout=10).text)}
    options = http.post(
        base_url + "/passkey/register/options", json={"token": token}, headers=headers, timeout=10
    ).json()
    employee = runtime.employees.get_by_username(username)
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


class FastClient:
    """A browser stand-in for load loops: one keep-alive http.client connection and a fixed
    cookie header (the flow cookie the CSRF token and challenges are bound to). requests costs
    ~1 ms of client CPU per request, which would make the load generator the bottleneck."""

    def __init__(self, base_url: str, cookies: dict[str, str], csrf: str) -> None:
        parts = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(
            parts.hostname or "localhost", parts.port, timeout=30
        )
        self.headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                        "X-CSRF-Token": csrf}  # fmt: skip

    def send(
        self, method: str, path: str, body: bytes | None, content_type: str
    ) -> tuple[int, dict[str, str], bytes]:
        headers = (
            {**self.headers, "Content-Type": content_type} if body is not None else self.headers
        )
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()

    def post_json(self, path: str, body: dict[str, Any]) -> Any:
        status, _, data = self.send("POST", path, json.dumps(body).encode(), "application/json")
        assert status == 200, data[:300]
        return json.loads(data)


def fast_passkey_sign_in(
    client: FastClient, origin: str, key: CraftedKey, ticket: str = ""
) -> dict[str, Any]:
    """One passkey sign-in (options + verify), optionally for a login ticket."""
    body = {"ticket": ticket} if ticket else {}
    options = client.post_json("/passkey/login/options", body)
    assertion = key.assert_(unb64u(options["publicKey"]["challenge"]), flags=UP | UV, origin=origin)
    result: dict[str, Any] = client.post_json("/passkey/login/verify", {
        **body, "handle": options["handle"], "credential": json.loads(assertion)})  # fmt: skip
    return result

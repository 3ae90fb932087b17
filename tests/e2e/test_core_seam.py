"""The core flow drives whole sign-ins through a shell that is not Flask (issue 7, item 1).

The minimal WSGI shell in ``minimal_shell.py`` serves the same runtime as the Flask IdP; the
peers are the ones the Flask tests use — the python3-saml demo SP (strict) and the simulated
Entra ID — so what the core answers through either shell is checked by someone else's code.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests

from tests.e2e.entra_sim import ENTRA_REDIRECT, TENANT, EntraSim, oidc_idp, parse_autopost
from tests.e2e.helpers import PasskeyClient, autopost_fields
from tests.e2e.minimal_shell import MinimalShell
from tests.e2e.server import RunningServer
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u

pytestmark = pytest.mark.e2e


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve_shell(server: RunningServer) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, MinimalShell(server.runtime), handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)  # fmt: skip
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        thread.join(timeout=5)


def sign_in_through(shell: str, http: requests.Session, login: requests.Response,
                    key: CraftedKey, origin: str) -> requests.Response:  # fmt: skip
    """Follow the shell's redirect to the sign-in page the way a page's script would."""
    assert login.status_code == 303, login.text
    ticket = login.headers["Location"].split("ticket=", 1)[1]
    options = http.post(f"{shell}/passkey/login/options", json={"ticket": ticket}, timeout=10)
    assert options.status_code == 200, options.text
    body = options.json()
    challenge = unb64u(body["publicKey"]["challenge"])
    assertion = key.assert_(challenge, flags=UP | UV, origin=origin)
    verify = {"ticket": ticket, "handle": body["handle"], "credential": json.loads(assertion)}
    done = http.post(f"{shell}/passkey/login/verify", timeout=10, json=verify)
    assert done.status_code == 200, done.text
    assert "sid" in http.cookies, "the core's session reached the shell's cookie"
    return http.get(shell + done.json()["redirect"], allow_redirects=False, timeout=10)


def test_saml_sp_initiated_sign_in_through_a_plain_wsgi_shell(
    idp_server: RunningServer,
) -> None:
    enrolled = PasskeyClient(idp_server)  # registration through the Flask IdP ...
    enrolled.enrol("alice")
    assert enrolled.key is not None
    browser = requests.Session()  # ... the sign-in through the other shell, no Flask session
    with serve_shell(idp_server) as shell:
        start = browser.get(idp_server.sp_url + "/login", allow_redirects=False, timeout=10)
        request_url = start.headers["Location"].replace(idp_server.base_url, shell)
        first = browser.get(request_url, allow_redirects=False, timeout=10)
        answer = sign_in_through(shell, browser, first, enrolled.key, idp_server.base_url)
        action, fields = autopost_fields(answer.text)
        assert action == idp_server.sp_url + "/acs" and "SAMLResponse" in fields
        consumed = browser.post(action, data=fields, allow_redirects=False, timeout=10)
        assert consumed.status_code == 302, consumed.text  # python3-saml (strict) accepted it
        page = browser.get(idp_server.sp_url + "/", timeout=10).text
        assert "alice" in page
        # The same parked request cannot be answered twice, whichever shell is asked.
        replay = browser.get(answer.url, allow_redirects=False, timeout=10)
        assert "SAMLResponse" not in replay.text


@pytest.fixture(scope="module")
def eam_idp(
    tmp_path_factory: pytest.TempPathFactory, storage: str
) -> Iterator[tuple[RunningServer, EntraSim]]:
    with oidc_idp(tmp_path_factory.mktemp("seam-eam"), storage=storage) as pair:
        yield pair


def test_entra_eam_sign_in_through_a_plain_wsgi_shell(
    eam_idp: tuple[RunningServer, EntraSim],
) -> None:
    server, sim = eam_idp
    oid = str(uuid.uuid4())
    alice = server.employee("alice")
    server.runtime.employees.update(
        dataclasses.replace(alice, entra_object_id=oid, entra_tenant_id=TENANT)
    )
    server.runtime.directory.invalidate()
    enrolled = PasskeyClient(server)
    enrolled.enrol("alice")
    assert enrolled.key is not None
    browser = requests.Session()
    request = sim.request(sim.hint(oid=oid))
    with serve_shell(server) as shell:
        first = browser.post(f"{shell}/oidc/authorize", data=request, allow_redirects=False,
                             timeout=10)  # fmt: skip
        answer = sign_in_through(shell, browser, first, enrolled.key, server.base_url)
    action, fields = parse_autopost(answer.text)
    assert action == ENTRA_REDIRECT
    claims = sim.check_answer(server, fields, request=request, hint_sub="pairwise-" + oid[:8])
    assert claims["amr"] == ["fido"] and claims["acr"] == "possessionorinherence"

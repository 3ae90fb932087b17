"""TOTP end to end: set up through the enrolment link, codes made by Debian's ``oathtool``
(not our code), one use per code, lockout and its end, and the same rules across two IdP
instances on one database and one Redis."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
import requests

from idp.audit import AuditKind
from tests.e2e.authenticator.helpers import Browserless, new_person
from tests.e2e.saml_peer import status_of
from tests.e2e.server import POSTGRES_REDIS, RunningServer, second_instance

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(code_server: RunningServer) -> RunningServer:
    return code_server


def oathtool(secret: str, at: dt.datetime, *extra: str) -> str:
    moment = f"@{int(at.timestamp())}"
    done = subprocess.run(["oathtool", "--totp", "-b", *extra, "-N", moment, secret],
                          check=True, capture_output=True, text=True)  # fmt: skip
    return done.stdout.strip()


def set_up_totp(server: RunningServer, username: str) -> str:
    """Through the enrolment link page's endpoints; returns the secret the page showed."""
    client = Browserless(server)
    token = server.enrolment_link(username).rsplit("/", 1)[1]
    page = f"/enrol/{token}"
    started = client.post("/totp/enrol/start", {"token": token}, page=page)
    assert started.status_code == 200, started.text
    shown = started.json()
    secret: str = shown["secret"]
    assert len(secret) == 32 and shown["uri"].startswith("otpauth://totp/")
    assert "algorithm=SHA1&digits=6&period=30" in shown["uri"]
    code = oathtool(secret, server.runtime.now())
    confirmed = client.post("/totp/enrol/confirm", {"token": token, "code": code}, page=page)
    assert confirmed.status_code == 200, confirmed.text
    return secret


def ticket_of(client: Browserless, base: str, server: RunningServer) -> str:
    start = client.http.get(server.sp_url + "/login", allow_redirects=False, timeout=10)
    location = start.headers["Location"].replace(server.base_url, base)
    first = client.http.get(location, allow_redirects=False, timeout=10)
    assert first.status_code == 303, first.text
    return first.headers["Location"].split("ticket=", 1)[1]


def submit(client: Browserless, base: str, ticket: str, username: str, code: str
           ) -> requests.Response:  # fmt: skip
    csrf = client.csrf(f"/login?ticket={ticket}")
    return client.http.post(
        f"{base}/totp/login/verify", json={"ticket": ticket, "username": username, "code": code},
        headers={"X-CSRF-Token": csrf}, timeout=10,
    )  # fmt: skip


def test_oathtool_code_signs_in_once_and_never_twice(server: RunningServer) -> None:
    alice = new_person(server)
    secret = set_up_totp(server, alice)
    client = Browserless(server)
    ticket = ticket_of(client, server.base_url, server)
    # The set-up spent the current step: the next step's code (accepted at +1) signs in.
    code = oathtool(secret, server.runtime.now() + dt.timedelta(seconds=30))
    done = submit(client, server.base_url, ticket, alice, code)
    assert done.status_code == 200, done.text
    answer = client.http.get(server.url(done.json()["redirect"]), timeout=10)
    assert status_of(answer.text).endswith("Success")
    context = server.runtime.sessions.get(client.http.cookies["hideez_idp_session"],
                                          now=server.runtime.now())  # fmt: skip
    assert context is not None and context.amr == ("otp",)

    other = Browserless(server)
    again = submit(other, server.base_url, ticket_of(other, server.base_url, server), alice, code)
    assert again.status_code == 401 and again.json()["error"] == "totp_reused"
    failures = server.runtime.audit.list(kind=AuditKind.LOGIN_FAILURE, limit=20).items
    assert any("totp_reused" in (e.reason or "") and e.employee_id == server.employee(alice).id
               for e in failures)  # fmt: skip


def test_five_wrong_codes_lock_until_the_window_ends(server: RunningServer) -> None:
    bob = new_person(server)
    secret = set_up_totp(server, bob)
    client = Browserless(server)
    ticket = ticket_of(client, server.base_url, server)
    rt = server.runtime
    statuses = [submit(client, server.base_url, ticket, bob, "000000").status_code
                for _ in range(5)]  # fmt: skip
    assert statuses == [401, 401, 401, 401, 429]
    right = oathtool(secret, rt.now() + dt.timedelta(seconds=30))
    locked = submit(client, server.base_url, ticket, bob, right)
    assert locked.status_code == 429 and locked.json()["error"] == "totp_locked"
    assert locked.headers["Retry-After"] == "300"
    real = rt.clock
    rt.clock = lambda: real() + dt.timedelta(minutes=5)
    try:
        right = oathtool(secret, rt.now() + dt.timedelta(seconds=30))
        after = submit(client, server.base_url, ticket, bob, right)
        assert after.status_code == 200, after.text
    finally:
        rt.clock = real


def test_malformed_and_oversized_codes_are_clear_errors(server: RunningServer) -> None:
    client = Browserless(server)
    ticket = ticket_of(client, server.base_url, server)
    alice = new_person(server)
    set_up_totp(server, alice)
    long = submit(client, server.base_url, ticket, alice, "1" * 500)
    assert long.status_code == 400 and "longer than" in long.json()["error_description"]
    letters = submit(client, server.base_url, ticket, alice, "abcdef")
    assert letters.status_code == 401 and "6-digit" in letters.json()["error_description"]


def test_reuse_and_lockout_hold_across_two_instances(server: RunningServer, storage: str) -> None:
    if storage != POSTGRES_REDIS:
        pytest.skip("two instances share state only through PostgreSQL and Redis")
    rt = server.runtime
    carol = new_person(server)
    secret = set_up_totp(server, carol)
    with second_instance(server) as port:
        other_base = f"http://localhost:{port}"
        a, b = Browserless(server), Browserless(server)
        code = oathtool(secret, rt.now() + dt.timedelta(seconds=30))
        assert submit(a, server.base_url, ticket_of(a, server.base_url, server), carol,
                      code).status_code == 200  # fmt: skip
        reused = submit(b, other_base, ticket_of(b, other_base, server), carol, code)
        assert reused.status_code == 401 and reused.json()["error"] == "totp_reused"
        ticket = ticket_of(b, other_base, server)
        for _ in range(4):
            submit(b, server.base_url if _ % 2 else other_base, ticket, carol, "999999")
        locked = submit(b, server.base_url, ticket, carol, "999999")
        assert locked.status_code == 429
        next_code = oathtool(secret, rt.now() + dt.timedelta(seconds=60))
        assert submit(b, other_base, ticket, carol, next_code).status_code == 429

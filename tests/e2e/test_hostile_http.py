"""Hostile and malformed input over real HTTP: each gets a clear 4xx with an error id, no
stack trace, and leaves nothing behind (no session, no stored credential, links unused)."""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

import pytest
import requests

from idp.audit import AuditKind
from tests.e2e.helpers import PasskeyClient
from tests.e2e.saml_peer import signed_logout_request
from tests.e2e.server import RunningServer
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u


def assert_clear_error(r: requests.Response, status: int, text: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert "Traceback" not in r.text
    body: dict[str, Any] = r.json()
    assert text in body["error_description"], body
    assert body["error_id"]
    return body


@pytest.fixture
def client(idp_server: RunningServer) -> PasskeyClient:
    c = PasskeyClient(idp_server)
    c.enrol("alice")
    c.http.cookies.set("hideez_idp_session", "", domain="localhost.local")  # signed out
    return c


def _options(c: PasskeyClient, csrf: str) -> dict[str, Any]:
    r = c.post_json("/passkey/login/options", {}, csrf)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _no_session(c: PasskeyClient) -> None:
    assert not c.http.cookies.get("hideez_idp_session")


def test_json_endpoints_need_the_csrf_token(client: PasskeyClient) -> None:
    r = client.http.post(client.server.url("/passkey/login/options"), json={}, timeout=10)
    assert_clear_error(r, 400, "CSRF")
    r = client.http.post(
        client.server.url("/passkey/login/options"),
        json={},
        timeout=10,
        headers={"X-CSRF-Token": "0" * 64},
    )
    assert_clear_error(r, 400, "CSRF")


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        (b"not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "must be a JSON object"),
        (b'{"handle": 5, "credential": {}}', 400, "'handle'"),
        (b'{"handle": "x", "credential": "nope"}', 400, "challenge handle"),
        (b'{"username": "' + b"a" * 70_000 + b'"}', 413, "larger than"),
    ],
)
def test_malformed_json_bodies(client: PasskeyClient, body: bytes, status: int, text: str) -> None:
    csrf = client._csrf("/login")
    path = "/passkey/login/verify" if b"handle" in body else "/passkey/login/options"
    r = client.http.post(
        client.server.url(path),
        data=body,
        timeout=10,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert_clear_error(r, status, text)


def test_replayed_challenge_is_refused(client: PasskeyClient) -> None:
    csrf = client._csrf("/login")
    options = _options(client, csrf)
    assert client.key is not None
    challenge = unb64u(options["publicKey"]["challenge"])
    first = client.post_json(
        "/passkey/login/verify",
        {
            "handle": options["handle"],
            "credential": json.loads(
                client.key.assert_(challenge, flags=UP | UV, origin=client.server.base_url)
            ),
        },
        csrf,
    )
    assert first.status_code == 200, first.text
    client.http.cookies.set("hideez_idp_session", "", domain="localhost.local")
    again = client.post_json(
        "/passkey/login/verify",
        {
            "handle": options["handle"],
            "credential": json.loads(
                client.key.assert_(challenge, flags=UP | UV, origin=client.server.base_url)
            ),
        },
        csrf,
    )
    assert_clear_error(again, 400, "already")
    _no_session(client)


@pytest.mark.parametrize(
    ("kwargs", "status", "text"),
    [
        ({"origin": "https://evil.example"}, 400, "origin"),
        ({"rp_id": "evil.example"}, 400, "rpIdHash"),
        ({"flags": UP}, 401, "user verification"),
        ({"kind": "webauthn.create"}, 400, "webauthn.get"),
    ],
)
def test_wrong_assertions_are_refused_and_audited(
    client: PasskeyClient, kwargs: dict[str, Any], status: int, text: str
) -> None:
    server = client.server
    csrf = client._csrf("/login")
    options = _options(client, csrf)
    assert client.key is not None
    args: dict[str, Any] = {"flags": UP | UV, "origin": server.base_url, **kwargs}
    assertion = client.key.assert_(unb64u(options["publicKey"]["challenge"]), **args)
    r = client.post_json(
        "/passkey/login/verify",
        {"handle": options["handle"], "credential": json.loads(assertion)},
        csrf,
    )
    body = r.json()
    assert r.status_code == status, body
    assert text.lower() in body["error_description"].lower()
    _no_session(client)
    failures = server.runtime.audit.list(
        kind=AuditKind.LOGIN_FAILURE, employee_id=server.employee("alice").id
    ).items
    assert any(body["error_id"] in e.details.get("error_id", "") for e in failures)


def test_regressed_sign_count_is_refused_as_a_possible_clone(client: PasskeyClient) -> None:
    server = client.server
    assert client.key is not None
    assert client.sign_in().status_code == 200  # count 1 stored
    clone = CraftedKey(
        credential_id=client.key.credential_id,
        private_key=client.key.private_key,
        user_handle=client.key.user_handle,
        rp_id="localhost",
    )
    csrf = client._csrf("/login")
    client.http.cookies.set("hideez_idp_session", "", domain="localhost.local")
    options = _options(client, csrf)
    assertion = clone.assert_(
        unb64u(options["publicKey"]["challenge"]), flags=UP | UV, origin=server.base_url, count=1
    )
    r = client.post_json(
        "/passkey/login/verify",
        {"handle": options["handle"], "credential": json.loads(assertion)},
        csrf,
    )
    assert r.status_code >= 400
    assert "cloned" in r.json()["error_description"]
    _no_session(client)
    kinds = [
        e.kind
        for e in server.runtime.audit.list(employee_id=server.employee("alice").id, limit=5).items
    ]
    assert AuditKind.PASSKEY_CLONE_SUSPECTED in kinds


def test_enrolment_link_works_once(idp_server: RunningServer) -> None:
    c = PasskeyClient(idp_server)
    link = idp_server.enrolment_link("bob")
    token = link.rsplit("/", 1)[1]
    csrf = c._csrf(f"/enrol/{token}")
    options = c.post_json("/passkey/register/options", {"token": token}, csrf).json()
    key = CraftedKey(user_handle=idp_server.employee("bob").id.encode(), rp_id="localhost")
    reg = key.register(
        unb64u(options["publicKey"]["challenge"]), flags=UP | UV, origin=idp_server.base_url
    )
    done = c.post_json(
        "/passkey/register/verify",
        {"token": token, "handle": options["handle"], "credential": json.loads(reg)},
        csrf,
    )
    assert done.status_code == 200, done.text
    again = requests.get(link, timeout=10)
    assert again.status_code == 410
    assert "already been used" in again.text or "used" in again.text
    stranger = PasskeyClient(idp_server)
    r = stranger.http.post(
        idp_server.url("/passkey/register/options"),
        json={"token": token},
        headers={"X-CSRF-Token": stranger._csrf("/login")},
        timeout=10,
    )
    assert r.status_code == 410


def test_unknown_enrolment_token_and_bad_ticket(idp_server: RunningServer) -> None:
    r = requests.get(idp_server.url("/enrol/" + "A" * 43), timeout=10)
    assert r.status_code == 404
    assert 'id="error-id"' in r.text
    r = requests.get(idp_server.url("/login?ticket=" + "x" * 30), timeout=10)
    assert r.status_code == 400
    assert "expired" in r.text


def test_saml_request_over_the_size_limit(idp_server: RunningServer) -> None:
    big = base64.b64encode(zlib.compress(b"<x>" + b"a" * 300_000 + b"</x>")[2:-4]).decode()
    r = requests.post(
        idp_server.url("/saml/login"), data={"SAMLRequest": "A" * 250_000}, timeout=10
    )
    assert r.status_code == 413, r.text[:300]
    r = requests.get(idp_server.url("/saml/login"), params={"SAMLRequest": big}, timeout=10)
    assert r.status_code in (400, 413), r.text[:300]
    assert "Traceback" not in r.text


def test_saml_xxe_is_refused(idp_server: RunningServer) -> None:
    xml = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&x;'
        b"</samlp:AuthnRequest>"
    )
    r = requests.post(
        idp_server.url("/saml/login"),
        data={"SAMLRequest": base64.b64encode(xml).decode()},
        timeout=10,
    )
    assert r.status_code == 400
    assert "DOCTYPE" in r.text
    assert "root:" not in r.text


def test_json_nested_deeper_than_the_stack_is_a_clear_400(client: PasskeyClient) -> None:
    # Issue 16 §3.3: RecursionError escaped the JSON reader and answered 500.
    csrf = client._csrf("/login")
    headers = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    for path in ("/passkey/login/options", "/passkey/login/verify"):
        r = client.http.post(client.server.url(path), data=b"[" * 20_000, timeout=10,
                             headers=headers)  # fmt: skip
        assert_clear_error(r, 400, "not valid JSON")


def test_signed_logout_request_valid_until_year_9999_is_a_clear_400(
    idp_server: RunningServer,
) -> None:
    # Issue 16 §3.4: NotOnOrAfter + the clock skew overflowed (OverflowError, 500).
    signed = signed_logout_request(idp_server, name_id="alice@example.com", session_index="s1",
                                   not_on_or_after="9999-12-31T23:59:59Z")  # fmt: skip
    r = requests.post(idp_server.url("/saml/logout"), data={"SAMLRequest": signed}, timeout=10)
    assert r.status_code == 400, r.text[:300]
    assert "NotOnOrAfter" in r.text and "Traceback" not in r.text


def test_forwarded_headers_from_an_untrusted_peer_are_ignored(client: PasskeyClient) -> None:
    client.http.headers["X-Forwarded-For"] = "203.0.113.9"
    assert client.sign_in().status_code == 200
    latest = client.server.runtime.audit.list(kind=AuditKind.LOGIN_SUCCESS, limit=1).items[0]
    assert latest.details["ip"] == "127.0.0.1"


def test_forwarded_headers_from_a_trusted_proxy_are_used(make_idp_server: Any) -> None:
    server = make_idp_server(extra_config="trusted_proxies: [127.0.0.1/32]\n", with_sp=False)
    c = PasskeyClient(server)
    c.enrol("alice")
    c.http.headers["X-Forwarded-For"] = "203.0.113.9"
    assert c.sign_in().status_code == 200
    latest = server.runtime.audit.list(kind=AuditKind.LOGIN_SUCCESS, limit=1).items[0]
    assert latest.details["ip"] == "203.0.113.9"


def test_sign_in_attempts_are_rate_limited(make_idp_server: Any) -> None:
    server = make_idp_server(extra_config="limits: {login_attempts_per_minute: 3}\n", with_sp=False)
    c = PasskeyClient(server)
    csrf = c._csrf("/login")
    answers = [
        c.post_json("/passkey/login/verify", {"handle": "h", "credential": {}}, csrf)
        for _ in range(5)
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 429, 429]
    assert "Retry-After" not in answers[0].headers
    assert answers[-1].headers["Retry-After"] == "60"


def test_unknown_path_and_method(idp_server: RunningServer) -> None:
    r = requests.get(idp_server.url("/nope"), timeout=10)
    assert r.status_code == 404 and 'id="error-id"' in r.text
    r = requests.delete(idp_server.url("/saml/login"), timeout=10)
    assert r.status_code == 405


def test_adding_a_passkey_needs_a_recent_sign_in(make_idp_server: Any) -> None:
    import datetime as dt

    server = make_idp_server(with_sp=False)
    c = PasskeyClient(server)
    c.enrol("alice")
    csrf = c._csrf("/")
    assert c.post_json("/passkey/register/options", {}, csrf).status_code == 200
    real = server.runtime.clock
    server.runtime.clock = lambda: real() + dt.timedelta(minutes=11)
    try:
        r = c.post_json("/passkey/register/options", {}, csrf)
    finally:
        server.runtime.clock = real
    assert_clear_error(r, 401, "sign in again")


def test_a_login_ticket_only_finishes_in_the_browser_that_began_it(
    idp_server: RunningServer,
) -> None:
    victim, attacker = PasskeyClient(idp_server), PasskeyClient(idp_server)
    start = attacker.http.get(idp_server.sp_url + "/login", allow_redirects=False, timeout=10)
    to_login = attacker.http.get(start.headers["Location"], allow_redirects=False, timeout=10)
    shared_link = idp_server.url(to_login.headers["Location"])
    assert attacker.http.get(shared_link, timeout=10).status_code == 200
    r = victim.http.get(shared_link, timeout=10)
    assert r.status_code == 400
    assert "started in another browser" in r.text


def test_a_parked_saml_request_resumes_once_and_only_in_its_browser(
    idp_server: RunningServer,
) -> None:
    owner = PasskeyClient(idp_server)
    owner.enrol("bob")
    fresh = PasskeyClient(idp_server)
    fresh.key = owner.key
    start = fresh.http.get(idp_server.sp_url + "/login", allow_redirects=False, timeout=10)
    to_login = fresh.http.get(start.headers["Location"], allow_redirects=False, timeout=10)
    ticket = to_login.headers["Location"].split("ticket=", 1)[1]
    done = fresh.sign_in(ticket=ticket)
    resume_url = idp_server.url(done.json()["redirect"])
    stranger = owner.http.get(resume_url, allow_redirects=False, timeout=10)
    assert stranger.status_code == 400 and "another browser" in stranger.text
    first = fresh.http.get(resume_url, allow_redirects=False, timeout=10)
    assert first.status_code == 200 and "SAMLResponse" in first.text
    again = fresh.http.get(resume_url, allow_redirects=False, timeout=10)
    # Back after the answer: a page saying so (issue 7), never a second SAMLResponse.
    assert again.status_code == 200 and "You are signed in" in again.text
    assert "SAMLResponse" not in again.text
    anonymous = requests.get(resume_url, allow_redirects=False, timeout=10)
    assert anonymous.status_code == 400 and "already answered" in anonymous.text


def test_sign_in_options_do_not_reveal_which_usernames_exist(idp_server: RunningServer) -> None:
    c = PasskeyClient(idp_server)
    c.enrol("alice")
    csrf = c._csrf("/login")

    def allowed(username: str) -> list[str]:
        r = c.post_json("/passkey/login/options", {"username": username}, csrf)
        assert r.status_code == 200
        return [a["id"] for a in r.json()["publicKey"].get("allowCredentials", [])]

    assert c.key is not None
    assert len(allowed("alice")) == len(
        idp_server.runtime.passkeys.list_for_employee(idp_server.employee("alice").id)
    )
    ghost = allowed("no-such-user")
    assert 1 <= len(ghost) <= 3  # plausible, like a real account (issue 16 §3.2)
    assert allowed("No-Such-User") == ghost  # stable, so repeating does not tell either
    assert allowed("someone-else") != ghost


def test_a_refused_registration_is_audited_and_keeps_the_link(idp_server: RunningServer) -> None:
    c = PasskeyClient(idp_server)
    link = idp_server.enrolment_link("bob")
    token = link.rsplit("/", 1)[1]
    csrf = c._csrf(f"/enrol/{token}")
    options = c.post_json("/passkey/register/options", {"token": token}, csrf).json()
    key = CraftedKey(user_handle=idp_server.employee("bob").id.encode(), rp_id="localhost")
    forged = key.register(
        unb64u(options["publicKey"]["challenge"]), flags=UP | UV, origin="https://phish.example"
    )
    r = c.post_json(
        "/passkey/register/verify",
        {"token": token, "handle": options["handle"], "credential": json.loads(forged)},
        csrf,
    )
    body = assert_clear_error(r, 400, "origin")
    events = idp_server.runtime.audit.list(
        kind=AuditKind.PASSKEY_REGISTRATION_FAILED, employee_id=idp_server.employee("bob").id
    ).items
    assert any(e.details.get("error_id") == body["error_id"] for e in events)
    assert requests.get(link, timeout=10).status_code == 200  # the link still works

"""Hostile input against the MFA micro-service: SATOSA's state cookie tampered with, replayed
or swapped; the resume endpoint without a pending step; another user's factor; a failed
factor; malformed calls to the step endpoints. None of them may reach the SP, and none may
lose the pending sign-in of the browser it belongs to."""

from __future__ import annotations

import base64

import pytest
import requests

from idp.flows.parking import LoginTicket
from tests.e2e.satosa.client import SatosaClient, class_ref
from tests.e2e.satosa.proxy import PPT, REFEDS_MFA, STATE_COOKIE, Proxy
from tests.idp.factors.passkey_fakes import UP

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture(scope="module")
def bob(proxy: Proxy) -> SatosaClient:
    client = SatosaClient(proxy)
    client.enrol("bob")
    return client


@pytest.fixture(autouse=True)
def upstream_password(proxy: Proxy) -> None:
    proxy.upstream.user, proxy.upstream.class_ref = "alice", PPT


def pending(client: SatosaClient) -> tuple[str, str]:
    """A fresh flow of ``client`` up to the passkey done: (resume path, state cookie)."""
    client.http.cookies.clear()
    verify = client.passkey(client.ticket_of(client.start()))
    assert verify.status_code == 200, verify.text
    return verify.json()["redirect"], client.http.cookies[STATE_COOKIE]


def resume_with_state(client: SatosaClient, path: str, state: str) -> requests.Response:
    client.http.cookies.set(STATE_COOKIE, state, domain="localhost.local", path="/")
    jar = client.http.cookies
    for cookie in list(jar):
        if cookie.name == STATE_COOKIE and cookie.value != state:
            jar.clear(cookie.domain, cookie.path, cookie.name)
    return client.http.get(client.proxy.url(path), allow_redirects=False, timeout=10)


def refused(response: requests.Response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert "SAMLResponse" not in response.text
    assert "error-id" in response.text
    assert "Traceback" not in response.text


def flip(state: str, position: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(state.strip('"')))
    raw[position] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).decode()


def test_a_tampered_state_cookie_is_refused_and_the_real_one_still_finishes(
    alice: SatosaClient,
) -> None:
    path, state = pending(alice)
    for position in (5, 40, -20):
        refused(resume_with_state(alice, path, flip(state, position)), 400)
    # Nothing was taken: the browser's own cookie still finishes its sign-in.
    answer = resume_with_state(alice, path, state)
    assert class_ref(answer) == REFEDS_MFA


def test_a_replayed_resume_with_the_old_state_cookie_is_refused(alice: SatosaClient) -> None:
    path, state = pending(alice)
    assert class_ref(resume_with_state(alice, path, state)) == REFEDS_MFA
    refused(resume_with_state(alice, path, state), 400)


def test_swapped_state_cookies_are_refused_both_ways(
    alice: SatosaClient, bob: SatosaClient, proxy: Proxy
) -> None:
    path_a, state_a = pending(alice)
    proxy.upstream.user = "bob"
    path_b, state_b = pending(bob)
    refused(resume_with_state(alice, path_a, state_b), 400)
    refused(resume_with_state(bob, path_b, state_a), 400)
    # Each browser's own pair still works.
    assert class_ref(resume_with_state(bob, path_b, state_b)) == REFEDS_MFA
    assert class_ref(resume_with_state(alice, path_a, state_a)) == REFEDS_MFA


def test_the_resume_endpoint_without_a_pending_step(proxy: Proxy) -> None:
    http = requests.Session()
    refused(http.get(proxy.url("/hideez/mfa/resume?k=nothing"), timeout=10), 400)
    refused(http.get(proxy.url("/hideez/mfa/resume"), timeout=10), 400)
    refused(http.post(proxy.url("/hideez/mfa/resume?k=x"), data={"a": "b"}, timeout=10), 405)


def test_another_users_passkey_never_completes_this_users_mfa(
    alice: SatosaClient, bob: SatosaClient, proxy: Proxy
) -> None:
    """Upstream signed in alice; the browser offers bob's passkey (usernameless): refused."""
    alice.http.cookies.clear()
    ticket = alice.ticket_of(alice.start())
    verify = alice.passkey(ticket, key=bob.key)
    assert verify.status_code == 200, verify.text  # bob's passkey is valid, for bob
    refused(alice.resume(verify), 403)


def test_a_failed_factor_never_reaches_the_sp(alice: SatosaClient) -> None:
    alice.http.cookies.clear()
    ticket = alice.ticket_of(alice.start())
    verify = alice.passkey(ticket, flags=UP)  # no user verification: the policy needs it
    assert verify.status_code in (400, 401, 403), verify.text
    assert "error_id" in verify.json()
    # Going to the resume URL anyway (read from the ticket): no session holds the factor.
    raw = alice.proxy.runtime.ephemeral.get("login-ticket:" + ticket)
    assert raw is not None
    resume_url = LoginTicket.from_json(raw).resume_url
    refused(alice.http.get(alice.proxy.url(resume_url), timeout=10), 403)


def test_cancel_on_the_sign_in_page_ends_in_an_error_not_at_the_sp(alice: SatosaClient) -> None:
    alice.http.cookies.clear()
    ticket = alice.ticket_of(alice.start())
    page = alice.http.get(alice.proxy.url(f"/hideez/login?ticket={ticket}"), timeout=10)
    cancel = page.text.split('id="cancel" href="', 1)[1].split('"', 1)[0]
    refused(alice.http.get(alice.proxy.url(cancel.replace("&amp;", "&")), timeout=10), 403)


@pytest.mark.parametrize(
    ("body", "headers", "status"),
    [
        ({"ticket": "x"}, {}, 400),  # no CSRF token
        ({"ticket": "x"}, {"X-CSRF-Token": "0" * 64}, 400),  # a wrong one
        ({"ticket": "x" * 65}, None, 400),  # oversized ticket
        ({"ticket": 5}, None, 400),  # wrong type
        ({"handle": "h", "credential": "not an object"}, None, 400),
        ({"handle": "h", "credential": {"id": "x" * 40_000}}, None, 400),
    ],
)
def test_step_endpoints_refuse_malformed_calls_with_json_errors(
    alice: SatosaClient, body: dict[str, object], headers: dict[str, str] | None, status: int
) -> None:
    alice.http.cookies.clear()
    ticket = alice.ticket_of(alice.start())
    csrf = alice.csrf(ticket)
    path = "/passkey/login/verify" if "handle" in body else "/passkey/login/options"
    response = alice.http.post(
        alice.proxy.url(path),
        json=body,
        headers={"X-CSRF-Token": csrf} if headers is None else headers,
        timeout=10,
    )
    assert response.status_code == status, response.text
    assert response.json()["error_description"]


def test_step_endpoints_take_post_only_and_static_files_by_name(proxy: Proxy) -> None:
    http = requests.Session()
    assert http.get(proxy.url("/passkey/login/options"), timeout=10).status_code == 405
    assert http.get(proxy.url("/hideez/static/webauthn.js"), timeout=10).status_code == 200
    assert http.get(proxy.url("/hideez/static/..%2fcli.py"), timeout=10).status_code in (400, 404)
    assert http.get(proxy.url("/hideez/static/nothing.js"), timeout=10).status_code == 404
    refused(http.get(proxy.url("/hideez/login?ticket=unknown"), timeout=10), 400)
    refused(http.get(proxy.url("/hideez/login"), timeout=10), 400)


def test_post_bodies_satosa_cannot_parse_are_a_400_not_a_500(alice: SatosaClient) -> None:
    """SATOSA parses the body before routing (outside its error handling); the pack's app
    answers a missing Content-Type, broken JSON and non-UTF-8 form fields with a 400."""
    alice.http.cookies.clear()
    csrf = alice.csrf(alice.ticket_of(alice.start()))
    url = alice.proxy.url("/passkey/login/options")
    bare = alice.http.post(url, data=b'{"a": 1}', headers={"X-CSRF-Token": csrf}, timeout=10)
    assert "Content-Type" not in bare.request.headers
    assert bare.status_code == 400, bare.text
    assert "JSON object (Content-Type: application/json)" in bare.json()["error_description"]
    for content_type, body in (
        ("application/json", b'{"handle": '),
        ("application/x-www-form-urlencoded", b"a=\xff\xfe"),
    ):
        headers = {"X-CSRF-Token": csrf, "Content-Type": content_type}
        response = alice.http.post(url, data=body, headers=headers, timeout=10)
        assert response.status_code == 400, response.text
        assert "could not be read" in response.text and content_type in response.text
        assert "Traceback" not in response.text

"""Sign-in pages without dead ends (issue 7): Cancel, Back, stale links, the wrong address."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
import requests

from tests.e2e.entra_sim import ENTRA_REDIRECT, TENANT, oidc_idp, parse_autopost
from tests.e2e.helpers import PasskeyClient, autopost_fields
from tests.e2e.saml_peer import sp_login, status_of
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e


def cancel_link(client: PasskeyClient, server: RunningServer, location: str) -> str:
    page = client.http.get(server.url(location) if location.startswith("/") else location,
                           timeout=10).text  # fmt: skip
    marker = 'id="cancel" href="'
    assert marker in page, "the sign-in page offers a way back"
    return page.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")


def test_cancel_answers_the_saml_sp_with_an_error(idp_server: RunningServer) -> None:
    browser = PasskeyClient(idp_server)
    first = sp_login(browser, idp_server)
    assert first.status_code == 303
    answer = browser.http.get(idp_server.url(cancel_link(browser, idp_server,
                                                         first.headers["Location"])),
                              allow_redirects=False, timeout=10)  # fmt: skip
    assert "Responder" in status_of(answer.text) and "AuthnFailed" in status_of(answer.text)
    assert autopost_fields(answer.text)[0] == idp_server.sp_url + "/acs"


def test_back_after_a_finished_sign_in_says_so(idp_server: RunningServer) -> None:
    alice = PasskeyClient(idp_server)
    alice.enrol("alice")
    fresh = PasskeyClient(idp_server)
    fresh.key, fresh.username = alice.key, "alice"
    first = sp_login(fresh, idp_server)
    ticket_url = first.headers["Location"]
    answer = fresh.follow_login(first)
    assert "SAMLResponse" in answer.text
    # Back to the sign-in page, and back to the resume URL: pages, not errors.
    for back in (ticket_url, answer.url):
        page = fresh.http.get(idp_server.url(back) if back.startswith("/") else back,
                              allow_redirects=False, timeout=10)  # fmt: skip
        assert page.status_code == 200 and "You are signed in" in page.text
        assert "SAMLResponse" not in page.text


def test_a_used_enrolment_link_explains_itself(idp_server: RunningServer) -> None:
    client = PasskeyClient(idp_server)
    link = idp_server.enrolment_link("bob")
    client.enrol_with_token("bob", link.rsplit("/", 1)[1])
    again = requests.get(link, timeout=10)
    assert again.status_code == 410
    assert "already" in again.text and 'href="/login"' in again.text
    assert 'id="error-id"' in again.text


def test_the_wrong_address_names_the_right_one(idp_server: RunningServer) -> None:
    wrong = idp_server.base_url.replace("localhost", "127.0.0.1")
    page = requests.get(wrong + "/login", timeout=10)
    assert page.status_code == 400
    assert "Passkeys work only at the address" in page.text
    assert f'href="{idp_server.base_url}/login"' in page.text


def test_an_old_session_is_offered_the_sign_in_it_needs(idp_server: RunningServer) -> None:
    alice = PasskeyClient(idp_server)
    alice.enrol("alice")
    sid = alice.http.cookies["hideez_idp_session"]
    rt = idp_server.runtime
    old = rt.now().replace(year=rt.now().year - 1)
    session = rt.sessions.get(sid, now=rt.now())
    assert session is not None  # signed in a year ago, by the session's record
    rt.sessions.reauthenticate(
        sid, expected_employee_id=session.employee_id, factors=session.factors, now=old
    )
    page = alice.http.get(idp_server.url("/"), timeout=10).text
    assert 'id="reauth"' in page and 'href="/login"' in page


def test_cancel_posts_access_denied_back_to_entra(
    tmp_path_factory: pytest.TempPathFactory, storage: str
) -> None:
    with oidc_idp(tmp_path_factory.mktemp("cancel-eam"), storage=storage) as (server, sim):
        oid = str(uuid.uuid4())
        alice = server.employee("alice")
        server.runtime.employees.update(
            dataclasses.replace(alice, entra_object_id=oid, entra_tenant_id=TENANT)
        )
        server.runtime.directory.invalidate()
        browser = PasskeyClient(server)
        request = sim.request(sim.hint(oid=oid))
        first = browser.http.post(server.url("/oidc/authorize"), data=request,
                                  allow_redirects=False, timeout=10)  # fmt: skip
        assert first.status_code == 303
        answer = browser.http.get(server.url(cancel_link(browser, server,
                                                         first.headers["Location"])),
                                  allow_redirects=False, timeout=10)  # fmt: skip
        action, fields = parse_autopost(answer.text)
        assert action == ENTRA_REDIRECT
        assert fields["error"] == "access_denied" and fields["state"] == request["state"]
        assert "id_token" not in fields

"""The demo SP (python3-saml, strict) keeps several outstanding requests per browser."""

from __future__ import annotations

from tests.e2e.helpers import PasskeyClient, submit_autopost
from tests.e2e.saml_peer import sp_login
from tests.e2e.server import RunningServer


def test_two_tabs_signing_in_at_once_both_work_and_each_answer_is_used_once(
    sso_server: RunningServer,
) -> None:
    client = PasskeyClient(sso_server)
    client.enrol("alice")
    first_tab = sp_login(client, sso_server)
    second_tab = sp_login(client, sso_server)
    for answer in (second_tab, first_tab):  # answered in the other order than asked
        landed = submit_autopost(client.http, answer)
        assert landed.status_code == 302, landed.text
        assert landed.headers["Location"] == "/"
    assert "alice@example.com" in client.http.get(sso_server.sp_url + "/", timeout=10).text
    replayed = submit_autopost(client.http, first_tab)
    assert replayed.status_code == 400
    assert "is not a request this browser has outstanding" in replayed.text


def test_an_answer_to_another_browsers_request_is_refused(sso_server: RunningServer) -> None:
    asker, other = PasskeyClient(sso_server), PasskeyClient(sso_server)
    asker.enrol("alice")
    answer = sp_login(asker, sso_server)
    landed = submit_autopost(other.http, answer)
    assert landed.status_code == 400
    assert "is not a request this browser has outstanding" in landed.text

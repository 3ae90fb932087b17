"""Push approval for a WS-Federation (Exchange OWA-shaped) sign-in; the token is checked by
signxml and the xmlsec1 program (tests/e2e/test_wsfed_exchange.py's checks)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import urlencode

import pytest

from idp.wsfed import constants as c
from tests.e2e.authenticator.helpers import (
    Browserless,
    enrolled_app,
    follow_push_login,
    new_person,
)
from tests.e2e.server import RunningServer
from tests.e2e.test_wsfed_exchange import OWA, OWA_CTX, SID, check_token, form_of

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(app_server: RunningServer) -> RunningServer:
    return app_server


def test_owa_sign_in_approved_on_the_phone(server: RunningServer, tmp_path: Path) -> None:
    alice = new_person(server)
    employee = server.employee(alice)
    server.runtime.employees.update(
        dataclasses.replace(
            employee, ad_object_sid=SID, external_ids={"upn": f"{alice}@corp.example.com"}
        )
    )
    server.runtime.directory.invalidate()
    app = enrolled_app(server, alice, tmp_path)
    browser = Browserless(server)
    query = urlencode({"wa": "wsignin1.0", "wtrealm": OWA, "wctx": OWA_CTX})
    first = browser.http.get(server.url(f"/wsfed?{query}"), allow_redirects=False, timeout=10)
    answer = follow_push_login(browser, app, first, alice)
    action, fields = form_of(answer)
    assert action == OWA and fields["wctx"] == OWA_CTX
    claims = check_token(server, fields["wresult"], realm=OWA)
    assert claims[c.CLAIM_PRIMARYSID] == [SID]

"""The passkey JSON endpoints against a running IdP: hostile input is a clear 4xx, nothing used up.

The ceremony functions are tested in the other modules here; this one checks what the Flask
adapter adds around them (enrolment links, names) with a software authenticator.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.helpers import PasskeyClient, _loads
from tests.e2e.server import RunningServer, run_idp
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_idp(tmp_path_factory.mktemp("passkey-endpoints"), with_sp=False) as srv:
        yield srv


@pytest.mark.parametrize("name", ["tab\there", "line\nbreak", "   ", "\u200bzero-width\u2028"])
def test_a_bad_passkey_name_is_a_400_and_keeps_the_enrolment_link(
    server: RunningServer, name: str
) -> None:
    username = server.runtime.employees.list(limit=1).items[0].username
    employee = server.employee(username)
    before = len(server.runtime.passkeys.list_for_employee(employee.id))
    client = PasskeyClient(server)
    token = server.enrolment_link(username).rsplit("/", 1)[1]
    csrf = client._csrf(f"/enrol/{token}")
    options = client.post_json("/passkey/register/options", {"token": token}, csrf).json()
    key = CraftedKey(user_handle=employee.id.encode(), rp_id="localhost")
    credential = _loads(
        key.register(
            unb64u(options["publicKey"]["challenge"]), flags=UP | UV, origin=server.base_url
        )
    )
    body = {"token": token, "handle": options["handle"], "credential": credential}

    refused = client.post_json("/passkey/register/verify", {**body, "name": name}, csrf)

    assert refused.status_code == 400, refused.text
    assert "printable characters" in refused.json()["error_description"]
    assert len(server.runtime.passkeys.list_for_employee(employee.id)) == before
    # Neither the one-time link nor the challenge was used up: the same ceremony completes.
    accepted = client.post_json("/passkey/register/verify", {**body, "name": "Laptop"}, csrf)
    assert accepted.status_code == 200, accepted.text
    names = [c.name for c in server.runtime.passkeys.list_for_employee(employee.id)]
    assert "Laptop" in names
    assert len(names) == before + 1

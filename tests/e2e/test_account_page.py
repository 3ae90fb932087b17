"""The employee's own page: passkeys (add, remove) and the applications they can open."""

from __future__ import annotations

import re

from tests.e2e.helpers import PasskeyClient, SoftKey
from tests.e2e.server import RunningServer


def add_second_passkey(c: PasskeyClient) -> SoftKey:
    """A second soft-webauthn authenticator, added from the signed-in account."""
    csrf = c._csrf("/")
    options = c.post_json("/passkey/register/options", {}, csrf).json()
    exclude = options["publicKey"].get("excludeCredentials", [])
    assert len(exclude) == 1  # the first passkey may not be registered twice
    key = SoftKey()
    credential = key.register(options["publicKey"], origin=c.server.base_url)
    r = c.post_json(
        "/passkey/register/verify",
        {"handle": options["handle"], "credential": credential, "name": "backup key"},
        csrf,
    )
    assert r.status_code == 200, r.text
    return key


def passkey_ids(c: PasskeyClient) -> list[str]:
    page = c.http.get(c.server.url("/"), timeout=10).text
    return re.findall(r'name="credential_id" value="([^"]+)"', page)


def test_account_lists_apps_and_manages_passkeys(make_idp_server: object) -> None:
    server: RunningServer = make_idp_server(uv_required=False)  # type: ignore[operator]
    c = PasskeyClient(server)
    c.enrol("alice")
    page = c.http.get(server.url("/"), timeout=10).text
    assert "demo-sp" in page and "/saml/login?sp=" in page
    assert passkey_ids(c) == []  # a single passkey offers no remove button
    add_second_passkey(c)
    ids = passkey_ids(c)
    assert len(ids) == 2
    csrf = c._csrf("/")
    no_csrf = c.http.post(
        server.url("/passkeys/remove"), data={"credential_id": ids[0]}, timeout=10
    )
    assert no_csrf.status_code == 400
    PasskeyClient(server).enrol("bob")
    (bobs,) = server.runtime.passkeys.list_for_employee(server.employee("bob").id)
    for foreign in ("no-such-credential", bobs.credential_id):  # bob's is real, not alice's
        other = c.http.post(
            server.url("/passkeys/remove"),
            timeout=10,
            data={"credential_id": foreign, "csrf": csrf},
        )
        assert other.status_code == 404
    assert len(server.runtime.passkeys.list_for_employee(server.employee("bob").id)) == 1
    ask = c.http.post(
        server.url("/passkeys/remove"),
        timeout=10,
        allow_redirects=False,
        data={"credential_id": ids[0], "csrf": csrf},
    )
    # The first press asks to confirm and removes nothing.
    assert ask.status_code == 200 and 'name="confirm" value="yes"' in ask.text
    assert len(server.runtime.passkeys.list_for_employee(server.employee("alice").id)) == 2
    done = c.http.post(
        server.url("/passkeys/remove"),
        timeout=10,
        allow_redirects=False,
        data={"credential_id": ids[0], "csrf": csrf, "confirm": "yes"},
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/?done=removed")
    assert "The passkey was removed." in c.http.get(server.url("/?done=removed"), timeout=10).text
    remaining = server.runtime.passkeys.list_for_employee(server.employee("alice").id)
    assert [p.credential_id for p in remaining] == [ids[1]]
    last = c.http.post(
        server.url("/passkeys/remove"), timeout=10, data={"credential_id": ids[1], "csrf": csrf}
    )
    assert last.status_code == 409 and "only passkey" in last.text
    assert len(server.runtime.passkeys.list_for_employee(server.employee("alice").id)) == 1

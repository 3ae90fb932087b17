"""Sign-in options by username against a running IdP: unknown names get decoys that cannot be
told from a real employee's keys by their shape, real employees get their real keys."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from idp.directory.model import Employee
from idp.factors.passkey_decoys import AUTHENTICATOR_SHAPES, decoy_credentials
from tests.e2e.helpers import PasskeyClient, _loads
from tests.e2e.server import RunningServer, run_idp
from tests.idp.factors.passkey_fakes import UP, UV, CraftedKey, unb64u

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_idp(tmp_path_factory.mktemp("signin-options"), with_sp=False) as srv:
        yield srv


def new_employee(server: RunningServer, username: str) -> Employee:
    employee = Employee(
        id=secrets.token_hex(8),
        username=username,
        email=f"{username}@example.com",
        first_name=username,
        last_name="Test",
    )
    server.runtime.employees.add(employee, now=server.runtime.now())
    return employee


def enrol(server: RunningServer, employee: Employee, *, id_len: int, transports: tuple[str, ...]):  # type: ignore[no-untyped-def]
    """A real registration through the endpoints, with a key of the given shape."""
    client = PasskeyClient(server)
    token = server.enrolment_link(employee.username).rsplit("/", 1)[1]
    csrf = client._csrf(f"/enrol/{token}")
    options = client.post_json("/passkey/register/options", {"token": token}, csrf).json()
    key = CraftedKey(
        user_handle=employee.id.encode(),
        rp_id="localhost",
        credential_id=secrets.token_bytes(id_len),
    )
    credential = key.register(
        unb64u(options["publicKey"]["challenge"]),
        flags=UP | UV,
        origin=server.base_url,
        transports=transports,
    )
    body = {"token": token, "handle": options["handle"], "credential": _loads(credential)}
    verified = client.post_json("/passkey/register/verify", body, csrf)
    assert verified.status_code == 200, verified.text


def sign_in_options(server: RunningServer, username: str) -> dict[str, Any]:
    client = PasskeyClient(server)
    csrf = client._csrf("/login")
    answer = client.post_json("/passkey/login/options", {"username": username}, csrf)
    assert answer.status_code == 200, answer.text
    options: dict[str, Any] = answer.json()["publicKey"]
    return options


def shape(options: dict[str, Any]) -> list[tuple[tuple[str, ...], int]]:
    """What the answer shows besides random bytes: per credential, transports and id length."""
    return [
        (tuple(d.get("transports", ())), len(unb64u(d["id"]))) for d in options["allowCredentials"]
    ]


def structure(options: dict[str, Any]) -> tuple[object, ...]:
    """Everything but the ids' bytes and transports: member names, fixed values."""
    return (
        tuple(sorted(options)),
        options["userVerification"],
        options["rpId"],
        {(tuple(sorted(d)), d["type"]) for d in options["allowCredentials"]},
    )


def test_an_unknown_username_gets_the_cores_stable_decoys(server: RunningServer) -> None:
    first = sign_in_options(server, "nobody-here")
    assert first["allowCredentials"] == sign_in_options(server, "Nobody-Here ")["allowCredentials"]
    expected = decoy_credentials(
        salt=server.runtime.config.pairwise_salt, username="nobody-here", now=server.runtime.now()
    )
    assert [(d["id"], tuple(d["transports"])) for d in first["allowCredentials"]] == [
        (c.credential_id, c.transports) for c in expected
    ]


def test_an_employee_with_passkeys_gets_their_real_ones(server: RunningServer) -> None:
    employee = new_employee(server, "real-two")
    enrol(server, employee, id_len=32, transports=("hybrid", "internal"))
    enrol(server, employee, id_len=64, transports=("nfc", "usb"))
    stored = server.runtime.passkeys.list_for_employee(employee.id)
    options = sign_in_options(server, "real-two")
    assert sorted(d["id"] for d in options["allowCredentials"]) == sorted(
        c.credential_id for c in stored
    )
    decoy_ids = {
        c.credential_id
        for c in decoy_credentials(
            salt=server.runtime.config.pairwise_salt, username="real-two", now=server.runtime.now()
        )
    }
    assert decoy_ids.isdisjoint(d["id"] for d in options["allowCredentials"])


def test_an_employee_without_passkeys_gets_decoys_like_an_unknown_name(
    server: RunningServer,
) -> None:
    new_employee(server, "no-keys-yet")
    options = sign_in_options(server, "no-keys-yet")
    assert all(d["id"] for d in options["allowCredentials"])
    assert shape(options) == [
        (c.transports, len(unb64u(c.credential_id)))
        for c in decoy_credentials(
            salt=server.runtime.config.pairwise_salt,
            username="no-keys-yet",
            now=server.runtime.now(),
        )
    ]


def test_real_and_decoy_answers_cannot_be_told_apart_by_shape(server: RunningServer) -> None:
    """Employees enrolled with the authenticators the decoy table describes (1–3 keys each):
    every shape their answers show is one decoys show too, the answers have one structure,
    and the count of credentials spans the same range."""
    real_answers = []
    for index, (transports, lengths, _) in enumerate(AUTHENTICATOR_SHAPES):
        employee = new_employee(server, f"shape-{index}")
        for n in range(1 + index % 3):
            enrol(server, employee, id_len=lengths[n % len(lengths)], transports=transports)
        real_answers.append(sign_in_options(server, employee.username))
    # 200, not fewer: P(no three-key decoy among them) = 0.92^200 ≈ 6e-8.
    decoy_answers = [sign_in_options(server, f"ghost-{i}") for i in range(200)]

    decoy_shapes = {s for answer in decoy_answers for s in shape(answer)}
    for username in (f"more-ghosts-{i}" for i in range(3000)):
        decoy_shapes |= {
            (c.transports, len(unb64u(c.credential_id)))
            for c in decoy_credentials(
                salt=server.runtime.config.pairwise_salt,
                username=username,
                now=server.runtime.now(),
            )
        }
    for answer in real_answers:
        assert set(shape(answer)) <= decoy_shapes, shape(answer)
    assert {repr(structure(a)) for a in real_answers + decoy_answers} == {
        repr(structure(real_answers[0]))
    }
    counts = {len(a["allowCredentials"]) for a in decoy_answers}
    assert counts == {len(a["allowCredentials"]) for a in real_answers} == {1, 2, 3}

"""The password prompt of a key conversation: a skip-password (or primary) account completed by
the key's user at the workstation — checked by the directory hook, stored encrypted, delivered
to the key in the same connection; refusals asked again, a skip asked next time, a rate limit or
an unreachable directory ending the prompts with a note and nothing stored."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from idp.errors import IdpError, Unauthorized
from idp.vault.conversation import PASSWORD_TRIES, AskCode, AskPassword, Outcome, ToKey, converse
from idp.vault.model import AccountInput, KeyImport, LoginType
from idp.vault.protocol.key import KeyEndpoint, KeyStorage
from idp.vault.relay import KeyConversations
from idp.workstations.errors import InvalidLinkMessage
from idp.workstations.wire import b64url, unb64url
from tests.idp.vault.conftest import ADMIN, Vaults, make_vaults
from tests.idp.vault.test_relay import WS, command

SERIAL = "ST10301234567899"
RIGHT = "Corr3ct-Horse-2026"


class Limited(IdpError):
    error = "too_many_password_checks"
    status = 429
    retry_after = 1800


class Directory:
    """The hook as the vault sees it (the real one is tested against Samba and Entra)."""

    def __init__(self) -> None:
        self.checked: list[str] = []
        self.fail: IdpError | None = None

    def __call__(self, employee_id: str, login: str, password: str) -> None:
        self.checked.append(password)
        if self.fail is not None:
            raise self.fail
        if password != RIGHT:
            raise Unauthorized("the user name or password is wrong")


def connect(
    vaults: Vaults, key: KeyEndpoint, answer: Callable[[AskPassword], str], codes: list[str]
) -> tuple[Outcome, list[AskPassword]]:
    key.disconnected()
    steps = converse(vault=vaults.service, serial=SERIAL)
    asked: list[AskPassword] = []
    reply: bytes | str | None = None
    try:
        while True:
            step = steps.send(reply) if reply is not None else next(steps)
            if isinstance(step, ToKey):
                reply = key.receive(step.message)
            elif isinstance(step, AskCode):
                reply = codes.pop(0)
            else:
                asked.append(step)
                reply = answer(step)
    except StopIteration as done:
        return done.value, asked


@pytest.fixture
def directory() -> Directory:
    return Directory()


@pytest.fixture
def desk(db, directory: Directory):  # type: ignore[no-untyped-def]
    vaults = make_vaults(db, password_check=directory)
    vaults.service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:99", "Hideez Key 4", "4.0.1")]
    )
    alice = vaults.employee("alice")
    skip = AccountInput(
        name="Windows", login="CORP\\alice", login_type=LoginType.DOMAIN, skip_password=True
    )
    account = vaults.service.add_account(actor=ADMIN, employee_id=alice, data=skip)
    key = KeyEndpoint(KeyStorage(serial=SERIAL, battery=50), clock=time.time)
    code = vaults.service.assign(actor=ADMIN, serial=SERIAL, employee_id=alice).activation_code
    yield vaults, key, account.id, code
    vaults.audit.flush()


def test_the_user_completes_the_account_when_the_key_is_linked(desk, directory) -> None:  # type: ignore[no-untyped-def]
    vaults, key, account_id, code = desk
    answers = iter(["Wr0ng-Horse-2026", RIGHT])
    out, asked = connect(vaults, key, lambda _: next(answers), [code])
    assert [(a.account_id, a.login, a.name) for a in asked] == [
        (account_id, "CORP\\alice", "Windows")
    ] * 2
    assert asked[0].refused == "" and "user name or password is wrong" in asked[1].refused
    assert directory.checked == ["Wr0ng-Horse-2026", RIGHT]
    assert key.storage.accounts[account_id].password == RIGHT  # on the key, this connection
    assert out.note == "" and vaults.service.pending_tasks(serial=SERIAL) == ()
    _, again = connect(vaults, key, lambda _: pytest.fail("asked again"), [])
    assert again == []


def test_a_skipped_password_is_asked_at_the_next_connection(desk, directory) -> None:  # type: ignore[no-untyped-def]
    vaults, key, account_id, code = desk
    _, asked = connect(vaults, key, lambda _: "", [code])
    assert len(asked) == 1 and directory.checked == []
    assert key.storage.accounts[account_id].password == ""
    _, asked = connect(vaults, key, lambda _: RIGHT, [])
    assert len(asked) == 1 and key.storage.accounts[account_id].password == RIGHT


def test_wrong_answers_stop_after_the_tries_of_one_connection(desk, directory) -> None:  # type: ignore[no-untyped-def]
    vaults, key, account_id, code = desk
    out, asked = connect(vaults, key, lambda _: "nope", [code])
    assert len(asked) == PASSWORD_TRIES and out.status.value == "active"
    assert key.storage.accounts[account_id].password == ""


@pytest.mark.parametrize("fail", [Limited("3 wrong password(s) were checked")])
def test_a_rate_limit_ends_the_prompts_with_a_note(desk, directory, fail) -> None:  # type: ignore[no-untyped-def]
    vaults, key, account_id, code = desk
    directory.fail = fail
    out, asked = connect(vaults, key, lambda _: RIGHT, [code])
    assert len(asked) == 1  # not asked again: trying later is the answer
    assert out.note == "CORP\\alice: 3 wrong password(s) were checked"
    assert out.status.value == "active"
    assert key.storage.accounts[account_id].password == ""


def test_the_relay_carries_the_prompt_and_refuses_stray_passwords(desk) -> None:  # type: ignore[no-untyped-def]
    vaults, key, account_id, code = desk
    relay = KeyConversations(vault=vaults.service)
    with pytest.raises(InvalidLinkMessage, match="no conversation"):
        relay.handle(
            WS, "key_password", {"serial": SERIAL, "account_id": account_id, "password": RIGHT}
        )
    out = command(relay.handle(WS, "key_seen", {"serial": SERIAL}))
    while out["kind"] != "key_password_prompt":
        if out["kind"] == "key_message":
            data = b64url(key.receive(unb64url(out["body"]["data"])))
            with pytest.raises(InvalidLinkMessage, match="waits for key_message"):
                relay.handle(
                    WS,
                    "key_password",
                    {"serial": SERIAL, "account_id": account_id, "password": RIGHT},
                )
            out = command(relay.handle(WS, "key_message", {"serial": SERIAL, "data": data}))
        else:
            out = command(relay.handle(WS, "key_code", {"serial": SERIAL, "code": code}))
    prompt = {"serial": SERIAL, "account_id": account_id, "name": "Windows", "refused": ""}
    assert out["body"] == {**prompt, "login": "CORP\\alice"}
    for body, match in [
        ({"account_id": "other", "password": RIGHT}, f"account {account_id} was asked"),
        ({"account_id": account_id, "password": 7}, "at most 256"),
        ({"account_id": account_id, "password": "x" * 257}, "at most 256"),
        ({"account_id": account_id, "code": "123456"}, "at most 256"),
    ]:
        with pytest.raises(InvalidLinkMessage, match=match) as refused:
            relay.handle(WS, "key_password", {"serial": SERIAL, **body})
        assert RIGHT not in str(refused.value)
    with pytest.raises(InvalidLinkMessage, match=r"key_message: .* waits for key_password"):
        relay.handle(WS, "key_message", {"serial": SERIAL, "data": "AA"})
    with pytest.raises(InvalidLinkMessage, match=r"key_code: .* waits for key_password"):
        relay.handle(WS, "key_code", {"serial": SERIAL, "code": "123456"})
    out = command(
        relay.handle(
            WS, "key_password", {"serial": SERIAL, "account_id": account_id, "password": RIGHT}
        )
    )
    while out["kind"] == "key_message":
        data = b64url(key.receive(unb64url(out["body"]["data"])))
        out = command(relay.handle(WS, "key_message", {"serial": SERIAL, "data": data}))
    assert out["kind"] == "key_done" and not out["body"]["refused"]
    assert key.storage.accounts[account_id].password == RIGHT


def test_without_a_directory_the_password_is_stored_as_typed(db) -> None:  # type: ignore[no-untyped-def]
    vaults = make_vaults(db)
    vaults.service.import_keys(
        actor=ADMIN, keys=[KeyImport(SERIAL, "AA:BB:CC:00:00:98", "Hideez Key 4", "4.0.1")]
    )
    bob = vaults.employee("bob")
    primary = vaults.service.add_account(
        actor=ADMIN,
        employee_id=bob,
        data=AccountInput(name="PC", login="bob", login_type=LoginType.LOCAL, skip_password=True),
    )
    vaults.service.set_primary(actor=ADMIN, account_id=primary.id)
    code = vaults.service.assign(actor=ADMIN, serial=SERIAL, employee_id=bob).activation_code
    key = KeyEndpoint(KeyStorage(serial=SERIAL), clock=time.time)
    _, asked = connect(vaults, key, lambda _: "Local-Pass-1", [code])
    assert [a.login for a in asked] == [".\\bob"]
    assert key.storage.accounts[primary.id].password == "Local-Pass-1"
    vaults.audit.flush()

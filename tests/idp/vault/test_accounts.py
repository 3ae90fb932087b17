"""Accounts on the key through VaultService: the task queue (OS accounts first, only removed
when done), shared accounts fanning out to every holder, templates, the primary account,
skip-password accounts completed at the workstation, the admin's password change."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.directory.passwords import PasswordChanged
from idp.errors import IdpError, SecretsLocked, Unauthorized
from idp.store.sql import Database
from idp.vault.errors import (
    AccountNotFound,
    InvalidOtpSecret,
    InvalidVaultInput,
    KeyStatusForbids,
    NameTaken,
    PasswordRefusedByDirectory,
    TaskNotFound,
    TemplateNotFound,
)
from idp.vault.model import AccountInput, LoginType, TaskKind, TaskPayload
from idp.vault.states import VaultReason
from idp.vault.tables import VaultAccountRow
from tests.idp.vault.conftest import ADMIN, KEYS, Vaults, make_vaults

OTP = "JBSWY3DPEHPK3PXPJBSWY3DP"


def _web(name: str, **more: object) -> AccountInput:
    return AccountInput(name=name, login=f"{name}-user", password="pw-" + name, **more)  # type: ignore[arg-type]


def _os(name: str, login: str, login_type: LoginType) -> AccountInput:
    return AccountInput(name=name, login=login, login_type=login_type, password="pw-" + name)


def _holder(vaults: Vaults, username: str, serial: str) -> str:
    employee = vaults.employee(username)
    code = vaults.service.assign(actor=ADMIN, serial=serial, employee_id=employee).activation_code
    vaults.service.check_activation_code(serial=serial, code=code)
    vaults.service.linked(serial=serial)
    return employee


def _deliver(vaults: Vaults, serial: str) -> list[TaskPayload]:
    """What a driver does: take the tasks in order and report each done."""
    tasks = list(vaults.service.pending_tasks(serial=serial))
    for task in tasks:
        vaults.service.task_done(serial=serial, task_id=task.id)
    return tasks


@pytest.fixture
def alice(vaults: Vaults) -> str:
    vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    return _holder(vaults, "alice", KEYS[0].serial)


def test_os_accounts_are_delivered_first(vaults: Vaults, alice: str) -> None:
    serial = KEYS[0].serial
    _deliver(vaults, serial)  # the profile
    service = vaults.service
    service.add_account(actor=ADMIN, employee_id=alice, data=_web("github"))
    domain = service.add_account(
        actor=ADMIN, employee_id=alice, data=_os("pc", "corp\\alice", LoginType.DOMAIN)
    )
    service.add_account(actor=ADMIN, employee_id=alice, data=_web("gitlab"))
    service.add_account(
        actor=ADMIN, employee_id=alice, data=_os("laptop", "alice", LoginType.LOCAL)
    )
    service.set_primary(actor=ADMIN, account_id=domain.id)
    tasks = service.pending_tasks(serial=serial)
    order = [(t.kind, t.account.name if t.account else t.account_id) for t in tasks]
    assert order == [
        (TaskKind.CREATE, "pc"),
        (TaskKind.CREATE, "laptop"),
        (TaskKind.PRIMARY, domain.id),
        (TaskKind.CREATE, "github"),
        (TaskKind.CREATE, "gitlab"),
    ]
    pc = tasks[0].account
    assert pc is not None and pc.login == "CORP\\alice" and pc.password == "pw-pc" and pc.primary
    assert tasks[1].account is not None and tasks[1].account.login == ".\\alice"


def test_a_task_leaves_the_queue_only_when_reported_done(vaults: Vaults, alice: str) -> None:
    serial = KEYS[0].serial
    first = vaults.service.pending_tasks(serial=serial)
    assert [t.kind for t in first] == [TaskKind.PROFILE]
    assert vaults.service.pending_tasks(serial=serial) == first  # reading takes nothing
    vaults.service.task_done(serial=serial, task_id=first[0].id)
    assert vaults.service.pending_tasks(serial=serial) == ()
    with pytest.raises(TaskNotFound, match=f"no pending task {first[0].id} for key {serial}"):
        vaults.service.task_done(serial=serial, task_id=first[0].id)


def test_another_keys_task_cannot_be_reported(vaults: Vaults, alice: str) -> None:
    task = vaults.service.pending_tasks(serial=KEYS[0].serial)[0]
    with pytest.raises(TaskNotFound):
        vaults.service.task_done(serial=KEYS[1].serial, task_id=task.id)
    assert len(vaults.service.pending_tasks(serial=KEYS[0].serial)) == 1


def test_tasks_wait_until_the_key_is_next_online(vaults: Vaults) -> None:
    """Accounts added before the assignment are queued with it; an edit before delivery
    rides on the pending Create; a delete drops what was not yet delivered."""
    vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    bob = vaults.employee("bob")
    github = vaults.service.add_account(actor=ADMIN, employee_id=bob, data=_web("github"))
    gone = vaults.service.add_account(actor=ADMIN, employee_id=bob, data=_web("old"))
    serial = KEYS[1].serial
    code = vaults.service.assign(actor=ADMIN, serial=serial, employee_id=bob).activation_code
    vaults.service.edit_account(
        actor=ADMIN, account_id=github.id, data=AccountInput(urls=("https://GitHub.com./",))
    )
    vaults.service.delete_account(actor=ADMIN, account_id=gone.id)
    with pytest.raises(KeyStatusForbids, match="tasks run on Active keys"):
        vaults.service.pending_tasks(serial=serial)
    vaults.service.check_activation_code(serial=serial, code=code)
    vaults.service.linked(serial=serial)
    tasks = _deliver(vaults, serial)
    assert [t.kind for t in tasks] == [TaskKind.PROFILE, TaskKind.CREATE, TaskKind.DELETE]
    assert tasks[1].account is not None and tasks[1].account.urls == ("https://github.com",)
    assert tasks[2].account_id == gone.id


def test_a_shared_account_edit_fans_out_to_every_holder(vaults: Vaults) -> None:
    vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    holders = [
        _holder(vaults, name, key.serial)
        for name, key in zip(("a1", "b2", "c3"), KEYS, strict=True)
    ]
    for key in KEYS:
        _deliver(vaults, key.serial)
    shared = vaults.service.add_shared_account(actor=ADMIN, data=_web("wifi-portal"))
    copies = [
        vaults.service.share_account(actor=ADMIN, shared_id=shared.id, employee_id=h)
        for h in holders
    ]
    assert {c.shared_id for c in copies} == {shared.id}
    for key in KEYS:
        (task,) = _deliver(vaults, key.serial)
        assert task.kind is TaskKind.CREATE and task.account is not None
        assert task.account.password == "pw-wifi-portal"
    _, serials = vaults.service.edit_shared_account(
        actor=ADMIN, shared_id=shared.id, data=AccountInput(password="new-pw", login="team")
    )
    assert sorted(serials) == sorted(k.serial for k in KEYS)
    for key, copy in zip(KEYS, copies, strict=True):
        (task,) = vaults.service.pending_tasks(serial=key.serial)
        assert task.kind is TaskKind.UPDATE and task.account_id == copy.id
        assert task.account is not None
        assert (task.account.login, task.account.password) == ("team", "new-pw")
    with pytest.raises(KeyStatusForbids, match="edit the shared account"):
        vaults.service.edit_account(actor=ADMIN, account_id=copies[0].id, data=AccountInput())
    with pytest.raises(NameTaken):
        vaults.service.share_account(actor=ADMIN, shared_id=shared.id, employee_id=holders[0])
    vaults.service.delete_shared_account(actor=ADMIN, shared_id=shared.id)
    for key, copy in zip(KEYS, copies, strict=True):
        (task,) = vaults.service.pending_tasks(serial=key.serial)
        assert (task.kind, task.account_id) == (TaskKind.DELETE, copy.id)
    assert vaults.service.list_shared_accounts() == ()


def test_templates_fill_urls_and_apps(vaults: Vaults, alice: str) -> None:
    vaults.service.add_template(
        actor=ADMIN, name="Office 365", urls=("login.microsoftonline.com",), apps=("Outlook",)
    )
    with pytest.raises(NameTaken):
        vaults.service.add_template(actor=ADMIN, name="office 365", urls=("x.com",), apps=())
    account = vaults.service.add_account(
        actor=ADMIN,
        employee_id=alice,
        data=AccountInput(login="alice@corp.example", password="pw", apps=("outlook", "Teams")),
        template="office 365",
    )
    assert account.name == "Office 365"
    assert account.urls == ("https://login.microsoftonline.com",)
    assert account.apps == ("Outlook", "Teams")
    with pytest.raises(TemplateNotFound):
        vaults.service.add_account(actor=ADMIN, employee_id=alice, data=_web("x"), template="nope")
    vaults.service.delete_template(actor=ADMIN, name="Office 365")
    assert vaults.service.list_templates() == ()


def test_editing_a_template_validates_like_adding_and_is_audited(
    vaults: Vaults, alice: str
) -> None:
    service = vaults.service
    service.add_template(actor=ADMIN, name="GitHub", urls=("github.com",), apps=())
    service.add_template(actor=ADMIN, name="GitLab", urls=("gitlab.com",), apps=())
    before = service.add_account(
        actor=ADMIN, employee_id=alice, data=AccountInput(login="a", password="pw"),
        template="github",
    )  # fmt: skip
    changed = service.edit_template(
        actor=ADMIN, name="github", rename="GitHub Enterprise", urls=("ghe.corp.example",),
        apps=("GitHub Desktop",),
    )  # fmt: skip
    assert (changed.name, changed.urls, changed.apps) == (
        "GitHub Enterprise", ("https://ghe.corp.example",), ("GitHub Desktop",),
    )  # fmt: skip
    assert service.edit_template(actor=ADMIN, name="github enterprise", apps=()).apps == ()
    # accounts made from it before keep what they got
    assert service.show_account(account_id=before.id).urls == ("https://github.com",)
    refusals: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"rename": "gitlab"}, NameTaken, "named 'gitlab' exists"),
        ({"rename": "  "}, InvalidVaultInput, "template name"),
        ({"urls": ("javascript:alert(1)",)}, InvalidVaultInput, "URL"),
        ({"urls": ()}, InvalidVaultInput, "at least one URL or app"),
    ]
    for change, error, message in refusals:
        with pytest.raises(error, match=message):
            service.edit_template(actor=ADMIN, name="GitHub Enterprise", **change)  # type: ignore[arg-type]
    with pytest.raises(TemplateNotFound):
        service.edit_template(actor=ADMIN, name="nope", apps=("x",))
    assert [(t.name, t.urls) for t in service.list_templates()] == [
        ("GitHub Enterprise", ("https://ghe.corp.example",)), ("GitLab", ("https://gitlab.com",)),
    ]  # fmt: skip
    edits = [
        (e.actor, e.details.get("template"), e.details.get("renamed_from"))
        for e in vaults.audit.list(newest_first=False).items
        if e.details.get("action") == "key_template_changed"
    ]
    assert edits == [
        (ADMIN.name, "GitHub Enterprise", "GitHub"), (ADMIN.name, "GitHub Enterprise", None),
    ]  # fmt: skip


def test_one_primary_account_and_only_an_os_one(vaults: Vaults, alice: str) -> None:
    service = vaults.service
    pc = service.add_account(
        actor=ADMIN, employee_id=alice, data=_os("pc", "C\\a", LoginType.DOMAIN)
    )
    az = service.add_account(
        actor=ADMIN, employee_id=alice, data=_os("az", "alice", LoginType.AZURE_AD)
    )
    web = service.add_account(actor=ADMIN, employee_id=alice, data=_web("web"))
    service.set_primary(actor=ADMIN, account_id=pc.id)
    service.set_primary(actor=ADMIN, account_id=az.id)
    primary = [a.name for a in service.list_accounts(employee_id=alice) if a.primary]
    assert primary == ["az"]
    with pytest.raises(InvalidVaultInput, match="webapp is not an OS login"):
        service.set_primary(actor=ADMIN, account_id=web.id)
    with pytest.raises(InvalidVaultInput, match="must stay an OS account"):
        service.edit_account(
            actor=ADMIN, account_id=az.id, data=AccountInput(login_type=LoginType.WEB_APP)
        )


def test_skip_password_account_is_completed_at_the_workstation(db: Database) -> None:
    checked: list[tuple[str, str, str]] = []

    def directory(employee_id: str, login: str, password: str) -> None:
        checked.append((employee_id, login, password))
        if password == "wrong":
            raise Unauthorized("the directory refused the bind")
        if password == "later":  # unreachable: passed on as is, to be tried again
            raise SecretsLocked("the directory is not answering")

    vaults = make_vaults(db, password_check=directory)
    vaults.service.import_keys(actor=ADMIN, keys=KEYS)
    alice = _holder(vaults, "alice", KEYS[0].serial)
    serial = KEYS[0].serial
    _deliver(vaults, serial)
    skip = AccountInput(
        name="pc", login="CORP\\alice", login_type=LoginType.DOMAIN, skip_password=True
    )
    account = vaults.service.add_account(actor=ADMIN, employee_id=alice, data=skip)
    (created,) = _deliver(vaults, serial)
    assert created.account is not None and created.account.password is None
    with pytest.raises(PasswordRefusedByDirectory, match="does not accept this password"):
        vaults.service.user_password(serial=serial, account_id=account.id, password="wrong")
    assert vaults.service.pending_tasks(serial=serial) == ()  # nothing stored
    with pytest.raises(SecretsLocked, match="not answering"):
        vaults.service.user_password(serial=serial, account_id=account.id, password="later")
    assert vaults.service.pending_tasks(serial=serial) == ()
    vaults.service.user_password(serial=serial, account_id=account.id, password="Right-1")
    assert checked[-1] == (alice, "CORP\\alice", "Right-1")
    (update,) = vaults.service.pending_tasks(serial=serial)
    assert update.kind is TaskKind.UPDATE and update.account is not None
    assert update.account.password == "Right-1"
    with db.transaction() as s:
        stored = s.scalars(select(VaultAccountRow.password)).one()
    assert stored is not None and b"Right-1" not in stored
    vaults.audit.flush()


def test_user_password_is_refused_for_admin_managed_or_foreign_accounts(
    vaults: Vaults, alice: str
) -> None:
    serial = KEYS[0].serial
    web = vaults.service.add_account(actor=ADMIN, employee_id=alice, data=_web("web"))
    with pytest.raises(KeyStatusForbids, match="takes its password from an admin"):
        vaults.service.user_password(serial=serial, account_id=web.id, password="x")
    bob = _holder(vaults, "bob", KEYS[1].serial)
    skip = AccountInput(name="n", login="l", skip_password=True)
    bobs = vaults.service.add_account(actor=ADMIN, employee_id=bob, data=skip)
    with pytest.raises(AccountNotFound, match=f"key {serial} holds no account"):
        vaults.service.user_password(serial=serial, account_id=bobs.id, password="x")


def test_admin_password_change_depends_on_the_key_status(vaults: Vaults, alice: str) -> None:
    serial = KEYS[0].serial
    _deliver(vaults, serial)
    account = vaults.service.add_account(actor=ADMIN, employee_id=alice, data=_web("web"))
    _deliver(vaults, serial)
    changed = vaults.service.change_password(actor=ADMIN, account_id=account.id, password="n3w")
    assert changed.has_password and "n3w" not in repr(changed)
    (task,) = vaults.service.pending_tasks(serial=serial)
    assert task.account is not None and task.account.password == "n3w"
    vaults.service.key_locked(serial=serial)
    with pytest.raises(KeyStatusForbids, match=f"key {serial} is locked"):
        vaults.service.change_password(actor=ADMIN, account_id=account.id, password="again")
    with pytest.raises(InvalidVaultInput, match="must not be empty"):
        vaults.service.change_password(actor=ADMIN, account_id=account.id, password="")


def test_otp_secrets_are_validated_and_stored_bare(vaults: Vaults, alice: str) -> None:
    serial = KEYS[0].serial
    _deliver(vaults, serial)
    account = vaults.service.add_account(actor=ADMIN, employee_id=alice, data=_web("web"))
    uri = f"otpauth://totp/Corp:alice?secret={OTP.lower()}&issuer=Corp"
    assert vaults.service.set_otp(actor=ADMIN, account_id=account.id, otp_secret=uri).has_otp
    (task,) = vaults.service.pending_tasks(serial=serial)
    assert task.account is not None and task.account.otp_secret == OTP
    for bad, message in (
        ("not base32 !", "not base32"),
        ("JBSWY3DP", "at least 10 bytes"),
        ("otpauth://hotp/x?secret=" + OTP, "only otpauth://totp/"),
        ("otpauth://totp/x?issuer=a", "exactly one secret="),
        ("A" * 600, "at most 512"),
    ):
        with pytest.raises((InvalidOtpSecret, IdpError), match=message):
            vaults.service.set_otp(actor=ADMIN, account_id=account.id, otp_secret=bad)
    assert not vaults.service.set_otp(actor=ADMIN, account_id=account.id, otp_secret=None).has_otp


def test_deactivation_soft_deletes_the_employees_accounts(vaults: Vaults, alice: str) -> None:
    account = vaults.service.add_account(actor=ADMIN, employee_id=alice, data=_web("web"))
    vaults.service.deactivate(actor=ADMIN, serial=KEYS[0].serial, reason=VaultReason.WITHDRAWAL)
    assert vaults.service.list_accounts(employee_id=alice) == ()
    with pytest.raises(AccountNotFound):
        vaults.service.edit_account(actor=ADMIN, account_id=account.id, data=AccountInput())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (AccountInput(name="n", login="l"), "give the account a password, or mark it"),
        (AccountInput(name="n", login="l", password="p", skip_password=True), "gets its password"),
        (AccountInput(name="n", password="p"), "needs a name and a login"),
        (
            AccountInput(name="n", login="a\\b\\c", login_type=LoginType.LOCAL, password="p"),
            "Local login",
        ),
        (
            AccountInput(name="n", login="alice", login_type=LoginType.DOMAIN, password="p"),
            "DOMAIN\\\\login",
        ),
        (
            AccountInput(name="n", login="Other\\a", login_type=LoginType.AZURE_AD, password="p"),
            "AzureAD",
        ),
        (
            AccountInput(name="n", login="alice", login_type=LoginType.MICROSOFT, password="p"),
            "e-mail",
        ),
        (AccountInput(name="n", login="l", password="p", urls=("ftp://x.com",)), "http\\(s\\) URL"),
        (AccountInput(name="n", login="l", password="p", urls=("https://",)), "http\\(s\\) URL"),
        (AccountInput(name="n", login="l", password="p", urls=("x.com",) * 33), "at most 32 URLs"),
        (AccountInput(name="n" * 256, login="l", password="p"), "at most 255"),
        (AccountInput(name="n", login="l", password="p" * 257), "at most 256"),
        (AccountInput(name="n\u202e", login="l", password="p"), "control characters"),
    ],
)
def test_malformed_accounts_are_refused_and_nothing_is_stored(
    sqlite_vaults: Vaults, data: AccountInput, message: str
) -> None:
    vaults = sqlite_vaults  # validation runs before any query: one engine is enough
    alice = vaults.employee("alice")
    with pytest.raises(IdpError, match=message) as caught:
        vaults.service.add_account(actor=ADMIN, employee_id=alice, data=data)
    assert caught.value.status in (400, 413)
    assert vaults.service.list_accounts(employee_id=alice) == ()


def test_user_password_needs_an_active_key(vaults: Vaults, alice: str) -> None:
    serial = KEYS[0].serial
    skip = AccountInput(
        name="pc", login="CORP\\alice", login_type=LoginType.DOMAIN, skip_password=True
    )
    account = vaults.service.add_account(actor=ADMIN, employee_id=alice, data=skip)
    vaults.service.key_locked(serial=serial)
    with pytest.raises(
        KeyStatusForbids, match=f"key {serial} is locked: passwords come from Active"
    ):
        vaults.service.user_password(serial=serial, account_id=account.id, password="x")


def test_a_directory_password_change_follows_to_the_key(vaults: Vaults, alice: str) -> None:
    serial = KEYS[0].serial
    service = vaults.service
    domain = service.add_account(
        actor=ADMIN, employee_id=alice, data=_os("pc", "CORP\\Alice", LoginType.DOMAIN)
    )
    service.add_account(
        actor=ADMIN, employee_id=alice, data=_os("svc", "CORP\\svc", LoginType.DOMAIN)
    )
    service.add_account(actor=ADMIN, employee_id=alice, data=_web("alice"))
    _deliver(vaults, serial)
    changed = PasswordChanged(alice, "alice", "corp-ad", "reset", vaults.clock(), "Fresh-Pass-1")
    assert service.directory_password_changed(changed=changed) == (domain.id,)
    (task,) = service.pending_tasks(serial=serial)
    assert task.kind is TaskKind.UPDATE and task.account is not None
    assert task.account.password == "Fresh-Pass-1"
    (event,) = [
        e
        for e in vaults.audit.list().items
        if e.details.get("action") == "key_account_password_from_directory"
    ]
    assert event.actor == "directory:corp-ad" and "Fresh-Pass-1" not in str(event.details)

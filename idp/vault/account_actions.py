"""The account half of :class:`idp.vault.service.VaultService`: personal and shared accounts,
templates, OTP secrets, the primary account and the admin's password change.

Every change is queued as a task for the holder's key (a shared account's for every holder's
key). Passwords and OTP secrets are stored encrypted, each bound to its account by its AAD.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from idp.admin.access import Actor
from idp.audit import AuditKind
from idp.directory.passwords import PasswordChanged
from idp.vault import account_rules
from idp.vault.base import VaultBase
from idp.vault.driver import ACCOUNT_OTP, ACCOUNT_PASSWORD
from idp.vault.errors import InvalidVaultInput, KeyStatusForbids, NameTaken
from idp.vault.model import Account, AccountInput, LoginType, TaskKind, Template
from idp.vault.states import VaultStatus
from idp.vault.store import VaultTx, account_from_row, template_from_row
from idp.vault.tables import VaultAccountRow, VaultSharedAccountRow, VaultTemplateRow

SHARED_PASSWORD = "vault_shared_password"
SHARED_OTP = "vault_shared_otp"
#: an admin may change an account's password while its holder's key is one of these (or none)
_PASSWORD_CHANGE_ALLOWED = (VaultStatus.READY, VaultStatus.RESERVED, VaultStatus.ACTIVE)
#: the login types whose password the directory (AD, Entra ID) holds
_DIRECTORY_LOGINS = (LoginType.DOMAIN, LoginType.AZURE_AD)


@dataclass(frozen=True)
class _Fields:
    name: str
    login: str
    login_type: LoginType
    urls: list[str]
    apps: list[str]


def _fields(
    data: AccountInput,
    current: VaultAccountRow | VaultSharedAccountRow | None,
    template: VaultTemplateRow | None = None,
) -> _Fields:
    """The account's fields after ``data`` (``None`` keeps the current value), normalised."""
    login_type = data.login_type or (
        LoginType(current.login_type) if current else LoginType.WEB_APP
    )
    name = data.name if data.name is not None else (current.name if current else None)
    if name is None and template is not None:
        name = template.name
    login = data.login if data.login is not None else (current.login if current else None)
    if name is None or login is None:
        raise InvalidVaultInput("an account needs a name and a login")
    urls = data.urls if data.urls is not None else tuple(current.urls if current else ())
    apps = data.apps if data.apps is not None else tuple(current.apps if current else ())
    if template is not None:
        urls, apps = tuple(template.urls) + urls, tuple(template.apps) + apps
    return _Fields(
        account_rules.text(name, "account name"),
        account_rules.login(login, login_type),
        login_type,
        list(account_rules.urls(urls)),
        list(account_rules.apps(apps)),
    )


def _apply(row: VaultAccountRow | VaultSharedAccountRow, fields: _Fields, now: dt.datetime) -> None:
    row.name, row.login, row.login_type = fields.name, fields.login, fields.login_type.value
    row.urls, row.apps, row.updated_at = fields.urls, fields.apps, now


class AccountActions(VaultBase):
    # -- personal accounts -------------------------------------------------------------------

    def add_account(
        self,
        *,
        actor: Actor,
        employee_id: str,
        data: AccountInput,
        template: str | None = None,
    ) -> Account:
        """A personal account; with ``skip_password`` the user types the password later."""
        now = self._begin("adding an account", actor)
        self._require_employee(employee_id)
        with self.store.write() as tx:
            found = tx.template_named(template) if template is not None else None
            fields = _fields(data, None, found)
            password, otp = self._secret_inputs(data, new=True)
            row = VaultAccountRow(
                id=secrets.token_hex(8),
                employee_id=employee_id,
                skip_password=bool(data.skip_password),
                primary=False,
                created_at=now,
            )
            _apply(row, fields, now)
            tx.s.add(row)
            self._store_secrets(row, password, otp)
            self._queue_for_holder(tx, row, TaskKind.CREATE, now)
            tx.s.flush()
            account = account_from_row(row)
        self._changed(actor, now, "key_account_added", account)
        return account

    @staticmethod
    def _secret_inputs(data: AccountInput, *, new: bool) -> tuple[str | None, str | None]:
        password = None if data.password is None else account_rules.password(data.password)
        otp = None if data.otp_secret is None else account_rules.otp_secret(data.otp_secret)
        if data.skip_password and password is not None:
            raise InvalidVaultInput("a skip-password account gets its password from the user")
        if new and not data.skip_password and password is None:
            raise InvalidVaultInput("give the account a password, or mark it skip-password")
        return password, otp

    def _store_secrets(self, row: VaultAccountRow, password: str | None, otp: str | None) -> None:
        if password is not None:
            row.password = self._seal(ACCOUNT_PASSWORD, row.id, password.encode("utf-8"))
        if otp is not None:
            row.otp_secret = self._seal(ACCOUNT_OTP, row.id, otp.encode("ascii"))

    def _personal(self, tx: VaultTx, account_id: str, what: str) -> VaultAccountRow:
        row = tx.account(account_id)
        if row.shared_id is not None:
            raise KeyStatusForbids(
                f"account {account_id} is a copy of shared account {row.shared_id}: {what} "
                "the shared account (every holder's copy follows)"
            )
        return row

    def edit_account(self, *, actor: Actor, account_id: str, data: AccountInput) -> Account:
        now = self._begin("editing an account", actor)
        with self.store.write() as tx:
            row = self._personal(tx, account_id, "edit")
            fields = _fields(data, row)
            if row.primary and not fields.login_type.is_os:
                raise InvalidVaultInput("the primary account must stay an OS account")
            password, otp = self._secret_inputs(data, new=False)
            if data.skip_password is not None:
                row.skip_password = data.skip_password
            _apply(row, fields, now)
            self._store_secrets(row, password, otp)
            self._queue_for_holder(tx, row, TaskKind.UPDATE, now)
            account = account_from_row(row)
        self._changed(actor, now, "key_account_changed", account)
        return account

    def delete_account(self, *, actor: Actor, account_id: str) -> None:
        """Soft-delete the account (a shared account's copy too: that holder loses it)."""
        now = self._begin("deleting an account", actor)
        with self.store.write() as tx:
            row = tx.account(account_id)
            row.deleted_at, row.primary = now, False
            self._queue_for_holder(tx, row, TaskKind.DELETE, now)
            account = account_from_row(row)
        self._changed(actor, now, "key_account_deleted", account)

    def list_accounts(self, *, employee_id: str) -> tuple[Account, ...]:
        self._begin("listing accounts")
        self._require_employee(employee_id)
        with self.store.read() as tx:
            return tuple(account_from_row(row) for row in tx.accounts_of(employee_id))

    def show_account(self, *, account_id: str) -> Account:
        """One live personal account (a shared account's copy included)."""
        self._begin("showing an account")
        with self.store.read() as tx:
            return account_from_row(tx.account(account_id))

    def set_primary(self, *, actor: Actor, account_id: str) -> Account:
        """The employee's account for Windows logon (one per employee; an OS account)."""
        now = self._begin("setting the primary account", actor)
        with self.store.write() as tx:
            row = tx.account(account_id)
            if not LoginType(row.login_type).is_os:
                raise InvalidVaultInput(
                    f"the primary account logs on to Windows: {row.login_type} is not an OS login"
                )
            for other in tx.accounts_of(row.employee_id):
                other.primary = other.id == row.id
            self._queue_for_holder(tx, row, TaskKind.PRIMARY, now)
            account = account_from_row(row)
        self._changed(actor, now, "key_account_primary", account)
        return account

    def change_password(self, *, actor: Actor, account_id: str, password: str) -> Account:
        """An admin's new password for an account (never shown again), delivered to the key
        at its next connection; only while the holder's key is Ready, Reserved or Active."""
        now = self._begin("changing an account's password", actor)
        value = account_rules.password(password)
        with self.store.write() as tx:
            row = self._personal(tx, account_id, "change the password of")
            vault = tx.vault_of(row.employee_id)
            if vault is not None and VaultStatus(vault.status) not in _PASSWORD_CHANGE_ALLOWED:
                raise KeyStatusForbids(
                    f"the holder's key {vault.serial} is {vault.status}: a password can be "
                    "changed while it is ready, reserved or active"
                )
            self._store_secrets(row, value, None)
            row.updated_at = now
            self._queue_for_holder(tx, row, TaskKind.UPDATE, now)
            account = account_from_row(row)
        self._changed(actor, now, "key_account_password_changed", account)
        return account

    def set_otp(self, *, actor: Actor, account_id: str, otp_secret: str | None) -> Account:
        """Set (base32 or otpauth:// URI) or, with ``None``, remove an account's OTP secret."""
        now = self._begin("setting an OTP secret", actor)
        secret = None if otp_secret is None else account_rules.otp_secret(otp_secret)
        with self.store.write() as tx:
            row = self._personal(tx, account_id, "set the OTP secret of")
            if secret is None:
                row.otp_secret = None
            self._store_secrets(row, None, secret)
            row.updated_at = now
            self._queue_for_holder(tx, row, TaskKind.UPDATE, now)
            account = account_from_row(row)
        self._changed(actor, now, "key_account_otp_set", account)
        return account

    def directory_password_changed(self, *, changed: PasswordChanged) -> tuple[str, ...]:
        """The directory took a new password (admin reset, the employee's change, rotation):
        the employee's directory accounts on the key follow at its next connection — Domain
        and AzureAD accounts whose user name is theirs. The ids of the accounts changed."""
        now = self._begin("a directory password change")
        value = account_rules.password(changed.password)
        user = changed.username.lower()
        updated = []
        with self.store.write() as tx:
            for row in tx.accounts_of(changed.employee_id):
                login_type = LoginType(row.login_type)
                name = row.login.rpartition("\\")[2].lower()
                if login_type not in _DIRECTORY_LOGINS or row.shared_id or name != user:
                    continue
                self._store_secrets(row, value, None)
                row.updated_at = now
                self._queue_for_holder(tx, row, TaskKind.UPDATE, now)
                updated.append(row.id)
        for account_id in updated:
            self._audit(
                AuditKind.ADMIN_CHANGE,
                f"directory:{changed.source}",
                now,
                employee_id=changed.employee_id,
                action="key_account_password_from_directory",
                account=account_id,
                how=changed.how,
            )
        return tuple(updated)

    # -- shared accounts ---------------------------------------------------------------------

    def add_shared_account(self, *, actor: Actor, data: AccountInput) -> Account:
        now = self._begin("adding a shared account", actor)
        if data.skip_password:
            raise InvalidVaultInput("a shared account cannot be skip-password")
        password, otp = self._secret_inputs(data, new=True)
        with self.store.write() as tx:
            row = VaultSharedAccountRow(id=secrets.token_hex(8), created_at=now)
            _apply(row, _fields(data, None), now)
            self._seal_shared(row, password, otp)
            tx.s.add(row)
            tx.s.flush()
            account = account_from_row(row)
        self._changed(actor, now, "key_shared_account_added", account)
        return account

    def _seal_shared(
        self, row: VaultSharedAccountRow, password: str | None, otp: str | None
    ) -> None:
        if password is not None:
            row.password = self._seal(SHARED_PASSWORD, row.id, password.encode("utf-8"))
        if otp is not None:
            row.otp_secret = self._seal(SHARED_OTP, row.id, otp.encode("ascii"))

    def _copy_shared(self, shared: VaultSharedAccountRow, copy: VaultAccountRow) -> None:
        """The copy gets the shared account's fields and secrets (re-sealed for the copy)."""
        copy.name, copy.login, copy.login_type = shared.name, shared.login, shared.login_type
        copy.urls, copy.apps, copy.updated_at = (
            list(shared.urls),
            list(shared.apps),
            shared.updated_at,
        )
        password = self._open_text(SHARED_PASSWORD, shared.id, shared.password)
        otp = self._open_text(SHARED_OTP, shared.id, shared.otp_secret)
        copy.password = copy.otp_secret = None
        self._store_secrets(copy, password, otp)

    def share_account(self, *, actor: Actor, shared_id: str, employee_id: str) -> Account:
        """Give an employee a copy of a shared account (queued for their key)."""
        now = self._begin("sharing an account", actor)
        self._require_employee(employee_id)
        with self.store.write() as tx:
            shared = tx.shared(shared_id)
            if any(a.shared_id == shared_id for a in tx.accounts_of(employee_id)):
                raise NameTaken(f"the employee already holds shared account {shared_id}")
            copy = VaultAccountRow(
                id=secrets.token_hex(8),
                employee_id=employee_id,
                shared_id=shared_id,
                skip_password=False,
                primary=False,
                created_at=now,
            )
            tx.s.add(copy)
            self._copy_shared(shared, copy)
            self._queue_for_holder(tx, copy, TaskKind.CREATE, now)
            tx.s.flush()
            account = account_from_row(copy)
        self._changed(actor, now, "key_shared_account_given", account)
        return account

    def edit_shared_account(
        self, *, actor: Actor, shared_id: str, data: AccountInput
    ) -> tuple[Account, tuple[str, ...]]:
        """Change a shared account: every holder's copy follows and is queued for their key.
        Returns the account and the serials of the keys the change was queued for."""
        now = self._begin("editing a shared account", actor)
        if data.skip_password:
            raise InvalidVaultInput("a shared account cannot be skip-password")
        password, otp = self._secret_inputs(data, new=False)
        with self.store.write() as tx:
            shared = tx.shared(shared_id)
            fields = _fields(data, shared)
            for copy in tx.copies(shared_id):
                if copy.primary and not fields.login_type.is_os:
                    raise InvalidVaultInput(
                        f"copy {copy.id} is a primary account: keep an OS login"
                    )
            _apply(shared, fields, now)
            self._seal_shared(shared, password, otp)
            serials = []
            for copy in tx.copies(shared_id):
                self._copy_shared(shared, copy)
                serial = self._queue_for_holder(tx, copy, TaskKind.UPDATE, now)
                serials.extend([serial] if serial else [])
            account = account_from_row(shared)
        self._changed(actor, now, "key_shared_account_changed", account, keys=str(len(serials)))
        return account, tuple(serials)

    def delete_shared_account(self, *, actor: Actor, shared_id: str) -> None:
        now = self._begin("deleting a shared account", actor)
        with self.store.write() as tx:
            shared = tx.shared(shared_id)
            shared.deleted_at = now
            for copy in tx.copies(shared_id):
                copy.deleted_at, copy.primary = now, False
                self._queue_for_holder(tx, copy, TaskKind.DELETE, now)
            account = account_from_row(shared)
        self._changed(actor, now, "key_shared_account_deleted", account)

    def show_shared_account(self, *, shared_id: str) -> tuple[Account, tuple[Account, ...]]:
        """A shared account and its holders' copies."""
        self._begin("showing a shared account")
        with self.store.read() as tx:
            shared = account_from_row(tx.shared(shared_id))
            return shared, tuple(account_from_row(row) for row in tx.copies(shared_id))

    def list_shared_accounts(self) -> tuple[Account, ...]:
        self._begin("listing shared accounts")
        with self.store.read() as tx:
            return tuple(account_from_row(row) for row in tx.shared_accounts())

    # -- templates ---------------------------------------------------------------------------

    def add_template(
        self, *, actor: Actor, name: str, urls: tuple[str, ...], apps: tuple[str, ...]
    ) -> Template:
        now = self._begin("adding an account template", actor)
        row = VaultTemplateRow(
            id=secrets.token_hex(8),
            name=account_rules.text(name, "template name"),
            urls=list(account_rules.urls(urls)),
            apps=list(account_rules.apps(apps)),
        )
        if not row.urls and not row.apps:
            raise InvalidVaultInput("a template names at least one URL or app")
        with self.store.write() as tx:
            if any(t.name.lower() == row.name.lower() for t in tx.templates()):
                raise NameTaken(f"an account template named {row.name!r} exists")
            tx.s.add(row)
            tx.s.flush()
            template = template_from_row(row)
        self._audit(
            AuditKind.ADMIN_CHANGE,
            actor.name,
            now,
            action="key_template_added",
            template=template.name,
        )
        return template

    def edit_template(
        self,
        *,
        actor: Actor,
        name: str,
        rename: str | None = None,
        urls: tuple[str, ...] | None = None,
        apps: tuple[str, ...] | None = None,
    ) -> Template:
        """Change a template's name, URLs or apps (``None`` keeps the value), validated as
        when it was added. Accounts made from it before keep what they got then."""
        now = self._begin("editing an account template", actor)
        new_name = None if rename is None else account_rules.text(rename, "template name")
        new_urls = None if urls is None else list(account_rules.urls(urls))
        new_apps = None if apps is None else list(account_rules.apps(apps))
        with self.store.write() as tx:
            row = tx.template_named(name)
            before = row.name
            taken = {t.name.lower() for t in tx.templates()} - {before.lower()}
            if new_name is not None and new_name.lower() in taken:
                raise NameTaken(f"an account template named {new_name!r} exists")
            row.name = before if new_name is None else new_name
            row.urls = list(row.urls) if new_urls is None else new_urls
            row.apps = list(row.apps) if new_apps is None else new_apps
            if not row.urls and not row.apps:
                raise InvalidVaultInput("a template names at least one URL or app")
            template = template_from_row(row)
        details = {"action": "key_template_changed", "template": template.name}
        if before != template.name:
            details["renamed_from"] = before
        self._audit_log.append_event(
            kind=AuditKind.ADMIN_CHANGE, at=now, actor=actor.name, factor="hardware_vault",
            details=details,
        )  # fmt: skip
        return template

    def list_templates(self) -> tuple[Template, ...]:
        self._begin("listing account templates")
        with self.store.read() as tx:
            return tuple(template_from_row(row) for row in tx.templates())

    def delete_template(self, *, actor: Actor, name: str) -> None:
        now = self._begin("deleting an account template", actor)
        with self.store.write() as tx:
            tx.s.delete(tx.template_named(name))
        self._audit(
            AuditKind.ADMIN_CHANGE,
            actor.name,
            now,
            action="key_template_deleted",
            template=name,
        )

    def _changed(
        self, actor: Actor, now: dt.datetime, action: str, account: Account, **more: str
    ) -> None:
        self._audit_log.append_event(
            kind=AuditKind.ADMIN_CHANGE,
            at=now,
            actor=actor.name,
            employee_id=account.employee_id,
            factor="hardware_vault",
            details={"action": action, "account": account.id, **more},
        )

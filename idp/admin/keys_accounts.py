"""Accounts on the Hideez Keys as admin resources: an employee's personal accounts, shared
accounts (an edit fans out to every holder's copy and is queued for their keys) and account
templates — one permission-checked method per action over
:class:`idp.vault.service.VaultService`.

Secrets: passwords and OTP secrets are write-only (no answer ever carries one, only
``has_password``/``has_otp``); giving or removing one also needs the ``secrets`` permission,
which the ``helpdesk`` role lacks — helpdesk manages accounts without touching their secrets
(a skip-password account, the user types the password at the workstation).
"""

from __future__ import annotations

from idp.admin.access import Actor, Permission, check, requires
from idp.admin.keys_models import (
    HolderOut,
    KeyAccountCreate,
    KeyAccountOut,
    KeyAccountUpdate,
    OtpIn,
    PasswordIn,
    SharedAccountCreate,
    SharedAccountEdited,
    SharedAccountOut,
    SharedAccountUpdate,
    ShareIn,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
)
from idp.admin.models import Items, check_if_match, field_error
from idp.runtime import Runtime
from idp.vault.errors import TemplateNotFound
from idp.vault.model import Account, AccountInput, Template
from idp.vault.service import VaultService

_ID = 64


def _input(
    body: KeyAccountCreate | KeyAccountUpdate | SharedAccountCreate | SharedAccountUpdate,
    *,
    password: str | None = None,
    skip_password: bool | None = None,
) -> AccountInput:
    return AccountInput(
        name=body.name,
        login=body.login,
        login_type=body.login_type,
        urls=None if body.urls is None else tuple(body.urls),
        apps=None if body.apps is None else tuple(body.apps),
        password=password,
        otp_secret=body.otp_secret,
        skip_password=skip_password,
    )


class KeyAccountAdmin:
    def __init__(self, runtime: Runtime, vault: VaultService) -> None:
        self._rt = runtime
        self._vault = vault

    # -- personal accounts -------------------------------------------------------------------

    @requires(Permission.KEYS_READ)
    def accounts(self, actor: Actor, employee_id: str) -> Items[KeyAccountOut]:
        found = self._vault.list_accounts(employee_id=employee_id[:_ID])
        return Items[KeyAccountOut](items=[KeyAccountOut.of(a) for a in found])

    @requires(Permission.KEYS_READ)
    def get(self, actor: Actor, account_id: str) -> KeyAccountOut:
        return KeyAccountOut.of(self._vault.show_account(account_id=account_id[:_ID]))

    @requires(Permission.KEYS_WRITE)
    def create(self, actor: Actor, employee_id: str, body: KeyAccountCreate) -> KeyAccountOut:
        if body.has_secret:
            check(actor, Permission.SECRETS)
        template = self._template_name(body.template_id) if body.template_id else None
        data = _input(body, password=body.password, skip_password=body.skip_password)
        added = self._vault.add_account(
            actor=actor, employee_id=employee_id[:_ID], data=data, template=template
        )
        return KeyAccountOut.of(added)

    @requires(Permission.KEYS_WRITE)
    def update(
        self, actor: Actor, account_id: str, body: KeyAccountUpdate, *, if_match: str | None
    ) -> KeyAccountOut:
        if body.has_secret:
            check(actor, Permission.SECRETS)
        check_if_match(if_match, self.get(actor, account_id))
        data = _input(body, skip_password=body.skip_password)
        return KeyAccountOut.of(
            self._vault.edit_account(actor=actor, account_id=account_id[:_ID], data=data)
        )

    @requires(Permission.KEYS_WRITE)
    def delete(self, actor: Actor, account_id: str, *, if_match: str | None) -> None:
        if if_match is not None:
            check_if_match(if_match, self.get(actor, account_id))
        self._vault.delete_account(actor=actor, account_id=account_id[:_ID])

    @requires(Permission.KEYS_WRITE)
    def set_primary(self, actor: Actor, account_id: str) -> KeyAccountOut:
        """The employee's Windows logon account (an OS login; one per employee)."""
        return KeyAccountOut.of(self._vault.set_primary(actor=actor, account_id=account_id[:_ID]))

    @requires(Permission.SECRETS)
    def change_password(self, actor: Actor, account_id: str, body: PasswordIn) -> KeyAccountOut:
        """A new password, never shown again; only while the holder's key is Ready, Reserved
        or Active (or there is none)."""
        changed = self._vault.change_password(
            actor=actor, account_id=account_id[:_ID], password=body.password
        )
        return KeyAccountOut.of(changed)

    @requires(Permission.SECRETS)
    def set_otp(self, actor: Actor, account_id: str, body: OtpIn) -> KeyAccountOut:
        changed = self._vault.set_otp(
            actor=actor, account_id=account_id[:_ID], otp_secret=body.otp_secret
        )
        return KeyAccountOut.of(changed)

    @requires(Permission.SECRETS)
    def remove_otp(self, actor: Actor, account_id: str) -> KeyAccountOut:
        changed = self._vault.set_otp(actor=actor, account_id=account_id[:_ID], otp_secret=None)
        return KeyAccountOut.of(changed)

    # -- shared accounts ---------------------------------------------------------------------

    def _shared_out(self, shared: Account, copies: tuple[Account, ...]) -> SharedAccountOut:
        holders = []
        for copy in copies:
            employee = self._rt.employees.get(copy.employee_id) if copy.employee_id else None
            holders.append(
                HolderOut(
                    employee_id=copy.employee_id or "",
                    employee_username=employee.username if employee else None,
                    account_id=copy.id,
                )
            )
        return SharedAccountOut(
            id=shared.id, name=shared.name, login=shared.login, login_type=shared.login_type,
            urls=list(shared.urls), apps=list(shared.apps), has_password=shared.has_password,
            has_otp=shared.has_otp, created_at=shared.created_at, updated_at=shared.updated_at,
            holders=holders,
        )  # fmt: skip

    @requires(Permission.KEYS_READ)
    def shared_list(self, actor: Actor) -> Items[SharedAccountOut]:
        found = self._vault.list_shared_accounts()
        return Items[SharedAccountOut](
            items=[
                self._shared_out(*self._vault.show_shared_account(shared_id=a.id)) for a in found
            ]
        )

    @requires(Permission.KEYS_READ)
    def shared_get(self, actor: Actor, shared_id: str) -> SharedAccountOut:
        return self._shared_out(*self._vault.show_shared_account(shared_id=shared_id[:_ID]))

    @requires(Permission.SECRETS)
    def shared_create(self, actor: Actor, body: SharedAccountCreate) -> SharedAccountOut:
        """A shared account always has a password: creating one needs ``secrets``."""
        added = self._vault.add_shared_account(
            actor=actor, data=_input(body, password=body.password)
        )
        return self._shared_out(added, ())

    @requires(Permission.KEYS_WRITE)
    def shared_update(
        self, actor: Actor, shared_id: str, body: SharedAccountUpdate, *, if_match: str | None
    ) -> SharedAccountEdited:
        if body.has_secret:
            check(actor, Permission.SECRETS)
        check_if_match(if_match, self.shared_get(actor, shared_id))
        _, serials = self._vault.edit_shared_account(
            actor=actor, shared_id=shared_id[:_ID], data=_input(body, password=body.password)
        )
        return SharedAccountEdited(
            account=self.shared_get(actor, shared_id), queued_for=list(serials)
        )

    @requires(Permission.KEYS_WRITE)
    def shared_delete(self, actor: Actor, shared_id: str, *, if_match: str | None) -> None:
        """Every holder's copy goes too (a Delete is queued for each holder's key)."""
        if if_match is not None:
            check_if_match(if_match, self.shared_get(actor, shared_id))
        self._vault.delete_shared_account(actor=actor, shared_id=shared_id[:_ID])

    @requires(Permission.KEYS_WRITE)
    def share(self, actor: Actor, shared_id: str, body: ShareIn) -> KeyAccountOut:
        """Give an employee a copy (queued for their key)."""
        copy = self._vault.share_account(
            actor=actor, shared_id=shared_id[:_ID], employee_id=body.employee_id
        )
        return KeyAccountOut.of(copy)

    # -- templates ---------------------------------------------------------------------------

    def _template(self, template_id: str) -> Template:
        for t in self._vault.list_templates():
            if t.id == template_id:
                return t
        raise TemplateNotFound(f"no account template {template_id[:_ID]!r}")

    def _template_name(self, template_id: str) -> str:
        try:
            return self._template(template_id).name
        except TemplateNotFound as exc:
            raise field_error("template_id", exc.description) from None

    @requires(Permission.KEYS_READ)
    def templates(self, actor: Actor) -> Items[TemplateOut]:
        return Items[TemplateOut](items=[TemplateOut.of(t) for t in self._vault.list_templates()])

    @requires(Permission.KEYS_READ)
    def template(self, actor: Actor, template_id: str) -> TemplateOut:
        return TemplateOut.of(self._template(template_id))

    @requires(Permission.KEYS_WRITE)
    def create_template(self, actor: Actor, body: TemplateCreate) -> TemplateOut:
        made = self._vault.add_template(
            actor=actor, name=body.name, urls=tuple(body.urls), apps=tuple(body.apps)
        )
        return TemplateOut.of(made)

    @requires(Permission.KEYS_WRITE)
    def update_template(
        self, actor: Actor, template_id: str, body: TemplateUpdate, *, if_match: str | None
    ) -> TemplateOut:
        """Rename it or change its URLs and apps (accounts made from it keep theirs)."""
        current = self._template(template_id)
        check_if_match(if_match, TemplateOut.of(current))
        changed = self._vault.edit_template(
            actor=actor, name=current.name, rename=body.name,
            urls=None if body.urls is None else tuple(body.urls),
            apps=None if body.apps is None else tuple(body.apps),
        )  # fmt: skip
        return TemplateOut.of(changed)

    @requires(Permission.KEYS_WRITE)
    def delete_template(self, actor: Actor, template_id: str) -> None:
        self._vault.delete_template(actor=actor, name=self._template(template_id).name)

"""``/api/v1/…/key-accounts``, ``/api/v1/shared-accounts`` and ``/api/v1/key-templates``:
the accounts on the Hideez Keys and the templates for them."""

from __future__ import annotations

from flask_idp.api import operation, services
from idp.admin.access import Actor
from idp.admin.keys_accounts import KeyAccountAdmin as A
from idp.admin.keys_models import (
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
from idp.admin.models import Items

TAG = "key-accounts"
ONE = "/key-accounts/{account_id}"
SHARED = "/shared-accounts/{shared_id}"
TEMPLATE = "/key-templates/{template_id}"


@operation(
    "GET",
    "/employees/{employee_id}/key-accounts",
    summary="An employee's accounts on their key (personal and copies of shared ones)",
    tag=TAG,
    needs=A.accounts,
    response=Items[KeyAccountOut],
)
def list_key_accounts(actor: Actor, *, employee_id: str) -> Items[KeyAccountOut]:
    return services().key_accounts.accounts(actor, employee_id)


@operation(
    "POST",
    "/employees/{employee_id}/key-accounts",
    summary="Add a personal account (a password or OTP secret needs `secrets`)",
    tag=TAG,
    needs=A.create,
    body=KeyAccountCreate,
    response=KeyAccountOut,
    status=201,
    idempotent=True,
    etag=True,
)
def create_key_account(actor: Actor, *, employee_id: str, body: KeyAccountCreate) -> KeyAccountOut:
    return services().key_accounts.create(actor, employee_id, body)


@operation(
    "GET", ONE, summary="Show an account", tag=TAG, needs=A.get, response=KeyAccountOut, etag=True
)
def get_key_account(actor: Actor, *, account_id: str) -> KeyAccountOut:
    return services().key_accounts.get(actor, account_id)


@operation(
    "PATCH",
    ONE,
    summary="Change a personal account (queued for the key; If-Match required)",
    tag=TAG,
    needs=A.update,
    body=KeyAccountUpdate,
    response=KeyAccountOut,
    if_match=True,
    etag=True,
)
def update_key_account(
    actor: Actor, *, account_id: str, body: KeyAccountUpdate, if_match: str | None
) -> KeyAccountOut:
    return services().key_accounts.update(actor, account_id, body, if_match=if_match)


@operation(
    "DELETE",
    ONE,
    summary="Delete an account (from the key at its next connection)",
    tag=TAG,
    needs=A.delete,
    if_match=True,
    status=204,
)
def delete_key_account(actor: Actor, *, account_id: str, if_match: str | None) -> None:
    services().key_accounts.delete(actor, account_id, if_match=if_match)


@operation(
    "POST",
    ONE + "/primary",
    summary="Make the account the one for Windows logon",
    tag=TAG,
    needs=A.set_primary,
    response=KeyAccountOut,
)
def set_primary_key_account(actor: Actor, *, account_id: str) -> KeyAccountOut:
    return services().key_accounts.set_primary(actor, account_id)


@operation(
    "POST",
    ONE + "/password",
    summary="Set a new password, never shown again (while the key is Ready, Reserved or Active)",
    tag=TAG,
    needs=A.change_password,
    body=PasswordIn,
    response=KeyAccountOut,
)
def change_key_account_password(
    actor: Actor, *, account_id: str, body: PasswordIn
) -> KeyAccountOut:
    return services().key_accounts.change_password(actor, account_id, body)


@operation(
    "PUT",
    ONE + "/otp",
    summary="Set an account's OTP secret (base32 or otpauth:// URI)",
    tag=TAG,
    needs=A.set_otp,
    body=OtpIn,
    response=KeyAccountOut,
)
def set_key_account_otp(actor: Actor, *, account_id: str, body: OtpIn) -> KeyAccountOut:
    return services().key_accounts.set_otp(actor, account_id, body)


@operation(
    "DELETE",
    ONE + "/otp",
    summary="Remove an account's OTP secret",
    tag=TAG,
    needs=A.remove_otp,
    response=KeyAccountOut,
)
def remove_key_account_otp(actor: Actor, *, account_id: str) -> KeyAccountOut:
    return services().key_accounts.remove_otp(actor, account_id)


@operation(
    "GET",
    "/shared-accounts",
    summary="List shared accounts with their holders",
    tag=TAG,
    needs=A.shared_list,
    response=Items[SharedAccountOut],
)
def list_shared_accounts(actor: Actor) -> Items[SharedAccountOut]:
    return services().key_accounts.shared_list(actor)


@operation(
    "POST",
    "/shared-accounts",
    summary="Add a shared account (it has a password: needs `secrets`)",
    tag=TAG,
    needs=A.shared_create,
    body=SharedAccountCreate,
    response=SharedAccountOut,
    status=201,
    idempotent=True,
    etag=True,
)
def create_shared_account(actor: Actor, *, body: SharedAccountCreate) -> SharedAccountOut:
    return services().key_accounts.shared_create(actor, body)


@operation(
    "GET",
    SHARED,
    summary="Show a shared account and its holders",
    tag=TAG,
    needs=A.shared_get,
    response=SharedAccountOut,
    etag=True,
)
def get_shared_account(actor: Actor, *, shared_id: str) -> SharedAccountOut:
    return services().key_accounts.shared_get(actor, shared_id)


@operation(
    "PATCH",
    SHARED,
    summary="Change a shared account: every holder's copy follows, queued for their keys "
    "(If-Match required)",
    tag=TAG,
    needs=A.shared_update,
    body=SharedAccountUpdate,
    response=SharedAccountEdited,
    if_match=True,
)
def update_shared_account(
    actor: Actor, *, shared_id: str, body: SharedAccountUpdate, if_match: str | None
) -> SharedAccountEdited:
    return services().key_accounts.shared_update(actor, shared_id, body, if_match=if_match)


@operation(
    "DELETE",
    SHARED,
    summary="Delete a shared account and every holder's copy",
    tag=TAG,
    needs=A.shared_delete,
    if_match=True,
    status=204,
)
def delete_shared_account(actor: Actor, *, shared_id: str, if_match: str | None) -> None:
    services().key_accounts.shared_delete(actor, shared_id, if_match=if_match)


@operation(
    "POST",
    SHARED + "/holders",
    summary="Give an employee a copy of a shared account",
    tag=TAG,
    needs=A.share,
    body=ShareIn,
    response=KeyAccountOut,
    status=201,
    idempotent=True,
)
def share_account(actor: Actor, *, shared_id: str, body: ShareIn) -> KeyAccountOut:
    return services().key_accounts.share(actor, shared_id, body)


@operation(
    "GET",
    "/key-templates",
    summary="List account templates",
    tag=TAG,
    needs=A.templates,
    response=Items[TemplateOut],
)
def list_key_templates(actor: Actor) -> Items[TemplateOut]:
    return services().key_accounts.templates(actor)


@operation(
    "POST",
    "/key-templates",
    summary="Add an account template (name, URLs, apps)",
    tag=TAG,
    needs=A.create_template,
    body=TemplateCreate,
    response=TemplateOut,
    status=201,
    idempotent=True,
    etag=True,
)
def create_key_template(actor: Actor, *, body: TemplateCreate) -> TemplateOut:
    return services().key_accounts.create_template(actor, body)


@operation(
    "GET",
    TEMPLATE,
    summary="Show an account template",
    tag=TAG,
    needs=A.template,
    response=TemplateOut,
    etag=True,
)
def get_key_template(actor: Actor, *, template_id: str) -> TemplateOut:
    return services().key_accounts.template(actor, template_id)


@operation(
    "PATCH",
    TEMPLATE,
    summary="Change an account template (accounts made from it keep theirs; If-Match required)",
    tag=TAG,
    needs=A.update_template,
    body=TemplateUpdate,
    response=TemplateOut,
    if_match=True,
    etag=True,
)
def update_key_template(
    actor: Actor, *, template_id: str, body: TemplateUpdate, if_match: str | None
) -> TemplateOut:
    return services().key_accounts.update_template(actor, template_id, body, if_match=if_match)


@operation(
    "DELETE",
    TEMPLATE,
    summary="Delete an account template (accounts made from it stay)",
    tag=TAG,
    needs=A.delete_template,
    status=204,
)
def delete_key_template(actor: Actor, *, template_id: str) -> None:
    services().key_accounts.delete_template(actor, template_id)

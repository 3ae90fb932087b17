"""``/api/v1/keys`` and ``/api/v1/key-profiles``: Hideez Keys and their access profiles."""

from __future__ import annotations

from flask_idp.api import operation, services
from idp.admin.access import Actor
from idp.admin.keys import KeyAdmin as K
from idp.admin.keys_models import (
    AssignIn,
    DeactivateIn,
    KeyCodeOut,
    KeyDetailOut,
    KeyImportIn,
    KeyOut,
    KeyProfileSet,
    KeyQuery,
    ProfileCreate,
    ProfileOut,
    ProfileUpdate,
)
from idp.admin.models import Items, Page

TAG = "keys"
ONE = "/keys/{serial}"
PROFILE = "/key-profiles/{profile_id}"


@operation(
    "GET",
    "/keys",
    summary="List keys (filter by status or holder, sort, cursor paging)",
    tag=TAG,
    needs=K.page,
    query=KeyQuery,
    response=Page[KeyOut],
)
def list_keys(actor: Actor, *, query: KeyQuery) -> Page[KeyOut]:
    return services().keys.page(actor, query)


@operation(
    "POST",
    "/keys",
    summary="Import keys as Ready (all or nothing)",
    tag=TAG,
    needs=K.import_keys,
    body=KeyImportIn,
    response=Items[KeyOut],
    status=201,
    idempotent=True,
)
def import_keys(actor: Actor, *, body: KeyImportIn) -> Items[KeyOut]:
    return services().keys.import_keys(actor, body)


@operation(
    "GET",
    ONE,
    summary="Show a key with its pending tasks and its holder's accounts",
    tag=TAG,
    needs=K.get,
    response=KeyDetailOut,
    etag=True,
)
def get_key(actor: Actor, *, serial: str) -> KeyDetailOut:
    return services().keys.get(actor, serial)


@operation(
    "POST",
    ONE + "/assign",
    summary="Assign a Ready key to an employee (the activation code is shown once)",
    tag=TAG,
    needs=K.assign,
    body=AssignIn,
    response=KeyCodeOut,
    idempotent=True,
)
def assign_key(actor: Actor, *, serial: str, body: AssignIn) -> KeyCodeOut:
    return services().keys.assign(actor, serial, body)


@operation(
    "POST",
    ONE + "/cancel",
    summary="Cancel an assignment before the key was linked (Ready again)",
    tag=TAG,
    needs=K.cancel,
    response=KeyOut,
)
def cancel_key(actor: Actor, *, serial: str) -> KeyOut:
    return services().keys.cancel(actor, serial)


@operation(
    "POST",
    ONE + "/suspend",
    summary="Suspend an Active or Locked key: a new activation code, shown once",
    tag=TAG,
    needs=K.suspend,
    response=KeyCodeOut,
    idempotent=True,
)
def suspend_key(actor: Actor, *, serial: str) -> KeyCodeOut:
    return services().keys.suspend(actor, serial)


@operation(
    "POST",
    ONE + "/deactivate",
    summary="Remove a key from its employee with a reason (wiped at its next connection)",
    tag=TAG,
    needs=K.deactivate,
    body=DeactivateIn,
    response=KeyOut,
)
def deactivate_key(actor: Actor, *, serial: str, body: DeactivateIn) -> KeyOut:
    return services().keys.deactivate(actor, serial, body)


@operation(
    "POST",
    ONE + "/compromise",
    summary="Mark a key compromised, for good (needs a fresh console sign-in: an API key "
    "is always refused)",
    tag=TAG,
    needs=K.compromise,
    response=KeyOut,
)
def compromise_key(actor: Actor, *, serial: str) -> KeyOut:
    return services().keys.compromise(actor, serial)


@operation(
    "PUT",
    ONE + "/profile",
    summary="Set a key's access profile (If-Match: the key's ETag)",
    tag=TAG,
    needs=K.set_profile,
    body=KeyProfileSet,
    response=KeyDetailOut,
    if_match=True,
    etag=True,
)
def set_key_profile(
    actor: Actor, *, serial: str, body: KeyProfileSet, if_match: str | None
) -> KeyDetailOut:
    return services().keys.set_profile(actor, serial, body, if_match=if_match)


@operation(
    "GET",
    "/key-profiles",
    summary="List access profiles",
    tag=TAG,
    needs=K.profiles,
    response=Items[ProfileOut],
)
def list_key_profiles(actor: Actor) -> Items[ProfileOut]:
    return services().keys.profiles(actor)


@operation(
    "POST",
    "/key-profiles",
    summary="Add an access profile",
    tag=TAG,
    needs=K.create_profile,
    body=ProfileCreate,
    response=ProfileOut,
    status=201,
    idempotent=True,
    etag=True,
)
def create_key_profile(actor: Actor, *, body: ProfileCreate) -> ProfileOut:
    return services().keys.create_profile(actor, body)


@operation(
    "GET",
    PROFILE,
    summary="Show an access profile",
    tag=TAG,
    needs=K.profile,
    response=ProfileOut,
    etag=True,
)
def get_key_profile(actor: Actor, *, profile_id: str) -> ProfileOut:
    return services().keys.profile(actor, profile_id)


@operation(
    "PATCH",
    PROFILE,
    summary="Change an access profile (queued for every key using it; If-Match required)",
    tag=TAG,
    needs=K.update_profile,
    body=ProfileUpdate,
    response=ProfileOut,
    if_match=True,
    etag=True,
)
def update_key_profile(
    actor: Actor, *, profile_id: str, body: ProfileUpdate, if_match: str | None
) -> ProfileOut:
    return services().keys.update_profile(actor, profile_id, body, if_match=if_match)


@operation(
    "DELETE",
    PROFILE,
    summary="Delete an unused access profile (never the default one)",
    tag=TAG,
    needs=K.delete_profile,
    if_match=True,
    status=204,
)
def delete_key_profile(actor: Actor, *, profile_id: str, if_match: str | None) -> None:
    services().keys.delete_profile(actor, profile_id, if_match=if_match)

"""The Hideez Key resources of the admin side — keys and access profiles — as one
permission-checked method per action over :class:`idp.vault.service.VaultService` (which the
CLI calls too), so every shell has the same transitions, refusals and audit.

Roles: ``admin`` and ``helpdesk`` run the lifecycle (``keys:write``; the activation code of an
assignment or a suspension is shown to them once), ``auditor`` reads. Marking a key
compromised cannot be undone: it needs a sign-in of the last minutes
(:func:`~idp.admin.access.require_recent_sign_in`), and a refusal is audited. With the
server's secrets locked every method is refused with ``vault_secrets_locked`` (503).
"""

from __future__ import annotations

from idp.admin.access import (
    Actor,
    Permission,
    ReauthenticationRequired,
    require_recent_sign_in,
    requires,
)
from idp.admin.keys_models import (
    AssignIn,
    DeactivateIn,
    KeyAccountOut,
    KeyCodeOut,
    KeyDetailOut,
    KeyImportIn,
    KeyOut,
    KeyProfileSet,
    KeyQuery,
    ProfileCreate,
    ProfileOut,
    ProfileUpdate,
    TaskOut,
)
from idp.admin.models import (
    Items,
    Page,
    check_if_match,
    decode_cursor,
    encode_cursor,
    field_error,
)
from idp.audit import AuditKind, Outcome
from idp.runtime import Runtime
from idp.vault.errors import ProfileNotFound
from idp.vault.model import AccessProfile, KeyImport, Vault
from idp.vault.service import VaultService
from idp.vault.states import VaultReason, VaultStatus

_CURSOR = "keys"
_ID = 64
#: what the dashboard calls a key needing attention: it waits for an admin
_ATTENTION = (VaultStatus.LOCKED,)
_CODE_WAITING = (VaultStatus.RESERVED, VaultStatus.SUSPENDED)
_ATTENTION_LIMIT = 20


class KeyAdmin:
    def __init__(self, runtime: Runtime, vault: VaultService) -> None:
        self._rt = runtime
        self._vault = vault

    def _username(self, employee_id: str | None) -> str | None:
        if employee_id is None:
            return None
        employee = self._rt.employees.get(employee_id)
        return employee.username if employee else None

    def _out(self, vault: Vault) -> KeyOut:
        return KeyOut.of(vault, self._username(vault.employee_id))

    def _outs(self, vaults: tuple[Vault, ...]) -> list[KeyOut]:
        names: dict[str | None, str | None] = {None: None}
        for v in vaults:
            if v.employee_id not in names:
                names[v.employee_id] = self._username(v.employee_id)
        return [KeyOut.of(v, names[v.employee_id]) for v in vaults]

    # -- keys --------------------------------------------------------------------------------

    @requires(Permission.KEYS_READ)
    def page(self, actor: Actor, query: KeyQuery) -> Page[KeyOut]:
        """Filter by status, holder and text, sort, and page (the cursor carries the offset)."""
        state = {
            "status": query.status.value if query.status else None,
            "employee_id": query.employee_id,
            "q": query.q,
            "sort": query.sort,
        }
        offset = 0
        if query.cursor is not None:
            saved = decode_cursor(_CURSOR, query.cursor)
            value = saved.pop("offset", None)
            if not isinstance(value, int) or not 0 <= value < 2**31 or saved != state:
                raise field_error("cursor", "not a cursor of this filter and sort; start again")
            offset = value
        found = self._vault.list_keys(
            status=query.status, employee_id=query.employee_id, text=query.q,
            sort=query.sort.removeprefix("-"), descending=query.sort.startswith("-"),
            offset=offset, limit=query.limit + 1,
        )  # fmt: skip
        items, more = found[: query.limit], len(found) > query.limit
        following = offset + len(items)
        return Page[KeyOut](
            items=self._outs(items),
            next_cursor=encode_cursor(_CURSOR, {**state, "offset": following}) if more else None,
        )

    @requires(Permission.KEYS_READ)
    def get(self, actor: Actor, serial: str) -> KeyDetailOut:
        vault = self._vault.show_key(serial=serial[:_ID])
        tasks = self._vault.key_tasks(serial=vault.serial)
        accounts = (
            self._vault.list_accounts(employee_id=vault.employee_id) if vault.employee_id else ()
        )
        return KeyDetailOut(
            key=self._out(vault),
            tasks=[TaskOut.of(t) for t in tasks],
            accounts=[KeyAccountOut.of(a) for a in accounts],
        )

    @requires(Permission.KEYS_READ)
    def of_employee(self, actor: Actor, employee_id: str) -> KeyOut | None:
        """The key an employee holds (one each), if any."""
        found = self._vault.list_keys(employee_id=employee_id[:_ID], limit=1)
        return self._out(found[0]) if found else None

    @requires(Permission.KEYS_READ)
    def attention(self, actor: Actor) -> list[KeyOut]:
        """Keys waiting for an admin: locked ones (suspend them to issue a code) and
        assignments or suspensions whose activation code expired unused."""
        now = self._rt.now()
        waiting: list[Vault] = []
        for status in _ATTENTION + _CODE_WAITING:
            for v in self._vault.list_keys(status=status, limit=_ATTENTION_LIMIT):
                expired = v.code_expires_at is not None and v.code_expires_at <= now
                if status in _ATTENTION or expired:
                    waiting.append(v)
        return self._outs(tuple(waiting[:_ATTENTION_LIMIT]))

    @requires(Permission.KEYS_WRITE)
    def import_keys(self, actor: Actor, body: KeyImportIn) -> Items[KeyOut]:
        keys = [KeyImport(k.serial, k.mac, k.model, k.firmware) for k in body.keys]
        return Items[KeyOut](items=self._outs(self._vault.import_keys(actor=actor, keys=keys)))

    @requires(Permission.KEYS_WRITE)
    def assign(self, actor: Actor, serial: str, body: AssignIn) -> KeyCodeOut:
        """Reserve a Ready key for an employee; the activation code is in this answer only."""
        done = self._vault.assign(actor=actor, serial=serial[:_ID], employee_id=body.employee_id)
        return KeyCodeOut(key=self._out(done.vault), activation_code=done.activation_code)

    @requires(Permission.KEYS_WRITE)
    def cancel(self, actor: Actor, serial: str) -> KeyOut:
        return self._out(self._vault.cancel(actor=actor, serial=serial[:_ID]))

    @requires(Permission.KEYS_WRITE)
    def suspend(self, actor: Actor, serial: str) -> KeyCodeOut:
        """A new activation code for an Active or Locked key (shown in this answer only)."""
        done = self._vault.suspend(actor=actor, serial=serial[:_ID])
        return KeyCodeOut(key=self._out(done.vault), activation_code=done.activation_code)

    @requires(Permission.KEYS_WRITE)
    def deactivate(self, actor: Actor, serial: str, body: DeactivateIn) -> KeyOut:
        reason = VaultReason(body.reason)
        return self._out(self._vault.deactivate(actor=actor, serial=serial[:_ID], reason=reason))

    @requires(Permission.KEYS_WRITE)
    def compromise(self, actor: Actor, serial: str) -> KeyOut:
        """Terminal: needs a sign-in of the last minutes (an API key never has one)."""
        try:
            require_recent_sign_in(actor, now=self._rt.now())
        except ReauthenticationRequired as exc:
            self.compromise_refused(actor.name, serial, exc.description)
            raise
        return self._out(self._vault.compromise(actor=actor, serial=serial[:_ID]))

    def compromise_refused(self, who: str, serial: str, reason: str) -> None:
        """Audit a refused compromise: a stale sign-in here, or (the shell) a re-entered
        password that was wrong, or an admin who may not."""
        self._rt.audit.append_event(
            kind=AuditKind.VAULT_STATUS_CHANGED, at=self._rt.now(), actor=who[:255],
            outcome=Outcome.FAILURE, factor="hardware_vault", reason=reason,
            details={"action": "compromise", "serial": serial[:_ID]},
        )  # fmt: skip

    @requires(Permission.KEYS_WRITE)
    def set_profile(
        self, actor: Actor, serial: str, body: KeyProfileSet, *, if_match: str | None
    ) -> KeyDetailOut:
        check_if_match(if_match, self.get(actor, serial))
        try:
            self._vault.set_profile(actor=actor, serial=serial[:_ID], profile_id=body.profile_id)
        except ProfileNotFound as exc:
            raise field_error("profile_id", exc.description) from None
        return self.get(actor, serial)

    # -- access profiles ---------------------------------------------------------------------

    @requires(Permission.KEYS_READ)
    def profiles(self, actor: Actor) -> Items[ProfileOut]:
        return Items[ProfileOut](items=[ProfileOut.of(p) for p in self._vault.list_profiles()])

    def _profile(self, profile_id: str) -> AccessProfile:
        for p in self._vault.list_profiles():
            if p.id == profile_id:
                return p
        raise ProfileNotFound(f"no access profile {profile_id[:_ID]!r}")

    @requires(Permission.KEYS_READ)
    def profile(self, actor: Actor, profile_id: str) -> ProfileOut:
        return ProfileOut.of(self._profile(profile_id))

    @requires(Permission.KEYS_WRITE)
    def create_profile(self, actor: Actor, body: ProfileCreate) -> ProfileOut:
        profile = body.applied_to(AccessProfile(id="", name=body.name))
        return ProfileOut.of(self._vault.save_profile(actor=actor, profile=profile, create=True))

    @requires(Permission.KEYS_WRITE)
    def update_profile(
        self, actor: Actor, profile_id: str, body: ProfileUpdate, *, if_match: str | None
    ) -> ProfileOut:
        current = self._profile(profile_id)
        check_if_match(if_match, ProfileOut.of(current))
        saved = self._vault.save_profile(
            actor=actor, profile=body.applied_to(current), create=False
        )
        return ProfileOut.of(saved)

    @requires(Permission.KEYS_WRITE)
    def delete_profile(self, actor: Actor, profile_id: str, *, if_match: str | None) -> None:
        """The default profile and profiles some key uses are refused (409)."""
        current = self._profile(profile_id)
        if if_match is not None:
            check_if_match(if_match, ProfileOut.of(current))
        self._vault.delete_profile(actor=actor, profile_id=current.id)

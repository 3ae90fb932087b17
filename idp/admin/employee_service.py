"""The employee resource's admin actions: one permission-checked method per action.

Inputs are the pydantic models of :mod:`idp.admin.employee_models`; the checks, the changes
and their audit events are those of :mod:`idp.admin.employees` (the CLI's ``add``/``update``
use the same functions), so every shell refuses the same inputs with the same messages.
"""

from __future__ import annotations

import datetime as dt

from idp.admin.access import Actor, Permission, requires
from idp.admin.employee_models import (
    EmployeeCreate,
    EmployeeFields,
    EmployeeOut,
    EmployeeQuery,
    EmployeeUpdate,
    EnrolmentLinkOut,
    PasskeyOut,
    PasswordState,
    SessionOut,
    SessionsEnded,
)
from idp.admin.employees import (
    EmployeeChanges,
    EmployeeIsAdmin,
    EmployeeNotFound,
    InvalidEmployeeInput,
    check_changes,
    create_employee,
    delete_employee,
    update_employee,
)
from idp.admin.models import Page, check_if_match, decode_cursor, encode_cursor, field_error
from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee
from idp.errors import NotFound
from idp.flows.logout import Logout
from idp.runtime import Runtime
from idp.store.sql.repositories.admins import AdminRepository

#: what the CLI-facing checks call each input, and the API field it is
_OPTION_FIELDS = {"--upn": "external_ids.upn", "--external-id": "external_ids"}


class PasskeyNotFound(NotFound):
    error = "passkey_not_found"


class SessionHandleNotFound(NotFound):
    error = "session_not_found"


def _checked(
    fields: EmployeeFields, *, email: str | None, enabled: bool | None = None
) -> EmployeeChanges:
    """The model's values through the one set of checks, each error under its field name."""
    try:
        return check_changes(
            email=email,
            first_name=fields.first_name,
            last_name=fields.last_name,
            phone=fields.phone,
            entra_object_id=fields.entra_object_id,
            entra_tenant_id=fields.entra_tenant_id,
            ad_object_guid=fields.ad_object_guid,
            ad_object_sid=fields.ad_object_sid,
            external_ids=[f"{k}={v}" for k, v in fields.external_ids.items()],
            sso_mode=fields.sso_mode.value if fields.sso_mode else None,
            enabled=enabled,
        )
    except InvalidEmployeeInput as exc:
        raise _as_field_error(exc) from None


def _as_field_error(exc: InvalidEmployeeInput) -> Exception:
    option, _, message = exc.description.partition(": ")
    name = option.split(" ", 1)[0]
    field = _OPTION_FIELDS.get(name, name.removeprefix("--").replace("-", "_"))
    return field_error(field, message or exc.description)


class EmployeeAdmin:
    def __init__(self, runtime: Runtime, admins: AdminRepository) -> None:
        self._rt = runtime
        self._admins = admins

    def _employee(self, employee_id: str) -> Employee:
        employee = self._rt.employees.get(employee_id)
        if employee is None:
            raise EmployeeNotFound(f"no employee with id {employee_id!r}")
        return employee

    def _now(self) -> dt.datetime:
        return self._rt.now()

    @requires(Permission.EMPLOYEES_READ)
    def page(self, actor: Actor, query: EmployeeQuery) -> Page[EmployeeOut]:
        """Filter, sort and page (keyset: the cursor carries the last row's sort value)."""
        sort = query.sort.removeprefix("-")
        descending = query.sort.startswith("-")
        after = None
        if query.cursor:
            state = decode_cursor("employees", query.cursor)
            if state.get("s") != query.sort or not isinstance(state.get("id"), str):
                raise field_error("cursor", "made for another sort order; start again")
            value = state.get("v")
            if sort == "created_at" and isinstance(value, str):
                value = dt.datetime.fromisoformat(value)
            after = (value, str(state["id"]))
        items, more = self._rt.employees.seek(
            text=query.search,
            enabled=query.enabled,
            sso_mode=query.sso_mode,
            sort=sort,
            descending=descending,
            after=after,
            limit=query.limit,
        )
        cursor = None
        if more and items:
            last = items[-1]
            value = {
                "username": last.username.lower(),
                "email": last.email.lower(),
                "last_name": last.last_name,
                "created_at": last.created_at,
            }[sort]
            cursor = encode_cursor("employees", {"s": query.sort, "v": value, "id": last.id})
        return Page[EmployeeOut](items=[EmployeeOut.of(e) for e in items], next_cursor=cursor)

    @requires(Permission.EMPLOYEES_READ)
    def get(self, actor: Actor, employee_id: str) -> EmployeeOut:
        return EmployeeOut.of(self._employee(employee_id))

    @requires(Permission.EMPLOYEES_READ)
    def find(self, actor: Actor, username: str) -> EmployeeOut:
        employee = self._rt.employees.get_by_username(username)
        if employee is None:
            raise EmployeeNotFound(f"no employee with username {username!r}")
        return EmployeeOut.of(employee)

    @requires(Permission.EMPLOYEES_WRITE)
    def create(self, actor: Actor, body: EmployeeCreate) -> EmployeeOut:
        changes = _checked(body, email=body.email)
        try:
            done = create_employee(
                employees=self._rt.employees,
                audit=self._rt.audit,
                username=body.username,
                changes=changes,
                actor=actor.name,
                now=self._now(),
            )
        except InvalidEmployeeInput as exc:
            raise _as_field_error(exc) from None
        return EmployeeOut.of(done.employee)

    @requires(Permission.EMPLOYEES_WRITE)
    def update(
        self, actor: Actor, employee_id: str, body: EmployeeUpdate, *, if_match: str | None
    ) -> EmployeeOut:
        return self._change(actor, employee_id, _checked(body, email=body.email), if_match)

    @requires(Permission.EMPLOYEES_WRITE)
    def set_enabled(self, actor: Actor, employee_id: str, enabled: bool) -> EmployeeOut:
        """Disable: the employee can no longer sign in, and their sessions end at once."""
        out = self._change(actor, employee_id, EmployeeChanges(enabled=enabled), None)
        if not enabled:
            self._rt.directory.invalidate(employee_id)
            self._sign_out(actor, employee_id, reason="employee_disabled")
        return out

    def _change(
        self, actor: Actor, employee_id: str, changes: EmployeeChanges, if_match: str | None
    ) -> EmployeeOut:
        current = self._employee(employee_id)
        if if_match is not None or changes.enabled is None:
            check_if_match(if_match, EmployeeOut.of(current))
        done = update_employee(
            employees=self._rt.employees,
            audit=self._rt.audit,
            username=current.username,
            changes=changes,
            actor=actor.name,
            now=self._now(),
            passwords=self._rt.passwords,
        )
        return EmployeeOut.of(done.employee)

    @requires(Permission.EMPLOYEES_DELETE)
    def delete(self, actor: Actor, employee_id: str, *, if_match: str | None = None) -> None:
        employee = self._employee(employee_id)
        if if_match is not None:
            check_if_match(if_match, EmployeeOut.of(employee))
        if self._admins.for_employee(employee_id) is not None:
            raise EmployeeIsAdmin(
                f"{employee.username} has an admin account; remove it first (admin-user remove)"
            )
        self._sign_out(actor, employee_id, reason="employee_deleted")
        delete_employee(
            employees=self._rt.employees,
            audit=self._rt.audit,
            employee=employee,
            actor=actor.name,
            now=self._now(),
        )
        self._rt.directory.invalidate(employee_id)

    @requires(Permission.SESSIONS_READ)
    def sessions(self, actor: Actor, employee_id: str) -> list[SessionOut]:
        self._employee(employee_id)
        return [
            SessionOut.of(s) for s in self._rt.sessions.for_employee(employee_id, now=self._now())
        ]

    @requires(Permission.SESSIONS_WRITE)
    def end_sessions(
        self, actor: Actor, employee_id: str, *, handle: str | None = None
    ) -> SessionsEnded:
        employee = self._employee(employee_id)
        if handle is not None and handle not in {
            s.handle for s in self._rt.sessions.for_employee(employee_id, now=self._now())
        }:
            raise SessionHandleNotFound(f"{employee.username} has no live session {handle!r}")
        ended = self._sign_out(actor, employee_id, reason="admin_ended", handle=handle)
        return SessionsEnded(ended=ended)

    def _sign_out(
        self, actor: Actor, employee_id: str, *, reason: str, handle: str | None = None
    ) -> int:
        """The one sign-out plan (:meth:`idp.flows.logout.Logout.end_everywhere`): the
        sessions end and their OIDC back-channel clients are told, never silently."""
        return Logout(self._rt).end_everywhere(
            employee_id, reason=reason, actor=actor.name, handle=handle
        )

    @requires(Permission.FACTORS_READ)
    def passkeys(self, actor: Actor, employee_id: str) -> list[PasskeyOut]:
        self._employee(employee_id)
        return [PasskeyOut.of(p) for p in self._rt.passkeys.list_for_employee(employee_id)]

    @requires(Permission.FACTORS_WRITE)
    def revoke_passkey(self, actor: Actor, employee_id: str, credential_id: str) -> None:
        """Remove a passkey (after a clone alarm, a lost key): it signs in nowhere after this.
        The last one may go too — the admin then sends a new enrolment link."""
        employee = self._employee(employee_id)
        owned = {p.credential_id for p in self._rt.passkeys.list_for_employee(employee_id)}
        if credential_id not in owned:
            raise PasskeyNotFound(f"{employee.username} has no passkey {credential_id[:80]!r}")
        self._rt.passkeys.delete(credential_id, expected_employee_id=employee_id)
        self._audit(AuditKind.PASSKEY_REMOVED, actor, employee, {"credential_id": credential_id})

    @requires(Permission.FACTORS_READ)
    def password(self, actor: Actor, employee_id: str) -> PasswordState:
        """Never the hash: only whether a password is set and whether it is locked."""
        self._employee(employee_id)
        return self._password_state(employee_id)

    def _password_state(self, employee_id: str, *, unlocked: bool = False) -> PasswordState:
        stored = self._rt.passwords.get(employee_id)
        now = self._now()
        if stored is None:
            return PasswordState(
                set=False, set_at=None, failed_attempts=0, locked_until=None, unlocked=unlocked
            )
        locked = stored.locked_until if stored.locked_at(now) else None
        return PasswordState(
            set=True,
            set_at=stored.set_at,
            failed_attempts=stored.failed_count,
            locked_until=locked,
            unlocked=unlocked,
        )

    @requires(Permission.FACTORS_WRITE)
    def unlock_password(self, actor: Actor, employee_id: str) -> PasswordState:
        """Lift the lock that wrong passwords set (before its 15 minutes run out)."""
        employee = self._employee(employee_id)
        unlocked = self._rt.passwords.unlock(employee_id)
        if unlocked:
            self._audit(AuditKind.PASSWORD_UNLOCKED, actor, employee, {})
        return self._password_state(employee_id, unlocked=unlocked)

    @requires(Permission.FACTORS_WRITE)
    def enrolment_link(self, actor: Actor, employee_id: str) -> EnrolmentLinkOut:
        """A one-time link (24 h) to register a passkey; earlier unused links stop working."""
        employee = self._employee(employee_id)
        token, link = self._rt.enrolment.create(
            employee_id=employee_id, created_by=actor.name, now=self._now()
        )
        self._audit(AuditKind.ENROLMENT_LINK_CREATED, actor, employee, {})
        return EnrolmentLinkOut(
            url=self._rt.config.url(f"/enrol/{token}"), expires_at=link.expires_at
        )

    def _audit(
        self, kind: AuditKind, actor: Actor, employee: Employee, details: dict[str, str]
    ) -> None:
        self._rt.audit.append_event(
            kind=kind,
            at=self._now(),
            actor=actor.name,
            employee_id=employee.id,
            outcome=Outcome.SUCCESS,
            details={"username": employee.username, **details},
        )

"""``/api/v1/employees``: employees and what hangs off them (sessions, passkeys, links)."""

from __future__ import annotations

from flask_idp.api import operation, services
from idp.admin.access import Actor
from idp.admin.employee_models import (
    EmployeeCreate,
    EmployeeOut,
    EmployeeQuery,
    EmployeeUpdate,
    EnrolmentLinkOut,
    PasskeyOut,
    PasswordState,
    SessionOut,
    SessionsEnded,
)
from idp.admin.employee_service import EmployeeAdmin as E
from idp.admin.models import Items, Page

TAG = "employees"
ONE = "/employees/{employee_id}"


@operation(
    "GET",
    "/employees",
    summary="List employees (filter, sort, cursor paging)",
    tag=TAG,
    needs=E.page,
    query=EmployeeQuery,
    response=Page[EmployeeOut],
)
def list_employees(actor: Actor, *, query: EmployeeQuery) -> Page[EmployeeOut]:
    return services().employees.page(actor, query)


@operation(
    "POST",
    "/employees",
    summary="Add an employee",
    tag=TAG,
    needs=E.create,
    body=EmployeeCreate,
    response=EmployeeOut,
    status=201,
    idempotent=True,
    etag=True,
)
def create_employee(actor: Actor, *, body: EmployeeCreate) -> EmployeeOut:
    return services().employees.create(actor, body)


@operation(
    "GET", ONE, summary="Show an employee", tag=TAG, needs=E.get, response=EmployeeOut, etag=True
)
def get_employee(actor: Actor, *, employee_id: str) -> EmployeeOut:
    return services().employees.get(actor, employee_id)


@operation(
    "PATCH",
    ONE,
    summary="Change an employee (If-Match required)",
    tag=TAG,
    needs=E.update,
    body=EmployeeUpdate,
    response=EmployeeOut,
    if_match=True,
    etag=True,
)
def update_employee(
    actor: Actor, *, employee_id: str, body: EmployeeUpdate, if_match: str | None
) -> EmployeeOut:
    return services().employees.update(actor, employee_id, body, if_match=if_match)


@operation(
    "DELETE",
    ONE,
    summary="Delete an employee with every factor",
    tag=TAG,
    needs=E.delete,
    if_match=True,
    status=204,
)
def delete_employee(actor: Actor, *, employee_id: str, if_match: str | None) -> None:
    services().employees.delete(actor, employee_id, if_match=if_match)


@operation(
    "POST",
    ONE + "/disable",
    summary="Disable: no sign-in, sessions end",
    tag=TAG,
    needs=E.set_enabled,
    response=EmployeeOut,
    etag=True,
)
def disable_employee(actor: Actor, *, employee_id: str) -> EmployeeOut:
    return services().employees.set_enabled(actor, employee_id, False)


@operation(
    "POST",
    ONE + "/enable",
    summary="Enable again",
    tag=TAG,
    needs=E.set_enabled,
    response=EmployeeOut,
    etag=True,
)
def enable_employee(actor: Actor, *, employee_id: str) -> EmployeeOut:
    return services().employees.set_enabled(actor, employee_id, True)


@operation(
    "GET",
    ONE + "/sessions",
    summary="The employee's live sessions",
    tag=TAG,
    needs=E.sessions,
    response=Items[SessionOut],
)
def list_sessions(actor: Actor, *, employee_id: str) -> Items[SessionOut]:
    return Items[SessionOut](items=services().employees.sessions(actor, employee_id))


@operation(
    "DELETE",
    ONE + "/sessions",
    summary="End every session of the employee",
    tag=TAG,
    needs=E.end_sessions,
    response=SessionsEnded,
)
def end_sessions(actor: Actor, *, employee_id: str) -> SessionsEnded:
    return services().employees.end_sessions(actor, employee_id)


@operation(
    "DELETE",
    ONE + "/sessions/{handle}",
    summary="End one session",
    tag=TAG,
    needs=E.end_sessions,
    response=SessionsEnded,
)
def end_session(actor: Actor, *, employee_id: str, handle: str) -> SessionsEnded:
    return services().employees.end_sessions(actor, employee_id, handle=handle)


@operation(
    "GET",
    ONE + "/passkeys",
    summary="The employee's passkeys",
    tag=TAG,
    needs=E.passkeys,
    response=Items[PasskeyOut],
)
def list_passkeys(actor: Actor, *, employee_id: str) -> Items[PasskeyOut]:
    return Items[PasskeyOut](items=services().employees.passkeys(actor, employee_id))


@operation(
    "DELETE",
    ONE + "/passkeys/{credential_id}",
    summary="Revoke a passkey",
    tag=TAG,
    needs=E.revoke_passkey,
    status=204,
)
def revoke_passkey(actor: Actor, *, employee_id: str, credential_id: str) -> None:
    services().employees.revoke_passkey(actor, employee_id, credential_id)


@operation(
    "POST",
    ONE + "/enrolment-links",
    summary="Create a one-time enrolment link",
    tag=TAG,
    needs=E.enrolment_link,
    response=EnrolmentLinkOut,
    status=201,
)
def create_enrolment_link(actor: Actor, *, employee_id: str) -> EnrolmentLinkOut:
    return services().employees.enrolment_link(actor, employee_id)


@operation(
    "GET",
    ONE + "/password",
    summary="Whether a password is set and locked",
    tag=TAG,
    needs=E.password,
    response=PasswordState,
)
def get_password_state(actor: Actor, *, employee_id: str) -> PasswordState:
    return services().employees.password(actor, employee_id)


@operation(
    "POST",
    ONE + "/password/unlock",
    summary="Lift a lock set by wrong passwords",
    tag=TAG,
    needs=E.unlock_password,
    response=PasswordState,
)
def unlock_password(actor: Actor, *, employee_id: str) -> PasswordState:
    return services().employees.unlock_password(actor, employee_id)

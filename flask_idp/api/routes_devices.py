"""``/api/v1/employees/{employee_id}/factors``, ``…/app``, ``…/totp``: an employee's
authenticator app and TOTP set-up (list, disable, enable, remove)."""

from __future__ import annotations

from flask_idp.api import operation, services
from idp.admin.access import Actor
from idp.admin.device_service import DeviceOut, FactorsOut
from idp.admin.device_service import DeviceService as D

TAG = "devices"
ONE = "/employees/{employee_id}"


@operation(
    "GET",
    f"{ONE}/factors",
    summary="An employee's authenticator app and TOTP",
    tag=TAG,
    needs=D.factors,
    response=FactorsOut,
)
def get_factors(actor: Actor, *, employee_id: str) -> FactorsOut:
    return services().devices.factors(actor, employee_id)


@operation(
    "POST",
    f"{ONE}/app/disable",
    summary="Disable the employee's app for sign-in (it stays enrolled)",
    tag=TAG,
    needs=D.set_app_enabled,
    response=DeviceOut,
)
def disable_app(actor: Actor, *, employee_id: str) -> DeviceOut:
    return services().devices.set_app_enabled(actor, employee_id, False)


@operation(
    "POST",
    f"{ONE}/app/enable",
    summary="Enable a disabled app again",
    tag=TAG,
    needs=D.set_app_enabled,
    response=DeviceOut,
)
def enable_app(actor: Actor, *, employee_id: str) -> DeviceOut:
    return services().devices.set_app_enabled(actor, employee_id, True)


@operation(
    "DELETE",
    f"{ONE}/app",
    summary="Remove the employee's app (they enrol again)",
    tag=TAG,
    needs=D.remove_app,
    status=204,
)
def remove_app(actor: Actor, *, employee_id: str) -> None:
    services().devices.remove_app(actor, employee_id)


@operation(
    "DELETE",
    f"{ONE}/totp",
    summary="Remove the employee's TOTP set-up",
    tag=TAG,
    needs=D.remove_totp,
    status=204,
)
def remove_totp(actor: Actor, *, employee_id: str) -> None:
    services().devices.remove_totp(actor, employee_id)

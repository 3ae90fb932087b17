"""What the sign-in and account pages show of the authenticator app and TOTP."""

from __future__ import annotations

from typing import Any

from flask_idp.flows import browser, flows
from flask_idp.web import runtime
from idp.factors.kinds import FactorKind
from idp.flows.parking import LoginTicket


def authenticator_login_values(ticket: LoginTicket | None) -> dict[str, Any]:
    """Which of the two the page offers (the policy's factors), and whether the push goes out
    at once: the employee is known (login hint, or the two-factor password already given)
    and has an app."""
    factors = ticket.factors if ticket else tuple(k.value for k in FactorKind)
    offers_app = FactorKind.AUTHENTICATOR_APP.value in factors
    known = ticket is not None and ticket.employee_id is not None
    auto = False
    if offers_app and ticket is not None:
        rt = runtime()
        employee_id = ticket.employee_id
        if employee_id is None and ticket.login_hint:
            hinted = rt.employees.get_by_username(ticket.login_hint)
            employee_id = hinted.id if hinted and hinted.sso_mode.value != "two_factor" else None
        device = rt.authenticator.devices.for_employee(employee_id) if employee_id else None
        auto = device is not None and device.usable
    # Nobody named yet: offer the device this browser last signed in with, if still usable.
    unnamed = not known and not (ticket and ticket.login_hint)
    found = flows().push.remembered(browser()) if offers_app and unnamed else None
    return {
        "offers_app": offers_app,
        "offers_totp": FactorKind.TOTP.value in factors,
        "push_auto": auto,
        "employee_known": known,
        "remembered_device": found[1].display_name if found else None,
    }


def authenticator_account_values(employee_id: str) -> dict[str, Any]:
    rt = runtime()
    return {
        "app_device": rt.authenticator.devices.for_employee(employee_id),
        "totp_enrolled": rt.authenticator.totp.get(employee_id) is not None,
    }

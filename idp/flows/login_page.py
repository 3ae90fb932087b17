"""What the shared sign-in page offers of the authenticator app and TOTP, for every shell.

The Flask IdP and the SATOSA plugins render the same page; both ask here which of the two
forms it shows (the ticket's policy factors) and whether the push goes out at once (the
employee is known — login hint, or the two-factor password already given — and has a usable
app), so the page behaves the same behind either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from idp.directory.model import SsoMode
from idp.factors.kinds import FactorKind
from idp.flows.parking import LoginTicket

if TYPE_CHECKING:
    from idp.flows.browser import Browser
    from idp.flows.push_step import PushStep
    from idp.runtime import Runtime


def authenticator_login_values(
    runtime: Runtime, ticket: LoginTicket | None, *, push: PushStep, browser: Browser
) -> dict[str, bool | str | None]:
    """The page's ``offers_app``, ``offers_totp``, ``push_auto``, ``employee_known`` and
    ``remembered_device`` (the device this browser last signed in with, offered when nobody is
    named yet and it may still be used)."""
    factors = ticket.factors if ticket else tuple(k.value for k in FactorKind)
    offers_app = FactorKind.AUTHENTICATOR_APP.value in factors
    known = ticket is not None and ticket.employee_id is not None
    auto = False
    if offers_app and ticket is not None:
        employee_id = ticket.employee_id
        if employee_id is None and ticket.login_hint:
            hinted = runtime.employees.get_by_username(ticket.login_hint)
            employee_id = (
                hinted.id if hinted and hinted.sso_mode is not SsoMode.TWO_FACTOR else None
            )
        device = runtime.authenticator.devices.for_employee(employee_id) if employee_id else None
        auto = device is not None and device.usable
    unnamed = not known and not (ticket and ticket.login_hint)
    found = push.remembered(browser) if offers_app and unnamed else None
    return {
        "offers_app": offers_app,
        "offers_totp": FactorKind.TOTP.value in factors,
        "push_auto": auto,
        "employee_known": known,
        "remembered_device": found[1].display_name if found else None,
    }


def enrolled_factors(runtime: Runtime, employee_id: str) -> frozenset[FactorKind]:
    """The sign-in factors (beyond the password) this employee has set up."""
    found: set[FactorKind] = set()
    if runtime.passkeys.list_for_employee(employee_id):
        found.add(FactorKind.PASSKEY)
    device = runtime.authenticator.devices.for_employee(employee_id)
    if device is not None and device.usable:
        found.add(FactorKind.AUTHENTICATOR_APP)
    if runtime.authenticator.totp.get(employee_id) is not None:
        found.add(FactorKind.TOTP)
    return frozenset(found)

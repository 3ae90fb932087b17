"""What the sign-in and account pages show of the authenticator app and TOTP."""

from __future__ import annotations

from typing import Any

from flask_idp.flows import browser, flows
from flask_idp.web import runtime
from idp.flows import login_page
from idp.flows.parking import LoginTicket


def authenticator_login_values(ticket: LoginTicket | None) -> dict[str, Any]:
    """Which of the two the page offers (the core decides, for every shell)."""
    return login_page.authenticator_login_values(
        runtime(), ticket, push=flows().push, browser=browser()
    )


def authenticator_account_values(employee_id: str) -> dict[str, Any]:
    rt = runtime()
    return {
        "app_device": rt.authenticator.devices.for_employee(employee_id),
        "totp_enrolled": rt.authenticator.totp.get(employee_id) is not None,
    }

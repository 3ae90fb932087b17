"""The admin console in headless Chromium (Debian's package) driven by Playwright: an admin
signs in with a passkey (DevTools virtual authenticator) through the core sign-in flow, adds
an employee, creates an enrolment link, revokes the passkey the employee then registers, ends
the employee's session and reads the audit with usernames. Screenshots of each page are saved
under ``var/test-artefacts/console/`` (docs/console.md shows copies of them)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from idp.admin.access import CLI, Role
from idp.admin.accounts import AdminCreate
from idp.admin.employee_models import EmployeeCreate
from idp.admin.services import build_admin_services
from tests.e2e import test_browser_passkey as passkey_pages
from tests.e2e.server import SQLITE_MEMORY, RunningServer
from tests.e2e.test_browser_passkey import add_authenticator, enrol

pytestmark = pytest.mark.browser
browser = passkey_pages.browser  # the module-scoped headless Chromium fixture
ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artefacts" / "console"
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def admin_page(browser: Any, idp_server: RunningServer) -> Iterator[tuple[Any, str]]:
    """A browser whose virtual authenticator holds the passkey of a new admin (enrolled
    through the employee enrolment link, as a real first admin would be)."""
    username = f"sec-admin-{secrets.token_hex(3)}"
    svc = build_admin_services(idp_server.runtime)
    svc.employees.create(CLI, EmployeeCreate(username=username, email=f"{username}@example.com",
                                             first_name="Sam", last_name="Admin"))  # fmt: skip
    svc.accounts.create_admin(CLI, AdminCreate(username=username, role=Role.ADMIN))
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    add_authenticator(page)
    enrol(page, idp_server, username)
    context.clear_cookies()  # signed out: the console must send us through the sign-in
    yield page, username
    assert dialogs == []  # no script from stored data ever ran
    context.close()


def _shot(page: Any, name: str, storage: str) -> None:
    if storage == SQLITE_MEMORY:  # one set is enough for the docs
        ARTEFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTEFACTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, server: RunningServer) -> None:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    page.goto(server.url("/console"))
    page.wait_for_url("**/console/signin?next=/console")
    page.click("#passkey-signin")
    try:  # conditional UI (passkey autofill) may finish the sign-in by itself
        page.wait_for_url(server.url("/console"), timeout=3_000)
    except Exception:
        page.click("#signin")
        page.wait_for_url(server.url("/console"))
    assert any("/login?ticket=" in u for u in seen)  # through the core sign-in flow
    assert any(u.endswith("/passkey/login/verify") for u in seen)


def test_admin_works_through_the_console(
    admin_page: tuple[Any, str],
    idp_server: RunningServer,
    browser: Any,
    storage: str,
) -> None:
    page, admin = admin_page
    _sign_in(page, idp_server)
    assert admin in page.locator("#who").inner_text()
    assert page.locator("svg.chart rect.bar").count() == 24
    _shot(page, "dashboard", storage)

    # add an employee (a name that would run script if it were not escaped)
    username = f"new-hire-{secrets.token_hex(3)}"
    page.click("nav >> text=Employees")
    page.click("#add-employee")
    page.fill("#username", username)
    page.fill("#email", "someone@localhost")  # the browser accepts it; the server does not
    page.click("#save")
    assert page.locator("#email-error").is_visible()  # refused beside the field
    page.fill("#email", f"{username}@example.com")
    page.fill("#first_name", XSS)
    page.fill("#last_name", "Hire")
    page.click("#save")
    page.wait_for_url("**/console/employees/*?done=created")
    assert page.locator("#notice").inner_text() == "The employee was added."
    assert page.locator("#first_name").input_value() == XSS  # shown as text, never run
    detail_url = page.url.split("?")[0]

    # an enrolment link, used by the employee in their own browser
    page.click("#enrolment-link")
    link = page.locator("#link").input_value()
    assert link.startswith(idp_server.url("/enrol/"))
    _shot(page, "enrolment-link", storage)
    theirs = browser.new_context()
    employee_page = theirs.new_page()
    add_authenticator(employee_page)
    employee_page.goto(link)
    employee_page.click("#register")
    employee_page.wait_for_url(idp_server.url("/"))

    # the admin sees the passkey and the session, revokes one and ends the other
    page.goto(detail_url)
    assert page.locator("#passkeys li").count() == 1
    assert page.locator("#sessions li").count() == 1
    _shot(page, "employee", storage)
    page.locator("#passkeys button").click()
    page.wait_for_url("**?done=revoked")
    assert page.locator("#passkeys").inner_text() == "No passkeys."
    page.click("#end-all")
    page.wait_for_url("**?done=ended")
    assert page.locator("#sessions").inner_text() == "No live sessions."
    employee_page.goto(idp_server.url("/"))
    employee_page.wait_for_url("**/login")  # their session really ended
    theirs.close()

    # the list finds them; the audit names who did what
    page.goto(idp_server.url(f"/console/employees?search={username}"))
    assert page.locator("#employees tbody tr").count() == 1
    _shot(page, "employees", storage)
    page.goto(idp_server.url("/console/audit"))
    rows = page.locator("table.events tbody tr")
    text = rows.all_inner_texts()
    removed = next(r for r in text if "passkey_removed" in r)
    assert admin in removed and username in removed
    assert any("session_ended" in r and username in r for r in text)
    assert any("employee_created" in r and admin in r for r in text)
    _shot(page, "audit", storage)


def test_admin_approves_a_workstation_and_raises_and_lifts_the_alarm(
    admin_page: tuple[Any, str], idp_server: RunningServer, storage: str
) -> None:
    """A pending workstation approved from its page, its proximity changed; the alarm raised
    and lifted (the lift needs a sign-in of the last minutes: the one just made counts)."""
    from idp.workstations.model import WorkstationInfo
    from idp.workstations.registry import WorkstationRepository

    page, admin = admin_page
    ws = "ws-" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(32))
    name = f"pc-{secrets.token_hex(3)}"
    WorkstationRepository(idp_server.runtime.db).register(
        workstation_id=ws, public_key="k", now=idp_server.runtime.now(),
        info=WorkstationInfo(name, "CORP", "Windows 11", "10.0.0.5", "1.0"),
    )  # fmt: skip
    _sign_in(page, idp_server)
    page.click("nav >> text=Workstations")
    page.fill("#search", name)
    page.click("text=Show")
    _shot(page, "workstations", storage)
    page.click(f"text={name}")
    page.click("#ws-approve")
    page.wait_for_url("**?done=ws_status")
    assert page.locator("#ws-status").inner_text() == "approved"
    page.fill("#unlock_proximity", "10")  # below the lock threshold: refused beside the field
    page.click("#save-settings")
    assert page.locator("text=must be above").first.is_visible()
    page.fill("#lock_proximity", "25")
    page.fill("#unlock_proximity", "75")
    page.click("#save-settings")
    page.wait_for_url("**?done=saved")
    _shot(page, "workstation", storage)
    page.click("nav >> text=Alarm")
    page.click("#alarm-on")
    page.wait_for_url("**?done=alarm_on")
    assert "ON" in page.locator("#alarm-state").inner_text()
    _shot(page, "alarm", storage)
    page.click("#alarm-off")
    page.wait_for_url("**?done=alarm_off")
    assert "off" in page.locator("#alarm-state").inner_text()
    assert admin in page.locator("#lifted").inner_text()


def test_admin_assigns_suspends_and_compromises_a_key(
    admin_page: tuple[Any, str], idp_server: RunningServer, storage: str
) -> None:
    """A Ready key assigned from its page: the activation code is shown once; the key links
    (through the service the key driver calls), is suspended with a new code, and is marked
    compromised — after a sign-in older than five minutes the console sends the admin to sign
    in again and back, and only then does it."""
    import datetime as dt

    from idp.admin.keys_models import KeyImportIn, KeyImportItem
    from idp.factors.kinds import FactorKind, FactorUse
    from idp.vault.service import build_vault_service

    page, admin = admin_page
    rt = idp_server.runtime
    svc = build_admin_services(rt)
    tail = secrets.token_hex(5).upper()
    serial = f"E2E{tail}"
    mac = "DD:" + ":".join(tail[i : i + 2] for i in range(0, 10, 2))
    item = KeyImportItem(serial=serial, mac=mac, model="Hideez Key 4", firmware="4.3.1")
    svc.keys.import_keys(CLI, KeyImportIn(keys=[item]))
    holder = f"key-holder-{secrets.token_hex(3)}"
    svc.employees.create(CLI, EmployeeCreate(username=holder, email=f"{holder}@example.com",
                                             first_name=XSS))  # fmt: skip
    _sign_in(page, idp_server)
    assert page.locator("#keys-attention").is_visible()
    page.click("nav >> text=Keys")
    page.select_option("#status", "ready")
    page.click("text=Show")
    _shot(page, "keys", storage)
    page.click(f"text={serial}")
    page.fill("#username", holder)
    page.click("#assign")
    code = page.locator("#activation-code").input_value()
    assert len(code) == 6 and code.isdigit()
    _shot(page, "key-code", storage)
    page.click("#back-to-key")
    assert page.locator("#key-status").inner_text() == "reserved"
    assert code not in page.content()  # shown once: never again, not in any URL
    assert holder in page.locator("#key-holder").inner_text()

    driver = build_vault_service(rt)  # the key connects: the user types the code
    driver.check_activation_code(serial=serial, code=code)
    driver.linked(serial=serial)
    page.reload()
    page.click("#suspend")
    again = page.locator("#activation-code").input_value()
    assert len(again) == 6 and again.isdigit()
    page.click("#back-to-key")
    assert page.locator("#key-status").inner_text() == "suspended"
    _shot(page, "key", storage)

    # the admin's sign-in is now older than five minutes (a session from back then)
    employee = idp_server.employee(admin)
    then = rt.now() - dt.timedelta(minutes=6)
    use = FactorUse(kind=FactorKind.PASSKEY, credential_id="c", at=then, user_verified=True,
                    amr=("hwk",))  # fmt: skip
    old = rt.sessions.create(employee_id=employee.id, now=then, factor=use)
    page.context.clear_cookies()
    page.context.add_cookies([{"name": rt.config.session.cookie_name, "value": old.session_id,
                               "url": idp_server.url("/")}])  # fmt: skip
    page.reload()
    page.click("#compromise")
    page.wait_for_url(f"**/console/signin?next=/console/keys/{serial}")
    assert page.locator("#key-status").count() == 0
    assert svc.keys.get(CLI, serial).key.status.value == "suspended"
    page.click("#passkey-signin")
    try:  # conditional UI (passkey autofill) may finish the sign-in by itself
        page.wait_for_url(idp_server.url(f"/console/keys/{serial}"), timeout=3_000)
    except Exception:
        page.click("#signin")
        page.wait_for_url(idp_server.url(f"/console/keys/{serial}"))
    page.click("#compromise")
    page.wait_for_url("**?done=key_compromised")
    assert page.locator("#key-status").inner_text() == "compromised"
    assert page.locator("#key-holder").inner_text() == "–"


def test_admin_signs_in_with_password_and_totp(
    browser: Any, idp_server: RunningServer, storage: str
) -> None:
    """The other way in: the admin password and a code from an authenticator app; a wrong
    code is refused on the page, with the form kept, and the code works once."""
    import pyotp

    username = f"pw-admin-{secrets.token_hex(3)}"
    svc = build_admin_services(idp_server.runtime)
    svc.employees.create(CLI, EmployeeCreate(username=username, email=f"{username}@example.com"))
    svc.accounts.create_admin(CLI, AdminCreate(username=username, role=Role.HELPDESK))
    svc.credentials.set_password(CLI, username, "a long console passphrase 7")
    totp = pyotp.TOTP(svc.credentials.enable_totp(CLI, username).secret)
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(idp_server.url("/console/employees"))
    page.wait_for_url("**/console/signin?next=/console/employees")
    assert page.locator("#passkey-signin").is_visible()
    page.fill("#username", username)
    page.fill("#password", "a long console passphrase 7")
    page.fill("#code", "000000" if totp.now() != "000000" else "111111")
    _shot(page, "signin", storage)
    page.click("#password-signin")
    assert "not correct" in page.locator("#signin-error").inner_text()
    assert page.locator("#username").input_value() == username
    page.fill("#password", "a long console passphrase 7")
    page.fill("#code", totp.now())
    page.click("#password-signin")
    page.wait_for_url(idp_server.url("/console/employees"))
    assert username in page.locator("#who").inner_text()
    context.close()


def test_every_console_form_field_has_a_label(
    admin_page: tuple[Any, str], idp_server: RunningServer
) -> None:
    page, _ = admin_page
    _sign_in(page, idp_server)
    for path in ("/console/employees", "/console/employees/new", "/console/audit",
                 "/console/signin", "/console/workstations", "/console/alarm",
                 "/console/organisation", "/console/sync", "/console/keys",
                 "/console/key-profiles", "/console/shared-accounts",
                 "/console/key-templates"):  # fmt: skip
        page.goto(idp_server.url(path))
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.name)"""
        )
        assert unlabelled == [], path
    page.set_viewport_size({"width": 375, "height": 800})  # a phone: nothing wider than it
    page.goto(idp_server.url("/console/employees"))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375

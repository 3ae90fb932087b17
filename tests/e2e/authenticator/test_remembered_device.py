"""A push without the user name, to the device this browser last signed in with: offered on the
sign-in page as "Send a request to <device>", bound to the browser (another browser, or this
one without its flow cookie, finds nothing), dropped without saying why when the device is
disabled, removed or replaced or the employee disabled, and audited."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from authenticator import Authenticator
from idp.audit import AuditKind, Outcome
from idp.directory.model import SsoMode
from idp.factors.authenticator.model import DeviceStatus
from idp.factors.authenticator.remembered import recall, remember
from idp.store.ephemeral import MemoryStore
from tests.conftest import FakeClock
from tests.e2e.authenticator.helpers import Browserless, enrolled_app, new_person, push_sign_in
from tests.e2e.authenticator.test_push import saml_ticket
from tests.e2e.server import RunningServer

pytestmark = pytest.mark.e2e

NO_NAME = "enter your user name first"


@pytest.fixture
def server(app_server: RunningServer) -> RunningServer:
    return app_server


def signed_in_once(server: RunningServer, tmp_path: Path) -> tuple[Browserless, Authenticator, str]:
    """A browser that signed in with the app once, then lost its session (signed out)."""
    person = new_person(server)
    app = enrolled_app(server, person, tmp_path)
    browser = Browserless(server)
    done = push_sign_in(browser, app, saml_ticket(browser, server), person)
    assert done.status_code == 200, done.text
    del browser.http.cookies["hideez_idp_session"]
    return browser, app, person


def start_remembered(browser: Browserless, ticket: str, **extra: object):  # type: ignore[no-untyped-def]
    return browser.post("/push/login/start", {"ticket": ticket, "remembered": True, **extra},
                        page=f"/login?ticket={ticket}")  # fmt: skip


def login_page(browser: Browserless, ticket: str) -> str:
    page = browser.http.get(browser.server.url(f"/login?ticket={ticket}"), timeout=10)
    assert page.status_code == 200
    return page.text


def test_the_browser_offers_its_last_device_and_signs_in_without_a_user_name(
    server: RunningServer, tmp_path: Path
) -> None:
    browser, app, person = signed_in_once(server, tmp_path)
    ticket = saml_ticket(browser, server)
    assert f"Send a request to {person}&#39;s phone" in login_page(browser, ticket)
    started = start_remembered(browser, ticket)
    assert started.status_code == 200, started.text
    shown = started.json()
    assert app.approve(shown["number"]) == "approved"
    done = browser.post("/push/login/poll",
                        {"ticket": ticket, "transaction_id": shown["transaction_id"]},
                        page=f"/login?ticket={ticket}")  # fmt: skip
    assert done.status_code == 200 and "redirect" in done.json()
    employee_id = server.employee(person).id
    events = [e for e in server.runtime.audit.list(kind=AuditKind.PUSH_REMEMBERED_DEVICE,
                                                   limit=50).items
              if e.employee_id == employee_id]  # fmt: skip
    assert events and events[0].outcome is Outcome.INFO


def test_another_browser_finds_nothing_and_hears_the_no_user_name_answer(
    server: RunningServer, tmp_path: Path
) -> None:
    signed_in_once(server, tmp_path)
    stranger = Browserless(server)
    ticket = saml_ticket(stranger, server)
    assert "Send a request to" not in login_page(stranger, ticket)
    refused = start_remembered(stranger, ticket)
    assert refused.status_code == 403 and NO_NAME in refused.json()["error_description"]
    # The same answer as a browser that never had a record and sends no user name at all.
    bare = stranger.post("/push/login/start", {"ticket": ticket}, page=f"/login?ticket={ticket}")
    assert bare.status_code == refused.status_code
    assert bare.json()["error_description"] == refused.json()["error_description"]


@pytest.mark.parametrize("change", ["device_disabled", "device_removed", "employee_disabled",
                                    "device_replaced", "two_factor"])  # fmt: skip
def test_a_record_that_may_no_longer_be_used_is_forgotten_without_saying_why(
    server: RunningServer, tmp_path: Path, change: str
) -> None:
    browser, _, person = signed_in_once(server, tmp_path)
    rt, employee = server.runtime, server.employee(person)
    device = rt.authenticator.devices.for_employee(employee.id)
    assert device is not None
    if change == "device_disabled":
        rt.authenticator.devices.set_status(device.device_id, DeviceStatus.DISABLED)
    elif change == "device_removed":
        rt.authenticator.devices.delete(device.device_id)
    elif change == "device_replaced":
        enrolled_app(server, person, tmp_path / "new-phone")
    elif change == "employee_disabled":
        rt.employees.set_enabled(employee.id, False)
    else:
        rt.employees.update(replace(employee, sso_mode=SsoMode.TWO_FACTOR))
    rt.directory.invalidate(employee.id)
    ticket = saml_ticket(browser, server)
    assert "Send a request to" not in login_page(browser, ticket)
    refused = start_remembered(browser, ticket)
    assert refused.status_code == 403 and NO_NAME in refused.json()["error_description"]
    forgotten = [e for e in rt.audit.list(kind=AuditKind.PUSH_REMEMBERED_DEVICE, limit=50).items
                 if e.employee_id == employee.id]  # fmt: skip
    assert forgotten and forgotten[0].outcome is Outcome.FAILURE
    assert "forgotten" in (forgotten[0].reason or "")


def test_hostile_remembered_fields(server: RunningServer, tmp_path: Path) -> None:
    browser, app, _ = signed_in_once(server, tmp_path)
    ticket = saml_ticket(browser, server)
    odd = browser.post("/push/login/start", {"ticket": ticket, "remembered": "yes"},
                       page=f"/login?ticket={ticket}")  # fmt: skip
    assert odd.status_code == 400 and "true or false" in odd.json()["error_description"]
    # A user name typed wins over the remembered device: the push goes to whoever was named.
    other = new_person(server)
    named = start_remembered(browser, ticket, username=other)
    assert named.status_code == 200
    assert app.pending() == []  # nothing reached the remembered phone


def test_the_record_expires(clock: FakeClock) -> None:
    store = MemoryStore(clock=clock)
    remember(store, binding="b" * 32, employee_id="e1", device_id="d1", days=2)
    clock.advance(2 * 86400 - 10)
    assert recall(store, "b" * 32) is not None
    assert recall(store, "c" * 32) is None
    clock.advance(20)
    assert recall(store, "b" * 32) is None


def test_signing_out_forgets_the_device(server: RunningServer, tmp_path: Path) -> None:
    person = new_person(server)
    app = enrolled_app(server, person, tmp_path)
    browser = Browserless(server)
    assert push_sign_in(browser, app, saml_ticket(browser, server), person).status_code == 200
    out = browser.http.post(server.url("/logout"), data={"csrf": browser.csrf("/login")},
                            allow_redirects=False, timeout=10)  # fmt: skip
    assert out.status_code < 400, out.text
    ticket = saml_ticket(browser, server)
    assert "Send a request to" not in login_page(browser, ticket)
    refused = start_remembered(browser, ticket)
    assert refused.status_code == 403 and NO_NAME in refused.json()["error_description"]

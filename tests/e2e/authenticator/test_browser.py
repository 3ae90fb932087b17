"""The sign-in page in headless Chromium with the reference authenticator as the phone: the
page shows the number, the authenticator picks it (or another, or denies, or waits too long),
and the browser lands back at the python3-saml SP only when the right number was approved."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from authenticator import Authenticator
from tests.e2e.authenticator.helpers import enrolled_app, new_person
from tests.e2e.server import RunningServer
from tests.e2e.test_browser_passkey import ARGS, CHROMIUM

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


@pytest.fixture
def server(app_server: RunningServer) -> RunningServer:
    return app_server


def shown_number(page: Any, server: RunningServer, username: str) -> int:
    page.goto(server.sp_url + "/login")
    page.wait_for_url("**/login?ticket=*")
    page.fill("#username", username)
    page.click("#push-send")
    number = page.locator("#push-number-value")
    number.wait_for(state="visible")
    return int(number.inner_text())


def waiting(app: Authenticator) -> Any:
    for _ in range(50):
        found = app.pending()
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError("no request reached the phone")


def test_the_authenticator_picks_the_number_the_page_shows(
    page: Any, server: RunningServer, tmp_path: Path
) -> None:
    alice = new_person(server)
    app = enrolled_app(server, alice, tmp_path)
    number = shown_number(page, server, alice)
    request = waiting(app)
    assert number in request.choices and request.relying_party == "Demo SP"
    assert "Chrome" in request.user_agent
    assert app.approve(number) == "approved"
    page.wait_for_url(server.sp_url + "/")
    assert f"{alice}@example.com" in page.locator("#who").inner_text()


def test_deny_and_wrong_number_keep_the_browser_out(
    page: Any, server: RunningServer, tmp_path: Path
) -> None:
    bob = new_person(server)
    app = enrolled_app(server, bob, tmp_path)
    shown_number(page, server, bob)
    waiting(app)
    app.deny()
    page.locator("#status.error").wait_for()
    assert "denied on your phone" in page.locator("#status").inner_text()
    page.click("#push-send")
    page.locator("#push-number").wait_for(state="visible")
    number = int(page.locator("#push-number-value").inner_text())
    wrong = next(n for n in waiting(app).choices if n != number)
    assert app.approve(wrong) == "wrong_number"
    page.locator("#status.error").wait_for()
    assert "did not match" in page.locator("#status").inner_text()
    assert not any(c["name"] == "hideez_idp_session" for c in page.context.cookies())


def test_a_request_left_unanswered_expires_on_the_page(
    page: Any, server: RunningServer, tmp_path: Path
) -> None:
    alice = new_person(server)
    app = enrolled_app(server, alice, tmp_path)
    shown_number(page, server, alice)
    waiting(app)
    rt, real = server.runtime, server.runtime.clock
    rt.clock = lambda: real() + dt.timedelta(seconds=121)
    try:
        page.locator("#status.error").wait_for()
        assert "expired" in page.locator("#status").inner_text()
    finally:
        rt.clock = real
    assert not any(c["name"] == "hideez_idp_session" for c in page.context.cookies())


def test_the_page_offers_the_browsers_last_device_without_a_user_name(
    page: Any, server: RunningServer, tmp_path: Path
) -> None:
    carol = new_person(server)
    app = enrolled_app(server, carol, tmp_path)
    number = shown_number(page, server, carol)
    assert app.approve(number) == "approved"
    page.wait_for_url(server.sp_url + "/")
    # The session ends (expired, say); the browser keeps its flow cookie.
    page.context.clear_cookies(name="hideez_idp_session")
    page.goto(server.sp_url + "/login")
    page.wait_for_url("**/login?ticket=*")
    offer = page.locator("#push-remembered")
    assert offer.inner_text() == f"Send a request to {carol}'s phone"
    offer.click()
    shown = page.locator("#push-number-value")
    shown.wait_for(state="visible")
    assert page.input_value("#username") == ""
    assert app.approve(int(shown.inner_text())) == "approved"
    page.wait_for_url(server.sp_url + "/")
    assert f"{carol}@example.com" in page.locator("#who").inner_text()

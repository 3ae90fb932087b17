"""The push leaves through the queue over HTTP: an IdP configured for FCM (its stand-in on
loopback, push_standins.py) answers the sign-in page before FCM answers the IdP; the page's
poll then tells what became of the push — sent, or failed with why (the app still finds the
request by polling, and the sign-in still works)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from authenticator import Authenticator
from tests.e2e.authenticator.conftest import APP, LIMITS
from tests.e2e.authenticator.helpers import Browserless, authenticator_idp, new_person
from tests.e2e.server import RunningServer
from tests.idp.factors.authenticator.push_standins import FcmStandin, fcm_standin

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fcm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fcm")


@pytest.fixture(scope="module")
def fcm(fcm_dir: Path) -> Iterator[FcmStandin]:
    with fcm_standin(fcm_dir) as standin:
        yield standin
        standin.release.set()


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, storage: str, fcm: FcmStandin, fcm_dir: Path
) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp(f"queue-{storage}")
    account = directory / "fcm-account.json"
    account.write_text(fcm.service_account())
    section = (
        f"  fcm:\n    project_id: {fcm.project_id}\n    service_account: {{file: {account}}}\n"
        f"    endpoint: {fcm.url}\n    ca_file: {fcm_dir / 'standin.crt'}\n"
    )
    with authenticator_idp(directory, storage=storage,
                           extra_config=LIMITS + APP + section) as running:  # fmt: skip
        yield running


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def start(server: RunningServer, tmp_path: Path) -> tuple[Browserless, Authenticator, dict]:  # type: ignore[type-arg]
    person = new_person(server)
    app = Authenticator(tmp_path)
    app.enrol(Browserless(server).enrolment_code(person), display_name="Pixel",
              push_provider="fcm", push_token=f"fcm-{person}")  # fmt: skip
    browser = Browserless(server)
    browser.csrf("/login")
    began = time.monotonic()
    started = browser.post("/push/login/start", {"username": person})
    assert started.status_code == 200, started.text
    assert time.monotonic() - began < 2.0
    return browser, app, started.json()


def poll(browser: Browserless, txn: str) -> dict:  # type: ignore[type-arg]
    answer: dict = browser.post("/push/login/poll", {"transaction_id": txn}).json()  # type: ignore[type-arg]
    return answer


def test_the_page_is_answered_before_fcm_and_learns_the_push_was_sent(
    server: RunningServer, fcm: FcmStandin, tmp_path: Path
) -> None:
    fcm.release.clear()  # FCM holds its answers: the sign-in request must not wait for it
    try:
        browser, app, shown = start(server, tmp_path)
        txn = shown["transaction_id"]
        assert poll(browser, txn) == {"state": "pending", "delivery": "sending"}
        eventually(lambda: any(m["data"]["transaction_id"] == txn for m in fcm.seen))
    finally:
        fcm.release.set()
    eventually(lambda: poll(browser, txn).get("delivery") == "sent")
    assert app.approve(shown["number"]) == "approved"
    assert "redirect" in poll(browser, txn)


def test_a_push_fcm_refuses_is_reported_to_the_page_and_polling_still_signs_in(
    server: RunningServer, fcm: FcmStandin, tmp_path: Path
) -> None:
    fcm.answers.append("invalid")
    browser, app, shown = start(server, tmp_path)
    txn = shown["transaction_id"]
    eventually(lambda: poll(browser, txn).get("delivery") == "failed")
    failed = poll(browser, txn)
    assert failed["state"] == "pending"
    assert "push service refused" in failed["message"] and "Hideez app" in failed["message"]
    assert app.approve(shown["number"]) == "approved"  # the app polled and found it
    assert "redirect" in poll(browser, txn)


def test_the_sender_runs_in_the_serving_process_and_stops_with_it(server: RunningServer) -> None:
    push_sender = server.runtime.authenticator.push_sender
    assert push_sender is not None and push_sender.running

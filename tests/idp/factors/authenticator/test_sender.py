"""Pushes sent from the short-lived store's queue by the background sender, against the FCM
stand-in (push_standins.py): queuing never waits on the service, the outcome is recorded for
the page (sent, retrying after a back-off, failed with why), any instance's sender sends what
any instance queued, each job once."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from idp.config.authenticator import AuthenticatorSettings, FcmSettings
from idp.factors.authenticator import sender
from idp.factors.authenticator.model import Device, DeviceStatus
from idp.factors.authenticator.providers import FcmProvider
from idp.factors.authenticator.push import PushChallenge, create_challenge, record_answer
from idp.factors.authenticator.sender import Delivery, PushJob, PushSender
from idp.factors.authenticator.service import AuthenticatorServices
from idp.factors.authenticator.store import DeviceRepository, TotpRepository
from idp.secrets import SecretBox
from idp.store.ephemeral import EphemeralStore, MemoryStore
from idp.store.errors import StoreError
from idp.store.sql import Database, EmployeeRepository
from tests.conftest import FakeClock
from tests.idp.factors.authenticator.push_standins import FcmStandin, fcm_standin
from tests.store.sql.helpers import employee as helper_employee

START = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)
DEVICE_ID = "dev-" + "x" * 16


class Wall:
    """The runtime's clock, moved together with the memory store's."""

    def __init__(self, store_clock: FakeClock | None = None) -> None:
        self.now = START
        self._store_clock = store_clock

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        if self._store_clock is not None:
            self._store_clock.advance(seconds)


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[FcmStandin]:
    with fcm_standin(tmp_path) as running:
        yield running
        running.release.set()


def services_for(standin: FcmStandin, db: Database, tmp_path: Path, *, token: str | None = "t1"
                 ) -> AuthenticatorServices:  # fmt: skip
    provider = FcmProvider(FcmSettings(
        project_id=standin.project_id, client_email=standin.client_email,
        private_key_pem=standin.private_key_pem, token_uri=standin.url + "/token",
        endpoint=standin.url, ca_file=tmp_path / "standin.crt",
    ))  # fmt: skip
    employee = EmployeeRepository(db).add(helper_employee(), now=START)
    devices = DeviceRepository(db)
    devices.replace_for_employee(Device(
        device_id=DEVICE_ID, employee_id=employee.id, public_key=b"k", display_name="phone",
        platform="android", status=DeviceStatus.ACTIVE, created_at=START,
        push_provider="fcm" if token else None, push_token=token,
    ))  # fmt: skip
    return AuthenticatorServices(settings=AuthenticatorSettings(), devices=devices,
                                 totp=TotpRepository(db), secrets=SecretBox(),
                                 providers={"fcm": provider})  # fmt: skip


def challenge_for(services: AuthenticatorServices, store: EphemeralStore, *,
                  now: dt.datetime = START) -> tuple[PushChallenge, Device]:  # fmt: skip
    device = services.devices.get(DEVICE_ID)
    assert device is not None
    challenge, created = create_challenge(
        store, employee_id=device.employee_id, device_id=DEVICE_ID, relying_party="rp",
        ip="192.0.2.1", user_agent="ua", location=None, browser="b" * 32, now=now, ttl=120,
    )  # fmt: skip
    assert created
    return challenge, device


def delivery(store: EphemeralStore, challenge: PushChallenge) -> Delivery | None:
    state = sender.delivery_of(store, challenge.transaction_id)
    return None if state is None else state.state


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_queuing_does_not_wait_for_the_service_and_the_sender_records_delivery(
    standin: FcmStandin, db: Database, tmp_path: Path
) -> None:
    services, store = services_for(standin, db, tmp_path), MemoryStore()
    challenge, device = challenge_for(services, store)
    standin.release.clear()  # the service holds every answer
    started = time.monotonic()
    services.queue_push(store, device, challenge, server="https://idp.example.com")
    assert time.monotonic() - started < 0.1
    assert delivery(store, challenge) is Delivery.SENDING
    services.start_sending(store, clock=lambda: START)
    try:
        eventually(lambda: len(standin.seen) == 1)  # the sender is waiting on the service
        assert delivery(store, challenge) is Delivery.SENDING
        assert standin.seen[0]["data"] == {"type": "sign_in", "server": "https://idp.example.com",
                                           "transaction_id": challenge.transaction_id}  # fmt: skip
        standin.release.set()
        eventually(lambda: delivery(store, challenge) is Delivery.SENT)
    finally:
        services.close()
    assert services.push_sender is not None and not services.push_sender.running


@pytest.mark.parametrize(
    ("answer", "said"),
    [("invalid", "refused the notification"), ("unregistered", "push registration has ended")],
)
def test_a_refused_push_is_recorded_as_failed_with_why(
    standin: FcmStandin, db: Database, tmp_path: Path, answer: str, said: str
) -> None:
    services, store = services_for(standin, db, tmp_path), MemoryStore()
    challenge, device = challenge_for(services, store)
    services.queue_push(store, device, challenge, server="https://idp")
    standin.answers.append(answer)
    worker = PushSender(services, store, clock=lambda: START)
    assert worker.turn(wait=0) == 1
    state = sender.delivery_of(store, challenge.transaction_id)
    assert state is not None and state.state is Delivery.FAILED
    assert state.message is not None and said in state.message and "Hideez app" in state.message
    marked = services.devices.get(DEVICE_ID)
    assert marked is not None and (marked.push_unregistered_at is not None) == (
        answer == "unregistered"
    )
    services.close()


def test_back_off_is_retried_after_retry_after_while_the_request_can_be_answered(
    standin: FcmStandin, db: Database, tmp_path: Path, clock: FakeClock
) -> None:
    services, store = services_for(standin, db, tmp_path), MemoryStore(clock=clock)
    wall = Wall(clock)
    challenge, device = challenge_for(services, store)
    services.queue_push(store, device, challenge, server="https://idp")
    standin.answers.append("quota")  # 429 with Retry-After: 17
    worker = PushSender(services, store, clock=wall)
    worker.turn(wait=0)
    assert delivery(store, challenge) is Delivery.RETRYING
    wall.advance(10)
    assert worker.turn(wait=0) == 0 and len(standin.seen) == 1  # not due yet
    wall.advance(8)
    assert worker.turn(wait=0) == 1
    assert len(standin.seen) == 2 and delivery(store, challenge) is Delivery.SENT
    services.close()


def test_back_off_past_the_expiry_fails_and_a_held_service_is_not_called(
    standin: FcmStandin, db: Database, tmp_path: Path, clock: FakeClock
) -> None:
    services, store = services_for(standin, db, tmp_path), MemoryStore(clock=clock)
    wall = Wall(clock)
    challenge, device = challenge_for(services, store)
    services.queue_push(store, device, challenge, server="https://idp")
    standin.answers.extend(["unavailable"])  # 503, Retry-After: 17
    worker = PushSender(services, store, clock=wall)
    worker.turn(wait=0)
    # Every retry finds the service's back-off (30 s without a Retry-After) still running.
    store.put("push:backoff:fcm", b"1", ttl=600)
    for _ in range(sender.MAX_ATTEMPTS):
        wall.advance(20)
        worker.turn(wait=0)
    state = sender.delivery_of(store, challenge.transaction_id)
    assert state is not None and state.state is Delivery.FAILED
    assert state.message is not None and "not accepting notifications" in state.message
    assert len(standin.seen) == 1
    services.close()


def test_nothing_is_sent_for_an_answered_or_expired_request(
    standin: FcmStandin, db: Database, tmp_path: Path
) -> None:
    services, store = services_for(standin, db, tmp_path), MemoryStore()
    challenge, device = challenge_for(services, store)
    services.queue_push(store, device, challenge, server="https://idp")
    record_answer(store, challenge, device_id=DEVICE_ID, approve=False, number=None,
                  reason=None, user_verified=False, now=START)  # fmt: skip
    PushSender(services, store, clock=lambda: START).turn(wait=0)
    late, _ = challenge_for(services, store, now=START + dt.timedelta(minutes=5))
    services.queue_push(store, device, late, server="https://idp")
    later = START + dt.timedelta(minutes=8)
    PushSender(services, store, clock=lambda: later).turn(wait=0)
    assert standin.seen == []
    services.close()


def test_polling_only_app_and_decoy_are_sent_at_once_without_a_job(
    standin: FcmStandin, db: Database, tmp_path: Path
) -> None:
    services, store = services_for(standin, db, tmp_path, token=None), MemoryStore()
    challenge, device = challenge_for(services, store)
    services.queue_push(store, device, challenge, server="https://idp")
    assert delivery(store, challenge) is Delivery.SENT
    decoy, _ = create_challenge(store, employee_id="decoy:1", device_id="", relying_party="rp",
                                ip="192.0.2.1", user_agent="ua", location=None,
                                browser="b" * 32, now=START, ttl=120)  # fmt: skip
    services.queue_push(store, None, decoy, server="https://idp")
    assert delivery(store, decoy) is Delivery.SENT
    assert store.queue_pop(sender.QUEUE, timeout=0) is None
    services.close()


def test_stop_hands_retries_back_to_the_shared_queue(
    standin: FcmStandin, db: Database, tmp_path: Path
) -> None:
    services, store = services_for(standin, db, tmp_path), MemoryStore()
    challenge, device = challenge_for(services, store)
    services.queue_push(store, device, challenge, server="https://idp")
    standin.answers.append("quota")
    worker = PushSender(services, store, clock=lambda: START)
    worker.turn(wait=0)
    worker.stop()
    raw = store.queue_pop(sender.QUEUE, timeout=0)
    assert raw is not None
    job = PushJob.from_json(raw)
    assert job.attempt == 2 and job.not_before == START.timestamp() + 17
    services.close()


def test_a_malformed_job_is_dropped_and_the_sender_goes_on(
    standin: FcmStandin, db: Database, tmp_path: Path
) -> None:
    services, store = services_for(standin, db, tmp_path), MemoryStore()
    store.queue_push(sender.QUEUE, b"{not json", ttl=60)
    challenge, device = challenge_for(services, store)
    services.queue_push(store, device, challenge, server="https://idp")
    worker = PushSender(services, store, clock=lambda: START)
    worker.turn(wait=0)
    worker.turn(wait=0)
    assert delivery(store, challenge) is Delivery.SENT
    services.close()


def test_two_instances_senders_share_the_queue_and_send_each_push_once(
    standin: FcmStandin, db: Database, tmp_path: Path, ephemeral: EphemeralStore
) -> None:
    services = services_for(standin, db, tmp_path)
    device = services.devices.get(DEVICE_ID)
    assert device is not None
    for n in range(12):
        challenge, _ = create_challenge(
            ephemeral, employee_id=f"e{n}", device_id=DEVICE_ID, relying_party="rp",
            ip="192.0.2.1", user_agent="ua", location=None, browser="b" * 32, now=START, ttl=120,
        )  # fmt: skip
        services.queue_push(ephemeral, device, challenge, server="https://idp")
    workers = [PushSender(services, ephemeral, clock=lambda: START) for _ in range(2)]
    handled: list[int] = []

    def drain(worker: PushSender) -> None:
        while (count := worker.turn(wait=0.2)) > 0:
            handled.append(count)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(handled) == 12
    assert sorted(m["data"]["transaction_id"] for m in standin.seen) == sorted(
        {m["data"]["transaction_id"] for m in standin.seen}
    )
    assert len(standin.seen) == 12
    services.close()


def test_a_sender_thread_lost_to_a_fork_is_started_again_by_the_next_push(
    standin: FcmStandin, db: Database, tmp_path: Path
) -> None:
    services, store = services_for(standin, db, tmp_path), MemoryStore()
    services.start_sending(store, clock=lambda: START)
    first = services.push_sender
    assert first is not None and first.running
    first.stop()  # what a forked worker sees: the object, no thread
    challenge, device = challenge_for(services, store)
    services.queue_push(store, device, challenge, server="https://idp")
    assert services.push_sender is not first and services.push_sender.running
    eventually(lambda: delivery(store, challenge) is Delivery.SENT)
    services.close()
    assert not services.push_sender.running
    services.queue_push(store, device, challenge, server="https://idp")
    assert not services.push_sender.running  # a closed runtime starts nothing


def test_a_job_is_kept_for_a_retry_when_the_database_fails_meanwhile(
    standin: FcmStandin, db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services, store = services_for(standin, db, tmp_path), MemoryStore()
    challenge, device = challenge_for(services, store)
    services.queue_push(store, device, challenge, server="https://idp")
    wall = Wall()
    worker = PushSender(services, store, clock=wall)
    real_get = services.devices.get
    monkeypatch.setattr(services.devices, "get", lambda _id: (_ for _ in ()).throw(
        StoreError("database unreachable")))  # fmt: skip
    worker.turn(wait=0)
    assert delivery(store, challenge) is Delivery.SENDING and standin.seen == []
    monkeypatch.setattr(services.devices, "get", real_get)
    wall.advance(3)
    worker.turn(wait=0)
    assert delivery(store, challenge) is Delivery.SENT and len(standin.seen) == 1
    services.close()

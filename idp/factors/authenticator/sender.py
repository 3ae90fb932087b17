"""Push notifications sent from a queue in the short-lived store, not in the sign-in request.

The sign-in request only queues a :class:`PushJob` (one ``RPUSH``) and answers the page at
once; a :class:`PushSender` thread in every IdP process (both shells: the runtime starts it)
takes jobs from the shared queue (``BLPOP``), so any instance sends what any instance queued,
and calls FCM or APNs through :meth:`AuthenticatorServices.notify` (which honours a push
service's back-off on every instance and marks unregistered tokens).

What became of the push is kept beside the challenge (``push:delivery:<transaction>``) for the
page's poll: ``sending``, ``sent``, ``retrying`` or ``failed`` with a sentence for the person.
A service that is busy or unreachable (``BACKOFF``) is retried, after its ``Retry-After`` or
an exponential pause, while the challenge can still be answered; a job due later waits in the
taking process (and goes back to the shared queue when that process stops). The app's own
polling still finds the challenge whatever the push did, so the page says so.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from idp.factors.authenticator import push
from idp.factors.authenticator.errors import ChallengeGone
from idp.factors.authenticator.model import Device
from idp.factors.authenticator.providers import PushOutcome
from idp.store.ephemeral.base import EphemeralStore

if TYPE_CHECKING:
    from idp.factors.authenticator.service import AuthenticatorServices

log = logging.getLogger("hideez_idp.push")

QUEUE = "push:queue"
_DELIVERY = "push:delivery:"
#: the queue outlives its last push by this much; an item nobody took in an hour is stale
_QUEUE_TTL = 3600
#: attempts per push while the service asks us to wait (the first included)
MAX_ATTEMPTS = 5
#: pause before a retry when the service gave no Retry-After: 2, 4, 8, 16 s (its back-off
#: without a Retry-After is 30 s, see providers.DEFAULT_BACKOFF)
_FIRST_PAUSE = 2.0
#: how long the sender waits on the shared queue per turn (also how fast it notices stop)
_TURN = 0.5


class Delivery(StrEnum):
    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


#: what the page tells the person when the push did not reach the phone
NOT_DELIVERED = {
    PushOutcome.UNREGISTERED: (
        "the notification could not reach your phone (its push registration has ended); "
        "open the Hideez app: the request is waiting there"
    ),
    PushOutcome.FAILED: (
        "the push service refused the notification; open the Hideez app: the request is "
        "waiting there"
    ),
    PushOutcome.BACKOFF: (
        "the push service is not accepting notifications right now; open the Hideez app: "
        "the request is waiting there"
    ),
}


@dataclass(frozen=True)
class DeliveryState:
    state: Delivery
    message: str | None = None


@dataclass(frozen=True)
class PushJob:
    transaction_id: str
    device_id: str
    server: str
    attempt: int = 1
    #: not to be sent before this time (Unix seconds): a retry after a back-off
    not_before: float = 0.0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> PushJob:
        return cls(**json.loads(raw))


def _record(store: EphemeralStore, challenge: push.PushChallenge, state: DeliveryState) -> None:
    ttl = max(1, challenge.expires_at - challenge.created_at) + 60
    payload = json.dumps({"state": state.state.value, "message": state.message}).encode()
    store.put(_DELIVERY + challenge.transaction_id, payload, ttl=ttl)


def enqueue(
    store: EphemeralStore,
    challenge: push.PushChallenge,
    device: Device | None,
    *,
    server: str,
    pushable: bool,
) -> None:
    """Queue the push that wakes ``device`` for ``challenge`` (the request does not wait);
    ``pushable``: the device has a push channel this IdP is configured for.

    A polling-only app, and the decoy challenge of an unknown account, are reported ``sent``
    at once: the page cannot tell them from a real, delivered push.
    """
    if device is None or not pushable:
        _record(store, challenge, DeliveryState(Delivery.SENT))
        return
    _record(store, challenge, DeliveryState(Delivery.SENDING))
    job = PushJob(challenge.transaction_id, device.device_id, server)
    store.queue_push(QUEUE, job.to_json(), ttl=_QUEUE_TTL)


def queue_depth(store: EphemeralStore) -> int:
    """Push jobs of every instance waiting in the shared queue for a sender."""
    return store.queue_length(QUEUE)


def delivery_of(store: EphemeralStore, transaction_id: str) -> DeliveryState | None:
    raw = store.get(_DELIVERY + transaction_id)
    if raw is None:
        return None
    data = json.loads(raw)
    return DeliveryState(Delivery(data["state"]), data["message"])


class PushSender:
    """The background threads of one process that send queued pushes: each takes one job at
    a time, so ``threads`` pushes are in flight at once (a push waits for the service's round
    trip, not for the CPU)."""

    def __init__(
        self,
        services: AuthenticatorServices,
        store: EphemeralStore,
        *,
        clock: Callable[[], dt.datetime],
        threads: int = 1,
    ) -> None:
        self._services = services
        self._store = store
        self._clock = clock
        self._lock = threading.Lock()
        self._later: list[tuple[float, int, PushJob]] = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"push-sender-{n}", daemon=True)
            for n in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def stop(self, *, timeout: float = 10.0) -> None:
        """Stop after the pushes being sent; retries not yet due go back to the shared queue,
        for another instance (or this one's next start) to send."""
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout)
        while self._later:
            _, _, job = heapq.heappop(self._later)
            try:
                self._store.queue_push(QUEUE, job.to_json(), ttl=_QUEUE_TTL)
            except Exception:
                log.exception("push for %s could not be handed back to the queue", job.device_id)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.turn(wait=_TURN)
            except Exception:
                # A store or database outage must not end the thread: every later push would
                # silently stay in the queue.
                log.exception("push sender: turn failed; going on")
                self._stop.wait(1.0)

    def turn(self, *, wait: float) -> int:
        """Send what is due: retries kept here, then one job from the shared queue (waiting up
        to ``wait`` seconds for one); how many jobs were handled."""
        now = self._clock().timestamp()
        handled = 0
        while (due := self._due(now)) is not None:
            self._send_or_keep(due)
            handled += 1
        with self._lock:
            if self._later:
                wait = max(0.0, min(wait, self._later[0][0] - now))
        raw = self._store.queue_pop(QUEUE, timeout=wait)
        if raw is None:
            return handled
        try:
            job = PushJob.from_json(raw)
        except (ValueError, TypeError, KeyError):
            log.error("push queue: a malformed job was dropped")
            return handled
        if job.not_before > self._clock().timestamp():
            self._keep(job)
        else:
            self._send_or_keep(job)
        return handled + 1

    def _send_or_keep(self, job: PushJob) -> None:
        """Send ``job``; when the store or the database fails meanwhile, keep it for a retry
        (a job taken from the shared queue is nowhere else)."""
        try:
            self.send(job)
        except Exception:
            log.exception("push for device %s failed; retrying", job.device_id)
            if job.attempt < MAX_ATTEMPTS:
                due = self._clock().timestamp() + _FIRST_PAUSE * 2 ** (job.attempt - 1)
                self._keep(replace(job, attempt=job.attempt + 1, not_before=due))

    def _due(self, now: float) -> PushJob | None:
        with self._lock:
            if self._later and self._later[0][0] <= now:
                return heapq.heappop(self._later)[2]
            return None

    def _keep(self, job: PushJob) -> None:
        with self._lock:
            heapq.heappush(self._later, (job.not_before, next(self._order), job))

    def send(self, job: PushJob) -> None:
        """Send one job now; record the outcome for the page, or keep a retry for later."""
        store, now = self._store, self._clock()
        try:
            challenge = push.load_challenge(store, job.transaction_id)
        except ChallengeGone:
            return  # finished, cancelled or expired meanwhile: nobody waits for this push
        device = self._services.devices.get(job.device_id)
        if challenge.expired(now) or device is None or not device.usable:
            return
        if push.answer_of(store, challenge) is not None:
            return
        result = self._services.notify(store, device, challenge, server=job.server, now=now)
        if result is None:  # no push channel (any more): the app finds it by polling
            marked = device.push_unregistered_at is not None
            outcome = PushOutcome.UNREGISTERED if marked else PushOutcome.DELIVERED
        else:
            outcome = result.outcome
        if outcome is PushOutcome.DELIVERED:
            _record(store, challenge, DeliveryState(Delivery.SENT))
            return
        if outcome is PushOutcome.BACKOFF and job.attempt < MAX_ATTEMPTS:
            pause = (result.retry_after if result else None) or _FIRST_PAUSE * 2 ** (
                job.attempt - 1
            )
            due = now.timestamp() + pause
            if due < challenge.expires_at:
                _record(store, challenge, DeliveryState(Delivery.RETRYING))
                self._keep(PushJob(job.transaction_id, job.device_id, job.server,
                                   attempt=job.attempt + 1, not_before=due))  # fmt: skip
                return
        _record(store, challenge, DeliveryState(Delivery.FAILED, NOT_DELIVERED[outcome]))

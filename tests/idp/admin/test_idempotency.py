"""Idempotency keys over both short-lived stores (the in-process one and real Redis)."""

from __future__ import annotations

import threading

import pytest

from idp.admin.idempotency import (
    Answer,
    Idempotency,
    IdempotencyInProgress,
    IdempotencyKeyReused,
)
from idp.admin.models import InvalidInput
from idp.errors import Conflict
from idp.store.ephemeral.base import EphemeralStore


def test_a_retry_gets_the_first_answer_and_runs_nothing(ephemeral: EphemeralStore) -> None:
    idem = Idempotency(ephemeral)
    calls: list[int] = []

    def produce() -> Answer:
        calls.append(1)
        return Answer(201, b'{"id": "1", "secret": "s"}', replay_body=b'{"id": "1"}')

    first, replayed = idem.run(actor="admin:a", key="k1", request="r", produce=produce)
    again, replayed_again = idem.run(actor="admin:a", key="k1", request="r", produce=produce)
    assert (first.body, replayed) == (b'{"id": "1", "secret": "s"}', False)
    assert (again.status, again.body, replayed_again) == (201, b'{"id": "1"}', True)
    assert calls == [1]
    # another admin's identical key is another slot
    _, other = idem.run(actor="admin:b", key="k1", request="r", produce=produce)
    assert other is False and calls == [1, 1]


def test_the_same_key_for_another_request_is_refused(ephemeral: EphemeralStore) -> None:
    idem = Idempotency(ephemeral)
    idem.run(actor="a", key="k", request="one", produce=lambda: Answer(201, b"1"))
    with pytest.raises(IdempotencyKeyReused):
        idem.run(actor="a", key="k", request="two", produce=lambda: Answer(201, b"2"))


def test_a_refused_request_keeps_nothing(ephemeral: EphemeralStore) -> None:
    idem = Idempotency(ephemeral)

    def refuse() -> Answer:
        raise Conflict("taken")

    with pytest.raises(Conflict):
        idem.run(actor="a", key="k", request="r", produce=refuse)
    answer, replayed = idem.run(actor="a", key="k", request="r", produce=lambda: Answer(201, b"ok"))
    assert (answer.body, replayed) == (b"ok", False)


def test_a_concurrent_retry_is_told_to_wait(ephemeral: EphemeralStore) -> None:
    idem = Idempotency(ephemeral)
    started, release = threading.Event(), threading.Event()

    def slow() -> Answer:
        started.set()
        release.wait(5)
        return Answer(201, b"done")

    worker = threading.Thread(
        target=idem.run, kwargs={"actor": "a", "key": "k", "request": "r", "produce": slow}
    )
    worker.start()
    started.wait(5)
    with pytest.raises(IdempotencyInProgress):
        idem.run(actor="a", key="k", request="r", produce=lambda: Answer(201, b"x"))
    release.set()
    worker.join()


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "tab\there"])
def test_malformed_keys(ephemeral: EphemeralStore, key: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        Idempotency(ephemeral).run(
            actor="a", key=key, request="r", produce=lambda: Answer(201, b"")
        )
    assert raised.value.errors[0].field == "Idempotency-Key"

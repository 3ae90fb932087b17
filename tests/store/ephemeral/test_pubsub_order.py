"""What the workstation command channel relies on, on both backends: one subscriber gets one
publisher's messages in the order they were published (the alarm before its lock), and a
subscription that was closed gets nothing more."""

from __future__ import annotations

from idp.store.ephemeral.base import EphemeralStore


def test_messages_arrive_in_publish_order(ephemeral: EphemeralStore) -> None:
    subscription = ephemeral.subscribe("workstations:commands")
    try:
        for n in range(50):
            ephemeral.publish("workstations:commands", str(n).encode())
        received = [subscription.get(2) for _ in range(50)]
        assert received == [str(n).encode() for n in range(50)]
        assert subscription.get(0.05) is None
    finally:
        subscription.close()


def test_a_closed_subscription_hears_nothing_and_others_still_do(ephemeral: EphemeralStore) -> None:
    closed = ephemeral.subscribe("workstations:commands")
    open_one = ephemeral.subscribe("workstations:commands")
    closed.close()
    try:
        ephemeral.publish("workstations:commands", b"lock")
        assert open_one.get(2) == b"lock"
    finally:
        open_one.close()

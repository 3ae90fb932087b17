"""``hideez-idp serve``'s loop: waitress until SIGTERM (or Ctrl-C), then a drain.

On the signal the listening socket closes at once (the load balancer's next connection goes to
another instance), idle keep-alive connections are closed, and requests already begun — still
being received, being handled, or being sent — finish for up to ``grace`` seconds. Then the
runtime is closed, which stores every queued audit event. waitress's own ``run()`` would stop
its loop at once, and responses it had not written yet would be lost.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel

log = logging.getLogger(__name__)
TICK = 0.2


def serve_until_terminated(server: Any, *, grace: float, on_stopped: Callable[[], None]) -> None:
    """Run ``server`` (a bound waitress server) until SIGTERM or SIGINT, drain, then call
    ``on_stopped``."""
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: draining", signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping.is_set():
            wasyncore.loop(timeout=TICK, map=server._map, count=1)
        drained = drain(server, grace=grace)
        log.info("stopped accepting; %s", "drained" if drained else f"gave up after {grace:g} s")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(server._map)
        on_stopped()


def drain(server: Any, *, grace: float) -> bool:
    """Stop listening, close idle connections, and serve the busy ones until they are done or
    ``grace`` seconds have passed; True if every request finished."""
    wasyncore.dispatcher.close(server)  # the listening socket only; the trigger stays
    deadline = time.monotonic() + grace
    while True:
        channels = [c for c in list(server._map.values()) if isinstance(c, HTTPChannel)]
        busy = [c for c in channels if _busy(c)]
        for idle in set(channels) - set(busy):
            idle.handle_close()
        if not busy:
            return True
        if time.monotonic() >= deadline:
            return False
        wasyncore.loop(timeout=0.05, map=server._map, count=1)


def _busy(channel: HTTPChannel) -> bool:
    return bool(channel.requests or channel.request is not None or channel.total_outbufs_len)

"""``hideez-idp serve``'s loop: waitress until SIGTERM (or Ctrl-C), then a drain.

On the signal the instance first stops being *ready* (``on_draining``: ``/readyz`` answers 503)
and keeps serving normally for ``unready_delay`` seconds, so that a load balancer polling
readiness takes it out before anything is refused. Then the connections already waiting in the
listen backlog are accepted, the listening socket closes (the load balancer's next connection
is refused and goes to another instance), idle keep-alive connections are closed, and requests
already begun — still being received, being handled, or being sent — finish for up to
``grace`` seconds. Then the runtime is closed, which stores every queued audit event.
waitress's own ``run()`` would stop its loop at once, and responses it had not written yet
would be lost.
"""

from __future__ import annotations

import logging
import select
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
#: at most this many connections are taken from the listen backlog before the socket closes
BACKLOG = 1024
FRESH = 0.5


def serve_until_terminated(
    server: Any,
    *,
    grace: float,
    on_stopped: Callable[[], None],
    unready_delay: float = 0.0,
    on_draining: Callable[[], None] | None = None,
) -> None:
    """Run ``server`` (a bound waitress server) until SIGTERM or SIGINT, call ``on_draining``,
    serve on for ``unready_delay`` seconds, drain, then call ``on_stopped``."""
    stopping = threading.Event()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: draining", signal.Signals(signum).name)
        stopping.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stopping.is_set():
            wasyncore.loop(timeout=TICK, map=server._map, count=1)
        if on_draining is not None:
            on_draining()
        _serve_for(server, unready_delay)
        drained = drain(server, grace=grace)
        log.info("stopped accepting; %s", "drained" if drained else f"gave up after {grace:g} s")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(server._map)
        on_stopped()


def _serve_for(server: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        wasyncore.loop(timeout=min(TICK, left), map=server._map, count=1)


def drain(server: Any, *, grace: float) -> bool:
    """Take what waits in the backlog, stop listening, close idle connections, and serve the
    busy ones until they are done or ``grace`` seconds have passed; True if every request
    finished. A connection taken from the backlog counts as busy for ``FRESH`` seconds, as its
    request may still be on its way."""
    accepted = _accept_backlog(server)
    wasyncore.dispatcher.close(server)  # the listening socket only; the trigger stays
    now = time.monotonic()
    deadline, fresh_until = now + grace, now + FRESH
    while True:
        channels = [c for c in list(server._map.values()) if isinstance(c, HTTPChannel)]
        fresh = accepted if time.monotonic() < fresh_until else set()
        busy = [c for c in channels if c in fresh or _busy(c)]
        for idle in set(channels) - set(busy):
            idle.handle_close()
        if not busy:
            return True
        if time.monotonic() >= deadline:
            return False
        wasyncore.loop(timeout=0.05, map=server._map, count=1)


def _accept_backlog(server: Any) -> set[Any]:
    before = set(server._map.values())
    for _ in range(BACKLOG):
        if not select.select([server.socket], [], [], 0)[0]:
            break
        server.handle_accept()
    return set(server._map.values()) - before


def _busy(channel: HTTPChannel) -> bool:
    return bool(channel.requests or channel.request is not None or channel.total_outbufs_len)

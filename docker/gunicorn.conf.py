"""gunicorn settings of the image (and a model for systemd set-ups): workers from
$HIDEEZ_WORKERS, a graceful drain on SIGTERM, heartbeat files on /tmp (the root filesystem may
be read-only), and prometheus-client's multiprocess mode so /metrics sums every worker.

SIGTERM with $HIDEEZ_UNREADY_DELAY seconds (default 0) first turns every IdP worker's /readyz
into 503 "draining" for that long while everything else is served as before (as
``hideez-idp serve --unready-delay``), then stops gracefully; a second SIGTERM stops at once
gracefully, SIGINT quickly. The flag is one byte of anonymous shared memory the master maps
before it forks the workers, so every worker (one respawned meanwhile too) reads the same.
"""

import mmap
import os
import signal
import threading

bind = os.environ.get("HIDEEZ_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("HIDEEZ_WORKERS", "2"))
threads = int(os.environ.get("HIDEEZ_THREADS", "4"))
worker_class = "gthread"
graceful_timeout = int(os.environ.get("HIDEEZ_GRACE", "30"))
timeout = 60
worker_tmp_dir = "/tmp"  # noqa: S108 - in memory in the image; the root filesystem may be read-only
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def _seconds(name: str) -> float:
    text = os.environ.get(name, "0")
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise ValueError(f"{name}: expected seconds from 0 to 3600, got {text!r}")
    return value


unready_delay = _seconds("HIDEEZ_UNREADY_DELAY")
_draining = mmap.mmap(-1, 1)  # MAP_SHARED: the forked workers see the master's writes


def on_starting(server: object) -> None:
    # Values of workers from an earlier run would be summed into this one's.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.unlink(os.path.join(directory, name))


def when_ready(server: object) -> None:
    # The master looks its signal handlers up on itself at each signal.
    server.handle_term = lambda: _unready_then_stop(server)  # type: ignore[attr-defined]


def _unready_then_stop(server: object) -> None:
    if unready_delay <= 0 or _draining[0]:
        raise StopIteration  # gunicorn's own SIGTERM handling: the graceful stop
    _draining[0] = 1
    server.log.info("SIGTERM: /readyz answers draining for %g s, then the graceful stop",  # type: ignore[attr-defined]
                    unready_delay)  # fmt: skip
    timer = threading.Timer(unready_delay, os.kill, (os.getpid(), signal.SIGTERM))
    timer.daemon = True
    timer.start()


def post_worker_init(worker: object) -> None:
    from flask import Flask

    app = worker.wsgi  # type: ignore[attr-defined]
    if isinstance(app, Flask):  # the IdP; SATOSA, served with these settings too, has no /readyz
        from flask_idp.operations import drain_when

        drain_when(app, lambda: _draining[0] == 1)


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]

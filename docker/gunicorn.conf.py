"""gunicorn settings of the image (and a model for systemd set-ups): workers from
$HIDEEZ_WORKERS, a graceful drain on SIGTERM, heartbeat files on /tmp (the root filesystem may
be read-only), and prometheus-client's multiprocess mode so /metrics sums every worker."""

import os

bind = os.environ.get("HIDEEZ_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("HIDEEZ_WORKERS", "2"))
threads = int(os.environ.get("HIDEEZ_THREADS", "4"))
worker_class = "gthread"
graceful_timeout = int(os.environ.get("HIDEEZ_GRACE", "30"))
timeout = 60
worker_tmp_dir = "/tmp"  # noqa: S108 - in memory in the image; the root filesystem may be read-only
accesslog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")


def on_starting(server: object) -> None:
    # Values of workers from an earlier run would be summed into this one's.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.unlink(os.path.join(directory, name))


def child_exit(server: object, worker: object) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]

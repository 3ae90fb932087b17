"""WSGI entry point for process managers (gunicorn, uWSGI): one app per worker process.

    HIDEEZ_IDP_CONFIG=/etc/hideez-idp/idp.yaml gunicorn -w 2 'flask_idp.wsgi:create()'

Several worker processes need a shared short-lived store (``ephemeral_url: redis://…``):
with ``memory://`` each process would have its own sessions and challenges.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from flask_idp.app import create_app
from idp import logs
from idp.config.loader import load_config
from idp.runtime import build_runtime


def create(config_path: str | None = None) -> Flask:
    path = Path(config_path or os.environ.get("HIDEEZ_IDP_CONFIG", "config/idp.yaml"))
    config = load_config(path)
    logs.configure(log_format=config.observability.log_format)
    return create_app(build_runtime(config))

"""The trivial endpoint a path's limit is measured against: one Flask view, nothing else."""

from __future__ import annotations

from flask import Flask


def create() -> Flask:
    app = Flask(__name__)

    @app.get("/ping")
    def ping() -> str:
        return "ok"

    return app

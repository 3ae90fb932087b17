"""Blueprint registry: each protocol or page group registers itself here.

Contract for a protocol blueprint module ``flask_idp.blueprints.<name>``: a module-level
``bp: flask.Blueprint``, registered when ``runtime.protocols`` has ``<name>``.
"""

from __future__ import annotations

import importlib

from flask import Flask

from idp.runtime import Runtime


def register_blueprints(app: Flask, runtime: Runtime) -> None:
    from flask_idp.blueprints import authenticator, pages, passkey, password, pc_login

    app.register_blueprint(pages.bp)
    app.register_blueprint(passkey.bp)
    app.register_blueprint(password.bp)
    app.register_blueprint(authenticator.bp)
    app.register_blueprint(pc_login.bp)
    from flask_idp.api import bp as admin_api

    app.register_blueprint(admin_api)
    from flask_idp.console import bp as admin_console

    app.register_blueprint(admin_console)
    for name in runtime.protocols:
        module = importlib.import_module(f"flask_idp.blueprints.{name}")
        app.register_blueprint(module.bp)

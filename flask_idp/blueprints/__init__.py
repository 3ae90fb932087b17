"""Blueprint registry: each protocol or page group registers itself here."""

from __future__ import annotations

from flask import Flask

from idp.runtime import Runtime


def register_blueprints(app: Flask, runtime: Runtime) -> None:
    from flask_idp.blueprints import pages, passkey

    app.register_blueprint(pages.bp)
    app.register_blueprint(passkey.bp)
    if "saml" in runtime.protocols:
        from flask_idp.blueprints import saml

        app.register_blueprint(saml.bp)

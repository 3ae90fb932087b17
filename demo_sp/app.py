"""Demo SAML SP on OneLogin python3-saml, strict mode. It never imports ``idp``.

Run: ``python -m demo_sp.app --settings DIR --port 8081`` where DIR holds python3-saml's
``settings.json`` (written by ``hideez-idp demo``).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, make_response, redirect, render_template_string, request, session
from onelogin.saml2.auth import OneLogin_Saml2_Auth

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Demo SP</title></head><body style="font-family:sans-serif;max-width:40rem;margin:3rem auto">
<h1>Demo service provider</h1>
{% if user %}
<p id="who">Signed in as <strong>{{ user }}</strong></p>
<table id="attributes">{% for k, v in attrs.items() %}
<tr><th>{{ k }}</th><td>{{ v|join(', ') }}</td></tr>{% endfor %}</table>
<p><a id="logout" href="/logout">Sign out (single logout)</a></p>
{% else %}
<p id="who">Not signed in.</p><p><a id="login" href="/login">Sign in with Hideez IdP</a></p>
{% endif %}
{% if error %}<p id="error" style="color:#b00020">{{ error }}</p>{% endif %}
</body></html>"""


MAX_PENDING_REQUESTS = 8


def create_app(settings_dir: Path) -> Flask:
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)
    app.config.update(SESSION_COOKIE_NAME="demo_sp_session", SESSION_COOKIE_SAMESITE="Lax")
    settings: dict[str, Any] = json.loads((settings_dir / "settings.json").read_text())

    def auth() -> OneLogin_Saml2_Auth:
        parts = urlsplit(settings["sp"]["assertionConsumerService"]["url"])
        req = {
            "https": "on" if parts.scheme == "https" else "off",
            "http_host": parts.hostname,
            "server_port": parts.port,
            "script_name": request.path,
            "get_data": request.args.copy(),
            "post_data": request.form.copy(),
            "query_string": request.query_string.decode(),
        }
        return OneLogin_Saml2_Auth(req, old_settings=settings)

    @app.get("/")
    def index() -> str:
        return render_template_string(
            PAGE,
            user=session.get("user"),
            attrs=session.get("attrs", {}),
            error=request.args.get("e"),
        )

    @app.get("/login")
    def login() -> Response:
        a = auth()
        url = a.login(return_to="/")
        # Several outstanding requests (two tabs signing in at once): each answer is matched
        # to its own request and used once; the oldest are dropped beyond a few.
        pending = [*session.get("request_ids", []), a.get_last_request_id()]
        session["request_ids"] = pending[-MAX_PENDING_REQUESTS:]
        return make_response(redirect(url))

    @app.post("/acs")
    def acs() -> Response:
        a = auth()
        # python3-saml checks one expected request id; several may be outstanding, so it
        # checks everything else and the answer's InResponseTo is matched here.
        a.process_response(request_id=None)
        errors = a.get_errors()
        reason = a.get_last_error_reason() or ", ".join(errors)
        in_response_to = a.get_last_response_in_response_to()
        pending = list(session.get("request_ids", []))
        if not errors and in_response_to is not None:
            if in_response_to in pending:
                pending.remove(in_response_to)
                session["request_ids"] = pending
            else:
                errors, reason = (
                    ["unknown_request"],
                    (
                        f"InResponseTo {in_response_to} is not a request this browser has "
                        "outstanding (unknown, or already answered)"
                    ),
                )
        if errors or not a.is_authenticated():
            return make_response(
                render_template_string(PAGE, user=None, attrs={}, error=f"SAML error: {reason}"),
                400,
            )
        session["user"] = a.get_nameid()
        session["nameid_format"] = a.get_nameid_format()
        session["session_index"] = a.get_session_index()
        session["attrs"] = a.get_attributes()
        return make_response(redirect("/"))

    @app.get("/logout")
    def logout() -> Response:
        a = auth()
        url = a.logout(
            return_to="/",
            name_id=session.get("user"),
            session_index=session.get("session_index"),
            name_id_format=session.get("nameid_format"),
        )
        session["logout_request_id"] = a.get_last_request_id()
        return make_response(redirect(url))

    @app.route("/sls", methods=["GET", "POST"])
    def sls() -> Response:
        a = auth()
        url = a.process_slo(
            request_id=session.get("logout_request_id"), delete_session_cb=session.clear
        )
        errors = a.get_errors()
        if errors:
            return make_response(
                render_template_string(
                    PAGE, user=None, attrs={}, error=f"SLO error: {a.get_last_error_reason()}"
                ),
                400,
            )
        session.clear()
        return make_response(redirect(url or "/"))

    @app.get("/metadata")
    def metadata() -> Response:
        a = auth()
        xml = a.get_settings().get_sp_metadata()
        return Response(xml, mimetype="application/samlmetadata+xml")

    return app


def _exit_with_parent(parent_pid: int) -> None:
    # The demo stops this SP when it stops; if the demo is killed outright it cannot, and this
    # process is re-parented: then it ends too instead of holding its port.
    while os.getppid() == parent_pid:
        time.sleep(0.5)
    os._exit(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--settings", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--parent-pid", type=int, help="stop when this process is gone")
    args = parser.parse_args()
    from waitress import serve

    if args.parent_pid is not None:
        threading.Thread(target=_exit_with_parent, args=(args.parent_pid,), daemon=True).start()

    serve(create_app(args.settings), host=args.host, port=args.port, threads=4)


if __name__ == "__main__":
    main()

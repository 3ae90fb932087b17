"""A second shell over the core that is not Flask: a plain WSGI callable, standard library only.

It proves the seam: everything a sign-in needs — parsing and answering the protocols, parking,
the login ticket, the passkey step, the session — lives in ``idp.flows``; a shell only moves
bytes and cookies. Pages are answered as plain text (a real shell renders its own).
"""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from idp.errors import IdpError
from idp.flows.answers import Answer, FormPost, Json, Page, Redirect
from idp.flows.browser import Browser, binding_of
from idp.flows.eam import EamSignIn
from idp.flows.passkey_step import PasskeyStep
from idp.flows.saml import SamlSignIn
from idp.flows.signin import SignIn
from idp.flows.steps import Steps
from idp.runtime import Runtime


class MinimalShell:
    def __init__(self, rt: Runtime) -> None:
        self.rt, engine = rt, SignIn(rt)
        self.passkey = PasskeyStep(rt, Steps(rt))
        p = rt.protocols
        self.saml = SamlSignIn(rt, p.saml, engine) if p.saml else None
        self.eam = EamSignIn(rt, p.oidc, engine) if p.oidc and p.oidc.settings.eam else None

    def __call__(self, environ: dict[str, Any], start: Callable[..., Any]) -> Iterable[bytes]:
        cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        flow = cookies["flow"].value if "flow" in cookies else secrets.token_urlsafe(24)
        sid = cookies["sid"].value if "sid" in cookies else ""
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        query = environ.get("QUERY_STRING", "")
        args = {k: v[0] for k, v in parse_qs(query).items()}
        browser = Browser(binding_of(flow), self.rt.sessions.get(sid, now=self.rt.now()) if sid
                          else None)  # fmt: skip
        route = (environ["REQUEST_METHOD"], environ["PATH_INFO"])
        try:
            answer = self.route(route, body, query, args, browser)
        except IdpError as exc:
            answer = Answer(Json(exc.to_dict(), status=exc.status))
        return self.send(answer, start, flow)

    def route(self, route: tuple[str, str], body: bytes, query: str, args: dict[str, str],
              browser: Browser) -> Answer:  # fmt: skip
        form = {k: v for k, v in parse_qs(body.decode()).items()} if route[0] == "POST" else {}
        if route == ("GET", "/saml/login") and self.saml:
            return self.saml.receive(browser=browser, method="GET", query_string=query, form={},
                                     args=args)  # fmt: skip
        if route == ("GET", "/saml/resume") and self.saml:
            return self.saml.resume(args.get("k", ""), browser=browser)
        if route == ("POST", "/oidc/authorize") and self.eam:
            return self.eam.start(form, browser=browser)
        if route == ("GET", "/oidc/eam/resume") and self.eam:
            return self.eam.resume(args.get("k", ""), browser=browser)
        if route == ("POST", "/passkey/login/options"):
            return self.passkey.begin(json.loads(body), browser=browser)
        if route == ("POST", "/passkey/login/verify"):
            return self.passkey.finish(json.loads(body), browser=browser)
        return Answer(Json({"error": "not_found"}, status=404))

    def send(self, answer: Answer, start: Callable[..., Any], flow: str) -> Iterable[bytes]:
        out, status, headers = (
            answer.body,
            "200 OK",
            [("Set-Cookie", f"flow={flow}; Path=/; HttpOnly")],
        )
        if answer.session is not None:
            headers.append(("Set-Cookie", f"sid={answer.session.session_id}; Path=/; HttpOnly"))
        if isinstance(out, Redirect):
            status, text = f"{out.status} See Other", ""
            headers.append(("Location", out.location))
        elif isinstance(out, FormPost):
            esc = html.escape
            inputs = "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">'
                             for k, v in out.fields)  # fmt: skip
            text = (
                f'<form id="autopost" method="post" action="{html.escape(out.url)}">{inputs}</form>'
            )
        elif isinstance(out, Page):
            status, text = f"{out.status} Page", f"page {out.name}"
        else:
            status, text = f"{out.status} JSON", json.dumps(dict(out.body))
        start(status, headers)
        return [text.encode()]

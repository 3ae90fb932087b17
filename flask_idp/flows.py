"""The core flows one Flask app uses, built once per app, and how their answers are sent."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Response, current_app, make_response, redirect, render_template, request

from flask_idp.web import (
    clear_session_cookie,
    client_ip,
    csrf_token,
    current_context,
    flow_id,
    session_cookie_name,
    set_session_cookie,
)
from idp.flows.answers import Answer, FormPost, Json, Page, Redirect
from idp.flows.app_enrolment import AppEnrolment
from idp.flows.browser import Browser, binding_of
from idp.flows.device_api import DeviceApi
from idp.flows.eam import EamSignIn
from idp.flows.logout import Logout
from idp.flows.oidc import OidcSignIn
from idp.flows.passkey_step import PasskeyStep
from idp.flows.password_step import PasswordStep
from idp.flows.pc_login import PcLoginApi
from idp.flows.push_step import PushStep
from idp.flows.registration import Registration
from idp.flows.saml import SamlSignIn
from idp.flows.signin import SignIn
from idp.flows.steps import Steps
from idp.flows.totp_step import TotpStep
from idp.flows.wsfed import WsFedSignIn
from idp.runtime import Runtime

_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; "


@dataclass(frozen=True)
class Flows:
    engine: SignIn
    steps: Steps
    passkey: PasskeyStep
    password: PasswordStep
    registration: Registration
    logout: Logout
    saml: SamlSignIn | None
    oidc: OidcSignIn | None
    eam: EamSignIn | None
    wsfed: WsFedSignIn | None
    push: PushStep
    totp: TotpStep
    app_enrolment: AppEnrolment
    device_api: DeviceApi
    pc_login: PcLoginApi


def build_flows(rt: Runtime) -> Flows:
    engine, steps = SignIn(rt), Steps(rt)
    p = rt.protocols
    registration = Registration(rt, steps)
    device_api = DeviceApi(rt)
    return Flows(
        engine=engine,
        steps=steps,
        passkey=PasskeyStep(rt, steps),
        password=PasswordStep(rt, steps),
        registration=registration,
        logout=Logout(rt),
        saml=SamlSignIn(rt, p.saml, engine) if p.saml else None,
        oidc=OidcSignIn(rt, p.oidc, engine) if p.oidc else None,
        eam=EamSignIn(rt, p.oidc, engine) if p.oidc and p.oidc.settings.eam else None,
        wsfed=WsFedSignIn(rt, p.wsfed, engine) if p.wsfed else None,
        push=PushStep(rt, steps),
        totp=TotpStep(rt, steps),
        app_enrolment=AppEnrolment(rt, registration),
        device_api=device_api,
        pc_login=PcLoginApi(rt, device_api),
    )


def flows() -> Flows:
    built: Flows = current_app.extensions["hideez_idp_flows"]
    return built


def browser() -> Browser:
    """This request's browser, as the core flows see it."""
    withheld = (
        request.headers.get("Sec-Fetch-Site") == "cross-site"
        and session_cookie_name() not in request.cookies
    )
    return Browser(
        binding=binding_of(flow_id()),
        session=current_context(),
        ip=client_ip(),
        cookies_withheld=withheld,
    )


def send(answer: Answer) -> Response:
    """Turn a core answer into a Flask response, with the session cookie it calls for."""
    body = answer.body
    if isinstance(body, Redirect):
        response = make_response(redirect(body.location, code=body.status))
    elif isinstance(body, FormPost):
        response = make_response(
            render_template(
                "autopost.html", action=body.url, fields=body.fields, target_name=body.target_name
            )
        )
        # The answer is a form posted to another site; CSP must allow that one target.
        response.headers["Content-Security-Policy"] = _CSP + "base-uri 'none'"
    elif isinstance(body, Page):
        response = make_response(
            render_template(f"{body.name}.html", csrf=csrf_token(), **body.values), body.status
        )
        policy = _CSP
        if body.image_origins:
            policy += f"img-src 'self' {' '.join(body.image_origins)}; "
        if body.frame_origins:
            policy += f"frame-src {' '.join(body.frame_origins)}; "
        response.headers["Content-Security-Policy"] = policy + "base-uri 'none'"
        if body.refresh_to:
            response.headers["Refresh"] = f"3; url={body.refresh_to}"
    else:
        assert isinstance(body, Json)
        response = make_response(current_app.json.response(dict(body.body)), body.status)
    response.headers["Cache-Control"] = "no-store"
    if answer.end_session:
        clear_session_cookie(response)
    if answer.session is not None:
        set_session_cookie(response, answer.session)
    return response


def confirm_logout(action: str) -> Answer:
    """Ask before signing out: a cross-site link alone must not end someone's session."""
    fields = [(k, v) for k, v in request.values.items(multi=True) if k not in ("csrf", "confirm")]
    return Answer(Page("logout_confirm", {"action": action, "fields": fields}))

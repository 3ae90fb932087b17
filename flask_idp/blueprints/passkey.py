"""Passkey JSON endpoints: registration (enrolment link or signed-in) and sign-in.

Each endpoint only translates HTTP to the ceremony functions in :mod:`idp.factors.passkey`;
challenges are single-use values in the short-lived store, bound to this browser's flow id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from flask import Blueprint, Response, jsonify

from flask_idp.login import finish_ticket, load_ticket
from flask_idp.web import (
    client_ip,
    current_context,
    flow_id,
    json_body,
    runtime,
    set_session_cookie,
    str_field,
)
from idp.audit import AuditKind, Outcome
from idp.directory.model import Employee
from idp.errors import AccessDenied, Conflict, IdpError, InvalidRequest, Unauthorized
from idp.factors import passkey
from idp.factors.challenges import consume_challenge, issue_challenge
from idp.factors.kinds import FactorUse
from idp.factors.registry import PasskeyCredential
from idp.runtime import Runtime
from idp.sessions import AuthContext, SessionError
from idp.store.sql.repositories.passkeys import SignCountNotIncreased, check_credential_name

bp = Blueprint("passkey", __name__, url_prefix="/passkey")

MAX_CREDENTIAL_JSON = 32 * 1024
REGISTRATION_REAUTH_SECONDS = 600


class TooManyAttempts(IdpError):
    error = "too_many_attempts"
    status = 429


def _uv(rt: Runtime, required_by_ticket: bool = False) -> bool:
    return required_by_ticket or rt.config.webauthn.user_verification == "required"


# -- registration ------------------------------------------------------------------------------
def _registrant(rt: Runtime, data: dict[str, Any]) -> tuple[Employee, str | None]:
    """Whose passkey this is: the enrolment link's employee, or the signed-in one."""
    token = str_field(data, "token", max_len=128, required=False)
    if token is not None:
        employee_id = rt.enrolment.peek(token, now=rt.now()).employee_id
    else:
        ctx = current_context()
        if ctx is None:
            raise Unauthorized("sign in first, or open your enrolment link again")
        if (rt.now() - ctx.auth_time).total_seconds() > REGISTRATION_REAUTH_SECONDS:
            # Adding a credential is as sensitive as signing in: an old session must not do it.
            raise Unauthorized("sign in again (within 10 minutes) before adding a passkey")
        employee_id = ctx.employee_id
    employee = rt.employees.get(employee_id)
    if employee is None or not employee.enabled:
        raise AccessDenied("this account is disabled; ask your administrator")
    return employee, token


@bp.post("/register/options")
def register_options() -> Response:
    rt = runtime()
    employee, _ = _registrant(rt, json_body())
    wa = rt.config.webauthn
    handle, challenge = issue_challenge(
        rt.ephemeral, purpose="register", bind=f"{flow_id()}|{employee.id}", ttl=wa.challenge_ttl
    )
    options = passkey.registration_options(
        rp_id=wa.rp_id,
        rp_name=wa.rp_name,
        user_id=employee.id.encode(),
        user_name=employee.username,
        user_display_name=employee.full_name or employee.username,
        exclude_credentials=rt.passkeys.list_for_employee(employee.id),
        user_verification=wa.user_verification,
        resident_key=wa.resident_key,
        attestation=wa.attestation,
        challenge=challenge,
    )
    return jsonify(handle=handle, publicKey=_json(options))


@bp.post("/register/verify")
def register_verify() -> Response:
    rt = runtime()
    data = json_body()
    employee, token = _registrant(rt, data)
    name = _credential_name(data)
    wa = rt.config.webauthn
    challenge = consume_challenge(
        rt.ephemeral,
        handle=str_field(data, "handle", max_len=128) or "",
        purpose="register",
        bind=f"{flow_id()}|{employee.id}",
    )
    try:
        credential = passkey.verify_registration(
            response_json=_credential_json(data),
            expected_challenge=challenge,
            expected_rp_id=wa.rp_id,
            expected_origins=wa.origins,
            require_user_verification=_uv(rt),
            allowed_aaguids=wa.allowed_aaguids,
            employee_id=employee.id,
            name=name,
            now=rt.now(),
        )
        if rt.passkeys.get(credential.credential_id) is not None:
            # §7.1 step 26: a credential id already registered (to anyone) is refused.
            raise Conflict("this authenticator's credential is already registered")
    except IdpError as exc:
        rt.audit.append_event(
            kind=AuditKind.PASSKEY_REGISTRATION_FAILED,
            at=rt.now(),
            actor=employee.id,
            employee_id=employee.id,
            factor="passkey",
            outcome=Outcome.FAILURE,
            reason=f"{exc.error}: {exc.description}"[:500],
            details={"ip": client_ip(), "error_id": exc.error_id},
        )
        raise
    if token is not None:
        rt.enrolment.redeem(token, now=rt.now())
    rt.passkeys.add(credential)
    rt.audit.append_event(
        kind=AuditKind.PASSKEY_REGISTERED,
        at=rt.now(),
        actor=employee.id,
        employee_id=employee.id,
        factor="passkey",
        outcome=Outcome.SUCCESS,
        details={
            "credential_id": credential.credential_id,
            "aaguid": credential.aaguid,
            "attestation": credential.attestation_format,
            "ip": client_ip(),
        },
    )
    response = jsonify(ok=True, redirect="/")
    if current_context() is None and employee.can_sign_in:  # SSO switched off: no session
        ctx = rt.sessions.create(
            employee_id=employee.id,
            factor=passkey.factor_use(
                credential, at=rt.now(), user_verified=credential.user_verified
            ),
            now=rt.now(),
        )
        set_session_cookie(response, ctx)
    return response


# -- sign-in -----------------------------------------------------------------------------------
@bp.post("/login/options")
def login_options() -> Response:
    rt = runtime()
    data = json_body()
    ticket = load_ticket(str_field(data, "ticket", max_len=64, required=False))
    username = str_field(data, "username", max_len=256, required=False)
    allow: list[PasskeyCredential] = []
    if username:
        employee = rt.employees.get_by_username(username) or rt.employees.get_by_email(username)
        if employee is not None:
            allow = list(rt.passkeys.list_for_employee(employee.id))
        if not allow:
            # WebAuthn §14.6.2: an unknown name (or one without passkeys) gets a stable decoy
            # credential, so the answer does not tell which accounts exist.
            allow = [_decoy_credential(rt, username)]
    wa = rt.config.webauthn
    handle, challenge = issue_challenge(
        rt.ephemeral, purpose="login", bind=flow_id(), ttl=wa.challenge_ttl
    )
    uv_required = _uv(rt, ticket.require_user_verification if ticket else False)
    options = passkey.authentication_options(
        rp_id=wa.rp_id,
        allow_credentials=allow,
        user_verification="required" if uv_required else wa.user_verification,
        challenge=challenge,
    )
    return jsonify(handle=handle, publicKey=_json(options))


@bp.post("/login/verify")
def login_verify() -> Response:
    rt = runtime()
    data = json_body()
    _rate_limit(rt)
    ticket_handle = str_field(data, "ticket", max_len=64, required=False)
    ticket = load_ticket(ticket_handle)
    relying_party = ticket.relying_party if ticket else "idp"
    challenge = consume_challenge(
        rt.ephemeral,
        handle=str_field(data, "handle", max_len=128) or "",
        purpose="login",
        bind=flow_id(),
    )
    response_json = _credential_json(data)
    try:
        ctx = _verify_assertion(
            rt, response_json, challenge, ticket is not None and ticket.require_user_verification
        )
    except IdpError as exc:
        _audit_failure(rt, response_json, relying_party, exc)
        raise
    rt.audit.append_event(
        kind=AuditKind.LOGIN_SUCCESS,
        at=rt.now(),
        actor=ctx.employee_id,
        employee_id=ctx.employee_id,
        relying_party=relying_party,
        factor="passkey",
        outcome=Outcome.SUCCESS,
        details={"ip": client_ip()},
    )
    response = jsonify(ok=True, redirect=finish_ticket(ticket_handle))
    set_session_cookie(response, ctx)
    return response


def _verify_assertion(rt: Runtime, response_json: str, challenge: bytes, uv: bool) -> AuthContext:
    wa = rt.config.webauthn
    credential = rt.passkeys.get(passkey.credential_id_of(response_json))
    if credential is None:
        raise passkey.UnknownCredential(
            "this passkey is not registered here; use another or ask for a new enrolment link"
        )
    employee = rt.employees.get(credential.employee_id)
    if employee is None or not employee.can_sign_in:
        raise AccessDenied("this account is disabled; ask your administrator")
    try:
        result = passkey.verify_authentication(
            response_json=response_json,
            expected_challenge=challenge,
            expected_rp_id=wa.rp_id,
            expected_origins=wa.origins,
            credential=credential,
            require_user_verification=_uv(rt, uv),
            now=rt.now(),
            expected_user_handle=employee.id.encode(),
        )
        # A conditional update: a concurrent sign-in with a copy of the key loses here.
        rt.passkeys.record_use(
            credential.credential_id,
            new_sign_count=result.new_sign_count,
            backed_up=result.backed_up,
            at=rt.now(),
        )
    except (passkey.ClonedAuthenticatorSuspected, SignCountNotIncreased) as exc:
        rt.audit.append_event(
            kind=AuditKind.PASSKEY_CLONE_SUSPECTED,
            at=rt.now(),
            actor=employee.id,
            employee_id=employee.id,
            factor="passkey",
            outcome=Outcome.FAILURE,
            reason=exc.description[:500],
            details={"credential_id": credential.credential_id, "ip": client_ip()},
        )
        raise
    return _session_after_login(rt, employee.id, result.factor_use)


def _session_after_login(rt: Runtime, employee_id: str, use: FactorUse) -> AuthContext:
    """A fresh sign-in: re-authenticate this browser's session, or start a new one."""
    existing = current_context()
    if existing is not None and existing.employee_id == employee_id:
        try:
            return rt.sessions.reauthenticate(
                existing.session_id, expected_employee_id=employee_id, factor=use, now=rt.now()
            )
        except SessionError:
            pass  # ended meanwhile: fall through to a new session
    elif existing is not None:
        rt.sessions.end(existing.session_id)
    return rt.sessions.create(employee_id=employee_id, factor=use, now=rt.now())


def _audit_failure(rt: Runtime, response_json: str, relying_party: str, exc: IdpError) -> None:
    try:
        cred = rt.passkeys.get(passkey.credential_id_of(response_json))
    except IdpError:
        cred = None
    rt.audit.append_event(
        kind=AuditKind.LOGIN_FAILURE,
        at=rt.now(),
        actor=cred.employee_id if cred else None,
        employee_id=cred.employee_id if cred else None,
        relying_party=relying_party,
        factor="passkey",
        outcome=Outcome.FAILURE,
        reason=f"{exc.error}: {exc.description}"[:500],
        details={"ip": client_ip(), "error_id": exc.error_id},
    )


def _rate_limit(rt: Runtime) -> None:
    key = f"rate:login:{client_ip()}:{int(rt.now().timestamp()) // 60}"
    if rt.ephemeral.incr(key, ttl=120) > rt.config.limits.login_attempts_per_minute:
        raise TooManyAttempts("too many sign-in attempts from this address; wait a minute")


def _decoy_credential(rt: Runtime, username: str) -> PasskeyCredential:
    key = hashlib.sha256(b"decoy-credential|" + rt.config.pairwise_salt.encode()).digest()
    raw = hmac.new(key, username.strip().lower().encode(), hashlib.sha256).digest()
    credential_id = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return PasskeyCredential(
        credential_id=credential_id, employee_id="", public_key=b"", sign_count=0, aaguid="",
        transports=("usb", "nfc", "ble", "hybrid", "internal"), backup_eligible=False,
        backed_up=False, user_verified=False, attestation_format="none", name="",
        created_at=rt.now(),
    )  # fmt: skip


def _credential_json(data: dict[str, Any]) -> str:
    credential = data.get("credential")
    if not isinstance(credential, dict):
        raise InvalidRequest("field 'credential' must be the WebAuthn credential object")
    text = json.dumps(credential)
    if len(text) > MAX_CREDENTIAL_JSON:
        raise InvalidRequest(f"credential is larger than {MAX_CREDENTIAL_JSON} bytes")
    return text


def _credential_name(data: dict[str, Any]) -> str:
    # Checked before the ceremony: refusing it after the link was redeemed would burn the link.
    name = str_field(data, "name", max_len=64, required=False) or "Passkey"
    try:
        return check_credential_name(name)
    except ValueError:
        raise InvalidRequest(
            "field 'name' must be 1–64 printable characters (no tabs or line breaks)"
        ) from None


def _json(options: str) -> Any:
    return json.loads(options)

"""The authenticator client: enrol, list waiting requests, approve/deny, TOTP codes."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pyotp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from authenticator.state import Enrolment, StateDir
from idp.factors.authenticator import wire


class AuthenticatorError(Exception):
    """What the server refused (its error and description), or a local problem."""

    def __init__(self, message: str, *, error: str = "authenticator_error", status: int = 0):
        super().__init__(message)
        self.error = error
        self.status = status


@dataclass(frozen=True)
class PendingRequest:
    """A sign-in request as the app shows it: context and three numbers to pick from."""

    transaction_id: str
    nonce: str
    choices: tuple[int, ...]
    relying_party: str
    ip: str
    user_agent: str
    location: str | None
    expires_at: int

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingRequest:
        return cls(
            transaction_id=data["transaction_id"],
            nonce=data["nonce"],
            choices=tuple(data["choices"]),
            relying_party=data["relying_party"],
            ip=data["ip"],
            user_agent=data["user_agent"],
            location=data.get("location"),
            expires_at=data["expires_at"],
        )


class Authenticator:
    """One device's authenticator (key and state under ``state_dir``)."""

    def __init__(
        self, state_dir: Path, *, http: httpx.Client | None = None, clock: Any = time.time
    ) -> None:
        self._dir = StateDir(state_dir)
        self._http = http or httpx.Client(timeout=10)
        self._clock = clock

    # -- signing -----------------------------------------------------------------------------

    def _signed_headers(
        self, key: ec.EllipticCurvePrivateKey, device_id: str, method: str, path: str,
        body: bytes,
    ) -> dict[str, str]:  # fmt: skip
        timestamp, nonce = int(self._clock()), secrets.token_urlsafe(18)
        message = wire.canonical_request(
            device_id=device_id, method=method, path=path, timestamp=timestamp, nonce=nonce,
            body=body,
        )  # fmt: skip
        signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
        return {
            wire.HEADER_DEVICE: device_id,
            wire.HEADER_TIMESTAMP: str(timestamp),
            wire.HEADER_NONCE: nonce,
            wire.HEADER_SIGNATURE: wire.b64u(signature),
            "Content-Type": "application/json",
        }

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        enrolment, key = self._enrolled()
        body = b"" if payload is None else json.dumps(payload).encode()
        headers = self._signed_headers(key, enrolment.device_id, method, path, body)
        response = self._http.request(
            method, enrolment.server + path, content=body or None, headers=headers
        )
        return _result(response)

    def _enrolled(self) -> tuple[Enrolment, ec.EllipticCurvePrivateKey]:
        state, key = self._dir.load(), self._dir.key()
        if state.enrolment is None or key is None:
            raise AuthenticatorError("not enrolled yet: run enrol with the QR code's content")
        return state.enrolment, key

    # -- the protocol ------------------------------------------------------------------------

    def enrol(
        self,
        code: str,
        *,
        display_name: str,
        platform: str = "desktop",
        push_provider: str | None = None,
        push_token: str | None = None,
    ) -> Enrolment:
        """Register a new device key with the QR code's content; replaces an earlier one."""
        try:
            invite = wire.EnrolmentInvite.parse(code)
        except ValueError as exc:
            raise AuthenticatorError(str(exc), error="invalid_code") from None
        key = ec.generate_private_key(ec.SECP256R1())
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        device_id = secrets.token_urlsafe(18)
        payload: dict[str, Any] = {
            "token": invite.token,
            "device_id": device_id,
            "public_key": wire.b64u(public),
            "display_name": display_name,
            "platform": platform,
        }
        if push_provider is not None:
            payload.update(push_provider=push_provider, push_token=push_token)
        body = json.dumps(payload).encode()
        headers = self._signed_headers(key, device_id, "POST", wire.REGISTER_PATH, body)
        answer = _result(
            self._http.post(invite.server + wire.REGISTER_PATH, content=body, headers=headers)
        )
        enrolment = Enrolment(server=invite.server, device_id=device_id,
                              username=answer["username"], display_name=display_name)  # fmt: skip
        state = self._dir.load()
        state.enrolment = enrolment
        self._dir.save_key(key)
        self._dir.save(state)
        return enrolment

    def pending(self) -> list[PendingRequest]:
        answer = self._call("GET", wire.CHALLENGES_PATH)
        return [PendingRequest.from_json(c) for c in answer["challenges"]]

    def _one(self, transaction_id: str | None) -> PendingRequest:
        waiting = self.pending()
        if transaction_id is not None:
            waiting = [p for p in waiting if p.transaction_id == transaction_id]
        if not waiting:
            raise AuthenticatorError("no sign-in request is waiting", error="nothing_pending")
        return waiting[0]

    def approve(
        self, number: int, *, transaction_id: str | None = None, user_verified: bool = True
    ) -> str:
        """Approve with the number the sign-in page shows; the server's decision."""
        request = self._one(transaction_id)
        payload = {"nonce": request.nonce, "decision": "approve", "number": number,
                   "user_verified": user_verified}  # fmt: skip
        answer = self._call("POST", wire.answer_path(request.transaction_id), payload)
        return str(answer["decision"])

    def deny(self, *, reason: str = "declined", transaction_id: str | None = None) -> str:
        """Deny; ``reason`` ``not_me`` reports a request the person did not make."""
        request = self._one(transaction_id)
        payload = {"nonce": request.nonce, "decision": "deny", "reason": reason}
        answer = self._call("POST", wire.answer_path(request.transaction_id), payload)
        return str(answer["decision"])

    # -- TOTP --------------------------------------------------------------------------------

    def add_totp(self, uri: str) -> str:
        """Keep an ``otpauth://totp/…`` account; returns its label."""
        parts = urlsplit(uri)
        if parts.scheme != "otpauth" or parts.netloc != "totp":
            raise AuthenticatorError("expected an otpauth://totp/… URI", error="invalid_code")
        query = parse_qs(parts.query)
        if not query.get("secret"):
            raise AuthenticatorError("the otpauth URI has no secret", error="invalid_code")
        label = unquote(parts.path.lstrip("/"))
        state = self._dir.load()
        state.totp[label] = uri
        self._dir.save(state)
        return label

    def totp_code(self, label: str | None = None, *, at: dt.datetime | None = None) -> str:
        accounts = self._dir.load().totp
        if not accounts:
            raise AuthenticatorError("no one-time code accounts: add one with its otpauth URI")
        uri = accounts[label] if label else next(iter(accounts.values()))
        totp = pyotp.parse_uri(uri)
        assert isinstance(totp, pyotp.TOTP)
        return totp.at(at or dt.datetime.fromtimestamp(self._clock(), dt.UTC))


def _result(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or "error" in body:
        description = body.get("error_description") if isinstance(body, dict) else None
        raise AuthenticatorError(
            description or f"the server answered {response.status_code}",
            error=str(body.get("error", "server_error")) if isinstance(body, dict) else "",
            status=response.status_code,
        )
    return body

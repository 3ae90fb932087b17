"""PC login from the phone: scan the lock-screen QR and approve, lock my PCs, offline codes.

The QR code (``hideez-idp://pc-login?ws=…&n=…``) names the workstation and a single-use nonce;
the app sends it in a device-signed request, with the OS account and password the app keeps
for password-based PC login (or neither, for passwordless). The server may answer with an
offline grant: a secret from which the app derives 8-digit codes the workstation accepts
while it cannot reach the server (docs/workstations.md, offline codes). The code derivation
is the protocol's, written out here as a phone app would (it imports nothing of the server).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from authenticator.client import Authenticator, AuthenticatorError

LOGIN_PATH = "/api/authenticator/v1/pc-login"
LOCK_PATH = "/api/authenticator/v1/pc-lock"
_CONTEXT = b"hideez-idp offline v1"


@dataclass(frozen=True)
class PcLogin:
    workstation_id: str
    workstation_name: str
    method: str
    offline_codes: int


def offline_code(secret: bytes, *, workstation_id: str, device_id: str, index: int) -> str:
    """HMAC-SHA256 over the context, workstation, device and index; RFC 4226 truncation."""
    message = b"|".join(
        (_CONTEXT, workstation_id.encode(), device_id.encode(), str(index).encode())
    )
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**8).zfill(8)


class PcClient:
    """The PC-login part of one enrolled authenticator."""

    def __init__(self, app: Authenticator) -> None:
        self.app = app

    def login(self, qr: str, *, account: str | None = None, password: str | None = None) -> PcLogin:
        payload: dict[str, Any] = {"qr": qr.strip()}
        if account is not None or password is not None:
            payload.update(account=account, password=password)
        answer = self.app._call("POST", LOGIN_PATH, payload)
        grant = answer.get("offline")
        if isinstance(grant, dict):
            state = self.app._dir.load()
            state.offline[answer["workstation_id"]] = {**grant, "used": 0}
            self.app._dir.save(state)
        return PcLogin(
            workstation_id=answer["workstation_id"],
            workstation_name=answer["workstation_name"],
            method=answer["method"],
            offline_codes=int(grant["count"]) if isinstance(grant, dict) else 0,
        )

    def lock(self, workstation_id: str | None = None) -> list[str]:
        payload = {} if workstation_id is None else {"workstation_id": workstation_id}
        answer = self.app._call("POST", LOCK_PATH, payload)
        return [str(w) for w in answer["locked"]]

    def next_offline_code(self, workstation_id: str | None = None) -> tuple[str, str, int]:
        """(workstation id, the next unused code, how many are left after it)."""
        state = self.app._dir.load()
        if state.enrolment is None:
            raise AuthenticatorError("not enrolled yet: run enrol with the QR code's content")
        grants = state.offline
        if workstation_id is None and len(grants) == 1:
            workstation_id = next(iter(grants))
        grant = grants.get(workstation_id or "")
        if grant is None:
            raise AuthenticatorError(
                "no offline codes for that workstation: log in to it online once first",
                error="no_offline_codes",
            )
        used, count = int(str(grant["used"])), int(str(grant["count"]))
        if used >= count:
            raise AuthenticatorError("every offline code of that workstation is used",
                                     error="no_offline_codes")  # fmt: skip
        secret = base64.urlsafe_b64decode(str(grant["secret"]) + "==")
        assert workstation_id is not None
        code = offline_code(secret, workstation_id=workstation_id,
                            device_id=state.enrolment.device_id, index=used + 1)  # fmt: skip
        grant["used"] = used + 1
        self.app._dir.save(state)
        return workstation_id, code, count - used - 1

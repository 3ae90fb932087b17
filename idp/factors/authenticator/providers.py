"""Push services behind one small interface: Firebase Cloud Messaging HTTP v1 and APNs.

A push only wakes the app (``type``, ``transaction_id``, ``server``); the app then fetches
the challenge with a device-signed request, so no sign-in context travels through Google or
Apple. Each adapter maps the service's documented answers onto :class:`PushOutcome`:

- FCM (firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode): 404 ``UNREGISTERED`` →
  unregistered; 429 ``QUOTA_EXCEEDED`` and 500/503 (``INTERNAL``, ``UNAVAILABLE``) → back off
  (``Retry-After`` honoured); 401/403 → failed (the cached OAuth token is dropped); other
  4xx (``INVALID_ARGUMENT``, ``SENDER_ID_MISMATCH``) → failed.
- APNs (developer.apple.com, "Handling notification responses from APNs"): 410
  ``Unregistered`` and 400 ``BadDeviceToken`` → unregistered; 429 ``TooManyRequests`` and
  500/503 → back off; 403 ``ExpiredProviderToken``/``InvalidProviderToken`` → failed (the
  provider token is made anew); other 4xx → failed.

Both send synchronously with a short timeout on a long-lived HTTP client (HTTP/2 for APNs);
keys are loaded once at start.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from idp.config.authenticator import ApnsSettings, FcmSettings

log = logging.getLogger("hideez_idp.push")

FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
TIMEOUT = 3.0
DEFAULT_BACKOFF = 30


class PushOutcome(StrEnum):
    DELIVERED = "delivered"
    UNREGISTERED = "unregistered"
    BACKOFF = "backoff"
    FAILED = "failed"


@dataclass(frozen=True)
class PushResult:
    outcome: PushOutcome
    detail: str = ""
    retry_after: int | None = None


class PushProvider(Protocol):
    name: str

    def send(
        self, *, token: str, data: Mapping[str, str], ttl: int, now: dt.datetime
    ) -> PushResult: ...

    def close(self) -> None: ...


def _verify(ca_file: Path | None) -> ssl.SSLContext | bool:
    # A private CA (a test's stand-in, a proxy's) replaces the system trust store.
    return ssl.create_default_context(cafile=ca_file) if ca_file is not None else True


def _retry_after(response: httpx.Response) -> int:
    value = response.headers.get("Retry-After", "")
    return int(value) if value.isdigit() and 0 < int(value) <= 3600 else DEFAULT_BACKOFF


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class FcmProvider:
    """FCM HTTP v1: ``POST /v1/projects/{project}/messages:send`` with an OAuth 2.0 token
    from the service account (RFC 7523 JWT bearer grant, RS256)."""

    name = "fcm"

    def __init__(self, settings: FcmSettings) -> None:
        self._s = settings
        self._key = RSAKey.import_key(settings.private_key_pem)
        self._http = httpx.Client(timeout=TIMEOUT, verify=_verify(settings.ca_file))
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None

    def _access_token(self) -> str:
        with self._lock:
            if self._token is not None and self._token[1] > time.monotonic():
                return self._token[0]
            now = int(time.time())
            claims = {
                "iss": self._s.client_email,
                "scope": FCM_SCOPE,
                "aud": self._s.token_uri,
                "iat": now,
                "exp": now + 3600,
            }
            assertion = jwt.encode({"alg": "RS256", "typ": "JWT"}, claims, self._key)
            response = self._http.post(
                self._s.token_uri,
                data={
                    "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                    "assertion": assertion,
                },
            )
            body = _json(response)
            token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
            if response.status_code != 200 or not isinstance(token, str):
                raise httpx.HTTPError(f"OAuth token request refused: {response.status_code}")
            life = lifetime if isinstance(lifetime, int) else 3600
            self._token = (token, time.monotonic() + max(60, life - 60))
            return token

    def send(
        self, *, token: str, data: Mapping[str, str], ttl: int, now: dt.datetime
    ) -> PushResult:
        message = {
            "message": {
                "token": token,
                "data": dict(data),
                "android": {"priority": "HIGH", "ttl": f"{ttl}s"},
            }
        }
        url = f"{self._s.endpoint}/v1/projects/{self._s.project_id}/messages:send"
        try:
            response = self._http.post(
                url, json=message, headers={"Authorization": f"Bearer {self._access_token()}"}
            )
        except httpx.HTTPError as exc:
            return PushResult(PushOutcome.BACKOFF, f"FCM unreachable: {exc}", DEFAULT_BACKOFF)
        if response.status_code == 200:
            return PushResult(PushOutcome.DELIVERED, str(_json(response).get("name", "")))
        error = _json(response).get("error")
        status = error.get("status", "") if isinstance(error, dict) else ""
        codes = [
            d.get("errorCode")
            for d in (error.get("details", []) if isinstance(error, dict) else [])
            if isinstance(d, dict)
        ]
        detail = f"FCM {response.status_code} {status} {' '.join(map(str, codes))}".strip()
        if response.status_code == 404 or "UNREGISTERED" in codes:
            return PushResult(PushOutcome.UNREGISTERED, detail)
        if response.status_code in (429, 500, 503):
            return PushResult(PushOutcome.BACKOFF, detail, _retry_after(response))
        if response.status_code in (401, 403):
            with self._lock:
                self._token = None
        return PushResult(PushOutcome.FAILED, detail)

    def close(self) -> None:
        self._http.close()


class ApnsProvider:
    """APNs: ``POST /3/device/<token>`` over HTTP/2 with an ES256 provider token."""

    name = "apns"
    #: Apple refuses tokens older than an hour and throttles ones made more than every 20 min
    TOKEN_LIFETIME = 40 * 60

    def __init__(self, settings: ApnsSettings) -> None:
        self._s = settings
        self._key = ECKey.import_key(settings.private_key_pem)
        self._http = httpx.Client(
            http2=True,
            timeout=TIMEOUT,
            verify=_verify(settings.ca_file),
        )
        self._lock = threading.Lock()
        self._token: tuple[str, float] | None = None

    def _provider_token(self) -> str:
        with self._lock:
            if self._token is not None and self._token[1] > time.monotonic():
                return self._token[0]
            header = {"alg": "ES256", "kid": self._s.key_id}
            token = jwt.encode(header, {"iss": self._s.team_id, "iat": int(time.time())}, self._key)
            self._token = (token, time.monotonic() + self.TOKEN_LIFETIME)
            return token

    def send(
        self, *, token: str, data: Mapping[str, str], ttl: int, now: dt.datetime
    ) -> PushResult:
        body = {
            "aps": {
                "alert": {"title": "Sign-in request", "body": "Open to approve or deny"},
                "sound": "default",
                "category": "HIDEEZ_SIGN_IN",
            },
            **data,
        }
        headers = {
            "authorization": f"bearer {self._provider_token()}",
            "apns-topic": self._s.topic,
            "apns-push-type": "alert",
            "apns-priority": "10",
            "apns-expiration": str(int(now.timestamp()) + ttl),
        }
        url = f"{self._s.endpoint}/3/device/{token}"
        try:
            response = self._http.post(url, content=json.dumps(body).encode(), headers=headers)
        except httpx.HTTPError as exc:
            return PushResult(PushOutcome.BACKOFF, f"APNs unreachable: {exc}", DEFAULT_BACKOFF)
        if response.status_code == 200:
            return PushResult(PushOutcome.DELIVERED, response.headers.get("apns-id", ""))
        reason = str(_json(response).get("reason", ""))
        detail = f"APNs {response.status_code} {reason}".strip()
        if response.status_code == 410 or reason in ("Unregistered", "BadDeviceToken"):
            return PushResult(PushOutcome.UNREGISTERED, detail)
        if response.status_code in (429, 500, 503):
            return PushResult(PushOutcome.BACKOFF, detail, _retry_after(response))
        if response.status_code == 403:
            with self._lock:
                self._token = None
        return PushResult(PushOutcome.FAILED, detail)

    def close(self) -> None:
        self._http.close()

"""What the authenticator factor needs at run time, built once: repositories, the secrets
envelope, the push providers, the queued push sender, and push delivery with back-off in the
shared store."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from idp.config.authenticator import AuthenticatorSettings
from idp.factors.authenticator import sender
from idp.factors.authenticator.model import Device
from idp.factors.authenticator.providers import (
    ApnsProvider,
    FcmProvider,
    PushOutcome,
    PushProvider,
    PushResult,
)
from idp.factors.authenticator.push import PushChallenge
from idp.factors.authenticator.store import DeviceRepository, TotpRepository
from idp.secrets import SecretBox
from idp.store.ephemeral.base import EphemeralStore
from idp.store.sql.database import Database

log = logging.getLogger("hideez_idp.push")
_BACKOFF = "push:backoff:"


@dataclass
class AuthenticatorServices:
    settings: AuthenticatorSettings
    devices: DeviceRepository
    totp: TotpRepository
    secrets: SecretBox
    providers: dict[str, PushProvider] = field(default_factory=dict)
    #: the background sender of queued pushes (started by the runtime of a serving process)
    push_sender: sender.PushSender | None = None
    _sending: tuple[EphemeralStore, Callable[[], dt.datetime]] | None = None
    _closed: bool = False
    _sender_lock: threading.Lock = field(default_factory=threading.Lock)

    def start_sending(self, store: EphemeralStore, *, clock: Callable[[], dt.datetime]) -> None:
        """Start this process's push sender (only when a push service is configured)."""
        if self.providers and not self._closed:
            self._sending = (store, clock)
            self._ensure_sender()

    def _ensure_sender(self) -> None:
        # A forked worker (gunicorn --preload) inherits the object but not the thread: the
        # first push queued there starts the process's own.
        with self._sender_lock:
            if self._sending is None or self._closed:
                return
            if self.push_sender is None or not self.push_sender.running:
                store, clock = self._sending
                self.push_sender = sender.PushSender(
                    self, store, clock=clock, threads=self.settings.push_sender_threads
                )
                self.push_sender.start()

    def queue_push(
        self, store: EphemeralStore, device: Device | None, challenge: PushChallenge, *, server: str
    ) -> None:
        """Queue the push for ``challenge``: the sign-in request never waits on FCM or APNs."""
        pushable = (
            device is not None
            and device.push_provider in self.providers
            and device.push_token is not None
            and device.push_unregistered_at is None
        )
        sender.enqueue(store, challenge, device, server=server, pushable=pushable)
        if pushable:
            self._ensure_sender()

    def notify(
        self,
        store: EphemeralStore,
        device: Device,
        challenge: PushChallenge,
        *,
        server: str,
        now: dt.datetime,
    ) -> PushResult | None:
        """Wake the app through its push service; None for a polling-only app.

        A service that asked us to back off is not called until its time is up; a token the
        service calls unregistered is marked on the device (the app polls until it enrols a
        new one).
        """
        provider = self.providers.get(device.push_provider or "")
        if provider is None or device.push_token is None or device.push_unregistered_at:
            return None
        if store.get(_BACKOFF + provider.name) is not None:
            return PushResult(PushOutcome.BACKOFF, f"{provider.name} asked us to wait")
        data = {
            "type": "sign_in",
            "transaction_id": challenge.transaction_id,
            "server": server,
        }
        result = provider.send(
            token=device.push_token,
            data=data,
            ttl=challenge.expires_at - challenge.created_at,
            now=now,
        )
        if result.outcome is PushOutcome.UNREGISTERED:
            self.devices.mark_unregistered(device.device_id, at=now)
        elif result.outcome is PushOutcome.BACKOFF:
            store.put(_BACKOFF + provider.name, b"1", ttl=result.retry_after or 30)
        if result.outcome is not PushOutcome.DELIVERED:
            log.warning("push to device %s: %s %s", device.device_id, result.outcome, result.detail)
        return result

    def close(self) -> None:
        self._closed = True
        if self.push_sender is not None:
            self.push_sender.stop()
        for provider in self.providers.values():
            provider.close()


def build_authenticator(
    settings: AuthenticatorSettings, *, db: Database, secrets: SecretBox
) -> AuthenticatorServices:
    providers: dict[str, PushProvider] = {}
    if settings.fcm is not None:
        providers["fcm"] = FcmProvider(settings.fcm)
    if settings.apns is not None:
        providers["apns"] = ApnsProvider(settings.apns)
    return AuthenticatorServices(
        settings=settings,
        devices=DeviceRepository(db),
        totp=TotpRepository(db),
        secrets=secrets,
        providers=providers,
    )

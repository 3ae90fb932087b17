"""A host and a key endpoint wired back to back, messages passed by hand (sans-IO)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from idp.vault.protocol.codec import Body
from idp.vault.protocol.host import HostSession
from idp.vault.protocol.key import KeyEndpoint, KeyStorage
from idp.vault.protocol.messages import Command, Link

SERIAL = "ST10301234567890"


@dataclass
class Clock:
    now: float = 1_764_640_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Pair:
    storage: KeyStorage
    key: KeyEndpoint
    clock: Clock
    presses: list[bool] = field(default_factory=list)
    master_key: bytes = field(default_factory=lambda: os.urandom(32))

    def session(self, master_key: bytes | None = None) -> HostSession:
        host = HostSession(expected_serial=self.storage.serial)
        host.on_hello_reply(self.key.receive(host.hello()))
        host.on_ready(self.key.receive(host.confirm(master_key=master_key)))
        return host

    def call(self, host: HostSession, command: Command) -> Body:
        return host.on_reply(self.key.receive(host.request(command)))

    def linked(self) -> HostSession:
        self.call(self.session(None), Link(self.master_key))
        return self.session(self.master_key)


@pytest.fixture
def pair() -> Pair:
    clock = Clock()
    storage = KeyStorage(serial=SERIAL)
    presses: list[bool] = []

    def button() -> bool:
        return presses.pop(0) if presses else True

    return Pair(storage, KeyEndpoint(storage, clock=clock, button=button), clock, presses)

"""Constants and a replay cache shared by the SAML tests."""

from __future__ import annotations

import datetime as dt

IDP_BASE = "https://idp.example.com"
SP_ENTITY = "https://sp.example.com/metadata"
SP_ACS = "https://sp.example.com/acs"
SP_SLO = "https://sp.example.com/sls"
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


class MemoryReplayCache:
    """The replay-cache contract (``SET NX EX``) in memory; TTLs are not needed in tests."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[bytes, int]] = {}

    def add_if_absent(self, key: str, value: bytes, *, ttl: int) -> bool:
        if key in self.keys:
            return False
        self.keys[key] = (value, ttl)
        return True

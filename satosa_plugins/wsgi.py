"""``satosa_plugins.wsgi:app``: SATOSA's WSGI app with a cheaper state cookie (optional).

SATOSA compresses its state cookie with xz at the default preset, twice, on every response:
each compressor sets up a dictionary of several megabytes, which costs more than a signature
(bench/satosa_mfa.py measures it). This app is SATOSA's own (``WsgiApplication`` with its
middlewares, every module and option unchanged) except that the cookie is compressed at
preset 0. The format is the same — a stock SATOSA worker reads these cookies and ours read
its — so workers can be switched one at a time. Run it as SATOSA runs:
``SATOSA_CONFIG=proxy_conf.yaml gunicorn satosa_plugins.wsgi:app``.
"""

from __future__ import annotations

import base64
import json
import logging.config
import lzma
import os
from typing import Any

from cookies_samesite_compat import CookiesSameSiteCompatMiddleware
from satosa.proxy_server import ToBytesMiddleware, WsgiApplication
from satosa.satosa_config import SATOSAConfig
from satosa.state import State, _AESCipher

PRESET = 0


class CheapState(State):  # type: ignore[misc]
    """SATOSA's state; only :meth:`urlstate` compresses at a cheap preset."""

    @classmethod
    def adopt(cls, state: State) -> CheapState:
        cheap = cls()
        cheap.data, cheap.delete = state.data, state.delete
        return cheap

    def urlstate(self, encryption_key: str) -> str:
        packed = lzma.compress(json.dumps(self.data).encode(), preset=PRESET)
        sealed = _AESCipher(encryption_key).encrypt(packed)
        return base64.urlsafe_b64encode(lzma.compress(sealed, preset=PRESET)).decode()


class Application(WsgiApplication):  # type: ignore[misc]
    def _load_state(self, context: Any) -> None:
        super()._load_state(context)
        context.state = CheapState.adopt(context.state)


def make_app(config: SATOSAConfig) -> Any:
    """SATOSA's app and middlewares, as ``satosa.proxy_server.make_app`` composes them."""
    if "LOGGING" in config:
        logging.config.dictConfig(config["LOGGING"])
    return ToBytesMiddleware(CookiesSameSiteCompatMiddleware(Application(config), config))


def __getattr__(name: str) -> Any:
    # gunicorn imports ``app``; building it reads SATOSA_CONFIG, so only then.
    if name == "app":
        built = make_app(SATOSAConfig(os.environ.get("SATOSA_CONFIG", "proxy_conf.yaml")))
        globals()["app"] = built
        return built
    raise AttributeError(name)

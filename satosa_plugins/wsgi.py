"""``satosa_plugins.wsgi:app``: SATOSA's WSGI app with a cheaper state cookie (optional).

SATOSA compresses its state cookie with xz at the default preset, twice, on every response:
each compressor sets up a dictionary of several megabytes, which costs more than a signature
(bench/satosa_mfa.py measures it). This app is SATOSA's own (``WsgiApplication`` with its
middlewares, every module and option unchanged) except that the cookie is compressed at
preset 0. The format is the same — a stock SATOSA worker reads these cookies and ours read
its — so workers can be switched one at a time. Run it as SATOSA runs:
``SATOSA_CONFIG=proxy_conf.yaml gunicorn satosa_plugins.wsgi:app``.

SATOSA parses a POST body before any module sees it, outside its own error handling: a POST
without a Content-Type (a ``KeyError``), a JSON body that does not parse or a body that is
not UTF-8 escaped as a 500 from the WSGI server. This app answers those with a 400 saying what
it expected; a body of another type reaches the endpoint as no data (which refuses it).
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
from satosa.response import BadRequest
from satosa.satosa_config import SATOSAConfig
from satosa.state import State, _AESCipher

PRESET = 0
log = logging.getLogger(__name__)


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
    def __call__(self, environ: dict[str, Any], start_response: Any, debug: bool = False) -> Any:
        environ.setdefault("CONTENT_TYPE", "")  # SATOSA indexes it on every POST
        try:
            return super().__call__(environ, start_response, debug)
        except ValueError as exc:  # raised before SATOSA's own try: the body, as it parsed it
            log.info("request refused: 400 unreadable body (%s)", type(exc).__name__)
            refusal = BadRequest(
                "the request body could not be read: expected UTF-8 form fields "
                "(application/x-www-form-urlencoded) or a JSON document (application/json), "
                f"got Content-Type {environ['CONTENT_TYPE'][:80]!r}",
                content="text/plain",
            )
            return refusal(environ, start_response)

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

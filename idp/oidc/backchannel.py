"""Sending Logout Tokens (OpenID Connect Back-Channel Logout 1.0 §2.5, §2.8).

This is the one module of :mod:`idp.oidc` that does network IO, and only when a logout asks
for it. Each token is POSTed as ``application/x-www-form-urlencoded`` ``logout_token=…`` to
its client's ``backchannel_logout_uri``; 200 and 204 mean delivered (§2.8 allows 204 because
frameworks answer an empty 200 that way). Redirects are never followed (a 3xx is a failure:
the token is for that URI alone). Several clients are told at once from a small thread pool,
each with a connect timeout and a read timeout that bounds the whole wait for the answer, so
one slow or silent client costs at most ``connect_timeout + read_timeout`` and never holds up
the others beyond that. Every failure — an HTTP status, a timeout, a refused connection, a TLS
error — becomes a failed :class:`DeliveryResult`; none is raised.

The HTTP client is a seam: :func:`send_logout_tokens` takes any :data:`Transport` (the
default, :class:`HttpTransport`, uses :mod:`http.client`), so the logout plan, the SATOSA
plugins and the tests can pass their own.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from idp.oidc.errors import BackchannelDeliveryError, DeliveryFailure
from idp.oidc.logout_channels import BackchannelLogout, BackchannelSettings

_FORM = "application/x-www-form-urlencoded"
_DELIVERED = (200, 204)


class Transport(Protocol):
    def __call__(
        self, *, url: str, body: bytes, connect_timeout: float, read_timeout: float
    ) -> int:
        """POST ``body`` as a form to ``url``; the HTTP status of the answer.

        Raises :class:`~idp.oidc.errors.BackchannelDeliveryError` (or an :class:`OSError`)
        when no status arrives.
        """
        ...


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one Logout Token."""

    client_id: str
    client_name: str
    uri: str
    delivered: bool
    #: None when delivered
    failure: DeliveryFailure | None
    #: what went wrong, for the audit and the signed-out page (no token, no secrets)
    reason: str | None
    status: int | None
    seconds: float

    def summary(self) -> str:
        return "delivered" if self.delivered else f"failed: {self.reason}"


def send_logout_tokens(
    *,
    logouts: Sequence[BackchannelLogout],
    settings: BackchannelSettings,
    transport: Transport | None = None,
) -> tuple[DeliveryResult, ...]:
    """POST each Logout Token; one result per entry, in the same order."""
    if not logouts:
        return ()
    send = transport if transport is not None else HttpTransport()
    workers = max(1, min(settings.concurrency, len(logouts)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backchannel") as pool:
        return tuple(pool.map(lambda logout: _deliver(logout, settings, send), logouts))


def _deliver(
    logout: BackchannelLogout, settings: BackchannelSettings, send: Transport
) -> DeliveryResult:
    started = time.monotonic()
    body = urlencode({"logout_token": logout.logout_token}).encode("ascii")
    try:
        status = send(
            url=logout.uri,
            body=body,
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
        )
    except BackchannelDeliveryError as exc:
        return _result(logout, started, exc.kind, exc.description)
    except OSError as exc:
        return _result(logout, started, DeliveryFailure.NETWORK, _os_reason(exc))
    if status in _DELIVERED:
        return _result(logout, started, None, None, status)
    reason = f"HTTP {status}"
    if 300 <= status < 400:
        reason += " (redirects are not followed)"
    return _result(logout, started, DeliveryFailure.HTTP_STATUS, reason, status)


def _result(
    logout: BackchannelLogout,
    started: float,
    failure: DeliveryFailure | None,
    reason: str | None,
    status: int | None = None,
) -> DeliveryResult:
    return DeliveryResult(
        client_id=logout.client_id, client_name=logout.client_name, uri=logout.uri,
        delivered=failure is None, failure=failure, reason=reason, status=status,
        seconds=round(time.monotonic() - started, 3),
    )  # fmt: skip


@dataclass(frozen=True)
class HttpTransport:
    """The default transport: one :mod:`http.client` connection per POST.

    ``ssl_context`` verifies HTTPS peers (default: the system's trust store with hostname
    checks); pass one with another CA for a private PKI.
    """

    ssl_context: ssl.SSLContext | None = None

    def __call__(
        self, *, url: str, body: bytes, connect_timeout: float, read_timeout: float
    ) -> int:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise _failed(DeliveryFailure.NETWORK, f"{url!r} has no valid port") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _failed(DeliveryFailure.NETWORK, "the URI is not an absolute http(s) URL")
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            context = self.ssl_context or ssl.create_default_context()
            conn = http.client.HTTPSConnection(
                parts.hostname, port, timeout=connect_timeout, context=context
            )
        else:
            conn = http.client.HTTPConnection(parts.hostname, port, timeout=connect_timeout)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            _connect(conn, connect_timeout)
            return _exchange(conn, target, body, read_timeout)
        finally:
            conn.close()


def _connect(conn: http.client.HTTPConnection, timeout: float) -> None:
    # ssl.SSLError is an OSError, and a refused connection is one too: order matters.
    try:
        conn.connect()
    except ssl.SSLError as exc:
        raise _failed(DeliveryFailure.TLS, f"TLS: {exc.reason or exc}") from None
    except ConnectionRefusedError:
        raise _failed(DeliveryFailure.REFUSED, "connection refused") from None
    except TimeoutError:
        raise _failed(DeliveryFailure.TIMEOUT, f"no connection within {timeout:g} s") from None
    except OSError as exc:
        raise _failed(DeliveryFailure.NETWORK, _os_reason(exc)) from None


def _exchange(conn: http.client.HTTPConnection, target: str, body: bytes, timeout: float) -> int:
    """Send the request and read the status, all within ``timeout`` seconds.

    The socket timeout bounds each read; the deadline bounds them together, so a client that
    answers a byte at a time cannot hold a worker longer than ``timeout``.
    """
    sock = conn.sock
    assert sock is not None
    sock.settimeout(timeout)
    deadline = _Deadline(sock, timeout)
    try:
        conn.request("POST", target, body=body, headers={
            "Content-Type": _FORM, "Accept": "*/*", "Cache-Control": "no-store",
            "User-Agent": "hideez-idp back-channel logout",
        })  # fmt: skip
        status = conn.getresponse().status
        if deadline.expired:
            # The shutdown's end-of-stream also ends http.client's header parsing without an
            # error, so a status line followed by dripping headers would pass for an answer.
            raise _failed(DeliveryFailure.TIMEOUT, f"no answer within {timeout:g} s")
        return status
    except TimeoutError:
        raise _failed(DeliveryFailure.TIMEOUT, f"no answer within {timeout:g} s") from None
    except ssl.SSLError as exc:
        raise _failed(DeliveryFailure.TLS, f"TLS: {exc.reason or exc}") from None
    except (http.client.HTTPException, OSError) as exc:
        if deadline.expired:
            raise _failed(DeliveryFailure.TIMEOUT, f"no answer within {timeout:g} s") from None
        reason = (
            f"malformed HTTP answer ({type(exc).__name__})"
            if isinstance(exc, http.client.HTTPException)
            else _os_reason(exc)
        )
        raise _failed(DeliveryFailure.NETWORK, reason) from None
    finally:
        deadline.cancel()


class _Deadline:
    """Shuts the socket down when ``seconds`` have passed, which ends a pending read."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self._sock = sock
        self._expired = threading.Event()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    @property
    def expired(self) -> bool:
        return self._expired.is_set()

    def _expire(self) -> None:
        self._expired.set()
        # An OSError here means the exchange already finished and closed the socket.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _failed(kind: DeliveryFailure, reason: str) -> BackchannelDeliveryError:
    return BackchannelDeliveryError(reason, kind=kind)


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__

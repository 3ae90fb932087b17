"""Fetching federation metadata: the one IO piece of federation support.

https only (plain http to a loopback address only), a timeout on every read, a size limit
enforced while reading (a larger body is never held whole), redirects only to allowed URLs,
and no proxy for loopback. Files are read with the same size limit.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from idp.saml.federation import MetadataFetchFailed, MetadataTooLarge, metadata_url_allowed

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    """``body`` is None when the server answered 404 (MDQ: no such entity)."""

    body: bytes | None
    status: int


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: Any, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> urllib.request.Request | None:
        if not metadata_url_allowed(newurl):
            raise MetadataFetchFailed(f"{req.full_url}: redirected to a refused URL {newurl!r}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_url(url: str, *, timeout: float, max_bytes: int, accept: str) -> Fetched:
    if not metadata_url_allowed(url):
        raise MetadataFetchFailed(f"{url}: only https (or http to a loopback address) is allowed")
    handlers: list[urllib.request.BaseHandler] = [_CheckedRedirects()]
    if urlsplit(url).scheme == "http":
        handlers.append(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"Accept": accept})  # noqa: S310 - checked
    try:
        with opener.open(request, timeout=timeout) as response:
            return Fetched(_read_limited(response, max_bytes, url), response.status)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 404:
            return Fetched(None, 404)
        raise MetadataFetchFailed(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise MetadataFetchFailed(f"{url}: {exc.reason}") from None
    except (TimeoutError, OSError) as exc:
        raise MetadataFetchFailed(f"{url}: {exc.__class__.__name__}: {exc}") from None


def read_file(path: Path, *, max_bytes: int) -> bytes:
    try:
        with path.open("rb") as handle:
            return _read_limited(handle, max_bytes, str(path))
    except OSError as exc:
        raise MetadataFetchFailed(f"{path}: cannot read: {exc.strerror}") from None


def _read_limited(stream: IO[bytes], max_bytes: int, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise MetadataTooLarge(f"{what}: larger than the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

"""Log lines an operator can search: each names the request it belongs to, and, with
``observability.log_format: json``, is one JSON object.

The shells set :data:`request_id` for each request (from a valid ``X-Request-Id`` the proxy
sent, or a new one) and answer it in the same header, so one id follows a request from the
proxy's log through the IdP's. What the IdP logs never holds secrets, tokens or whole
assertions — the code logs descriptions, ids and names only.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import secrets

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}


def request_id_from(header: str | None) -> str:
    """The id a request is logged under: the proxy's, if it is a short token; else a new one."""
    if header is not None and _VALID_ID.fullmatch(header):
        return header
    return secrets.token_hex(8)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, exception, and the
    record's ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                line[name] = value if isinstance(value, str | int | float | bool) else repr(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def configure(*, log_format: str) -> None:
    """Give the root logger's handlers the request id and the chosen format (once per process;
    a handler is added when there is none)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
        root.setLevel(logging.INFO)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        handler.setFormatter(formatter)
